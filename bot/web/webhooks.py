"""Webhooks for Telegram and Twilio, and Twilio's status callbacks.

A channel's module (and its client library) is imported by its routes, once the channel is
known to be configured: a web process without Telegram never loads python-telegram-bot.

A webhook verifies the request (Telegram's secret token, Twilio's signature against PUBLIC_URL),
parses it into events with the channel's own parser, stores them in the inbox and only then
answers 2xx: the work happens after the acknowledgement, in the workers, so providers get their
answer in milliseconds. A malformed body is refused with 400 and nothing is stored; a forged one
with 403; when the database cannot be reached the answer is 503 (see `bot.web.app`), so the
provider delivers again later.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from bot.runtime import Runtime
from storage.vocabulary import MessageStatus

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def add_webhook_routes(app: FastAPI, runtime: Runtime) -> None:
    settings = runtime.settings
    state: dict[str, Any] = {}

    async def telegram_webhook(request: Request) -> Response:
        telegram = runtime.telegram
        if telegram is None or not settings.telegram_webhook_secret:
            return JSONResponse({"error": "Telegram webhooks are not configured"}, status_code=404)
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(secret, settings.telegram_webhook_secret):
            log.warning("refused a Telegram webhook with a wrong secret from %s", _client(request))
            return JSONResponse({"error": "forbidden"}, status_code=403)
        # configured, so the adapter (and python-telegram-bot with it) is loaded already
        from bot.channels.telegram import TelegramPayloadError, parse_update

        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict):
                raise TelegramPayloadError("an update must be a JSON object")
            if "bot_username" not in state:
                state["bot_username"] = await telegram.bot_username()
            events = parse_update(body, state["bot_username"])
        except (ValueError, UnicodeDecodeError) as error:
            log.warning("refused a malformed Telegram update: %s", error)
            return JSONResponse({"error": f"malformed update: {error}"}, status_code=400)
        if not events:
            log.info("Telegram update %s ignored (nothing for us in it)", body.get("update_id"))
        stored = await runtime.inbox.store(events, runtime.clock())
        return JSONResponse({"ok": True}, background=_wake(stored))

    async def twilio_webhook(request: Request) -> Response:
        return await _twilio(request, _inbound)

    async def twilio_status(request: Request) -> Response:
        return await _twilio(request, _status)

    async def _twilio(
        request: Request, work: Callable[[dict[str, str]], Awaitable[Response]]
    ) -> Response:
        if not settings.twilio_enabled or not settings.public_url:
            return JSONResponse({"error": "Twilio is not configured"}, status_code=404)
        assert settings.twilio_auth_token is not None
        # configured, so the adapters (and twilio-python with them) are loaded already
        from bot.channels.twilio import TwilioPayloadError, verify_signature

        try:
            form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return JSONResponse({"error": "malformed form body"}, status_code=400)
        signature = request.headers.get("X-Twilio-Signature")
        if not verify_signature(
            settings.twilio_auth_token,
            settings.public_url,
            request.url.path,
            request.url.query,
            form,
            signature,
        ):
            log.warning("refused a Twilio request with a bad signature from %s", _client(request))
            return JSONResponse({"error": "forbidden"}, status_code=403)
        try:
            return await work(form)
        except TwilioPayloadError as error:
            log.warning("refused a malformed Twilio request: %s", error)
            return JSONResponse({"error": f"malformed request: {error}"}, status_code=400)

    async def _inbound(form: dict[str, str]) -> Response:
        from bot.channels.twilio import parse_inbound

        event = parse_inbound(form)
        stored = await runtime.inbox.store([event], runtime.clock())
        return Response(EMPTY_TWIML, media_type="text/xml", background=_wake(stored))

    def _wake(stored: list[int]) -> BackgroundTask:
        """Workers are woken once the answer is sent: the provider waits for the store only."""
        return BackgroundTask(runtime.inbox.wake, stored)

    async def _status(form: dict[str, str]) -> Response:
        from bot.channels.twilio import parse_status

        update = parse_status(form)
        now = runtime.clock()
        async with runtime.database.transaction() as uow:
            message = await uow.messages.by_provider_id(update.channel, update.provider_id)
            if message is None:
                log.info("status %s for unknown message %s", update.status, update.provider_id)
                return Response(status_code=204)
            status = cast(MessageStatus, update.status)
            await uow.messages.set_status(message.id, status, at=now, error_code=update.error_code)
            if update.opted_out:
                await uow.members.set_blocked(message.channel, message.address_value, True, at=now)
                if message.member_id is not None:
                    await uow.members.update(message.member_id, at=now, opted_out=True)
        return Response(status_code=204)

    # Webhooks are plain Starlette routes: they read the request themselves, and FastAPI's
    # parameter handling would cost every delivery more CPU than storing its event does.
    app.add_route("/webhooks/telegram", telegram_webhook, methods=["POST"])
    app.add_route("/webhooks/twilio", twilio_webhook, methods=["POST"])
    app.add_route("/webhooks/twilio/status", twilio_status, methods=["POST"])


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
