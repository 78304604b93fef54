"""Webhooks for Telegram and Twilio, and Twilio's status callbacks.

A channel's module (and its client library) is imported by its routes, once the channel is
known to be configured: a web process without Telegram never loads python-telegram-bot.

A webhook verifies the request (Telegram's secret token, Twilio's signature against PUBLIC_URL),
parses it into events with the channel's own parser, stores them in the inbox and only then
answers 2xx: the work happens after the acknowledgement, in the workers, so providers get their
answer in milliseconds. A malformed body is refused with 400 and nothing is stored; a forged one
with 403; a body over `WEBHOOK_BODY_MAX` with 413, before it is read whole (and a request
without a secret or a signature before its body is read at all); when the database cannot be
reached the answer is 503 (see `bot.web.app`), so the provider delivers again later.

Events are held to storage's bounds (`bot.channels.bounds`) before they are stored: a request
the database would refuse is refused alone with 400, never with the requests stored beside it.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from bot.channels.base import InboundEvent
from bot.channels.bounds import bounded_events, bounded_status
from bot.pipeline import statuses
from bot.runtime import Runtime
from bot.web.bodies import BodyTooLarge, read_body
from storage.errors import refused_values

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
            body = json.loads(await read_body(request))
            if not isinstance(body, dict):
                raise TelegramPayloadError("an update must be a JSON object")
            if "bot_username" not in state:
                state["bot_username"] = await telegram.bot_username()
            events = bounded_events(parse_update(body, state["bot_username"]))
        except BodyTooLarge as error:
            log.warning("refused a Telegram update too large: %s", error)
            return JSONResponse({"error": "request too large"}, status_code=413)
        except RecursionError:  # nested deeper than a parser goes: no update is
            log.warning("refused a Telegram update nested too deep")
            return JSONResponse({"error": "malformed update: nested too deep"}, status_code=400)
        except (ValueError, UnicodeDecodeError) as error:
            log.warning("refused a malformed Telegram update: %s", error)
            return JSONResponse({"error": f"malformed update: {error}"}, status_code=400)
        if not events:
            log.info("Telegram update %s ignored (nothing for us in it)", body.get("update_id"))
        return await _store(events, JSONResponse({"ok": True}))

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
        from bot.channels.twilio import verify_signature

        signature = request.headers.get("X-Twilio-Signature")
        if not signature:  # refused before its body is read
            log.warning("refused a Twilio request without a signature from %s", _client(request))
            return JSONResponse({"error": "forbidden"}, status_code=403)
        try:
            form = dict(
                parse_qsl((await read_body(request)).decode("utf-8"), keep_blank_values=True)
            )
        except BodyTooLarge as error:
            log.warning("refused a Twilio request too large: %s", error)
            return JSONResponse({"error": "request too large"}, status_code=413)
        except (UnicodeDecodeError, ValueError):
            return JSONResponse({"error": "malformed form body"}, status_code=400)
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
        except ValueError as error:  # a TwilioPayloadError, or out of bounds
            log.warning("refused a malformed Twilio request: %s", error)
            return JSONResponse({"error": f"malformed request: {error}"}, status_code=400)

    async def _inbound(form: dict[str, str]) -> Response:
        from bot.channels.twilio import parse_inbound

        events = bounded_events([parse_inbound(form)])
        return await _store(events, Response(EMPTY_TWIML, media_type="text/xml"))

    async def _store(events: list[InboundEvent], answer: Response) -> Response:
        """Store the events, then `answer` and wake the workers; 400 when the database refuses
        this request's own values (its neighbours in the statement are stored all the same)."""
        try:
            stored = await runtime.inbox.store(events, runtime.clock())
        except Exception as error:
            if not refused_values(error):
                raise  # an outage: 503 (see `bot.web.app`), the provider delivers again
            log.warning("the database refused a request's events (%s)", type(error).__name__)
            return JSONResponse({"error": "refused by storage"}, status_code=400)
        answer.background = _wake(stored)
        return answer

    def _wake(stored: list[int]) -> BackgroundTask:
        """Workers are woken once the answer is sent: the provider waits for the store only."""
        return BackgroundTask(runtime.inbox.wake, stored)

    async def _status(form: dict[str, str]) -> Response:
        from bot.channels.twilio import parse_status

        update = bounded_status(parse_status(form))
        async with runtime.database.transaction() as uow:
            await statuses.receive(uow, update, runtime.clock())
        return Response(status_code=204)

    # Webhooks are plain Starlette routes: they read the request themselves, and FastAPI's
    # parameter handling would cost every delivery more CPU than storing its event does.
    app.add_route("/webhooks/telegram", telegram_webhook, methods=["POST"])
    app.add_route("/webhooks/twilio", twilio_webhook, methods=["POST"])
    app.add_route("/webhooks/twilio/status", twilio_status, methods=["POST"])


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
