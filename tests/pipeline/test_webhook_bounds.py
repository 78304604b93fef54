"""Webhooks hold what they store to storage's bounds: a bad request is refused alone, its
neighbours in the same grouped INSERT are stored; deep JSON, huge bodies and impossible ids
are refused before they cost anything. On SQLite, and on PostgreSQL when TEST_DATABASE_URL is
set (where a too-long id or a NUL would make the database refuse the whole statement)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

from sqlalchemy import select

from storage import Database
from storage.models import InboxEntry
from tests.fakes.twilio_api import signed_request_headers
from tests.pipeline.test_pipeline import (
    PUBLIC,
    Stack,
    inbox_size,
    stack,
    text_update,
    twilio_form,
)

__all__ = ["stack"]  # the fixture, for pytest

AUTH = "twilio-auth-token"


def inbound(number: int, **changes: str) -> dict[str, str]:
    sid = f"SM{number:032d}"
    form = dict(twilio_form("whatsapp_inbound_text"), MessageSid=sid, SmsMessageSid=sid)
    return {**form, **changes}


async def stored_events(stack: Stack) -> list[dict[str, object]]:
    async with stack.runtime.database.read() as uow:
        rows = await uow.session.execute(select(InboxEntry.event).order_by(InboxEntry.id))
        return [event for (event,) in rows]


async def test_one_bad_request_among_many_is_refused_alone(stack: Stack) -> None:
    for round_ in range(3):
        valid = [inbound(round_ * 100 + n, Body=f"hello {n}") for n in range(20)]
        bad = [
            inbound(round_ * 100 + 99, MessageSid="SM" + "9" * 127),  # over 128 characters
            inbound(round_ * 100 + 98, MessageSid="SM\x00" + "8" * 30),  # a NUL
        ][round_ % 2]
        forms = [*valid[:10], bad, *valid[10:]]
        answers = await asyncio.gather(
            *(stack.twilio_post("/webhooks/twilio", form) for form in forms)
        )
        codes = [answer.status_code for answer in answers]
        assert codes == [200] * 10 + [400] + [200] * 10, codes
    assert await inbox_size(stack.runtime.database) == 60


async def test_an_impossible_telegram_chat_id_is_refused(stack: Stack) -> None:
    assert (await stack.telegram_post(text_update(10, "hi", chat=10**30))).status_code == 400
    huge_update = text_update(10**200, "hi")  # its provider id would be 203 characters
    assert (await stack.telegram_post(huge_update)).status_code == 400
    assert await inbox_size(stack.runtime.database) == 0


async def test_deeply_nested_json_is_a_400_not_a_500(stack: Stack) -> None:
    for depth in (900, 1_000, 8_000):
        body = ("[" * depth + "]" * depth).encode()
        assert (await stack.telegram_post(body)).status_code == 400
        nested = '{"update_id": 1, "message": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
        assert (await stack.telegram_post(nested.encode())).status_code == 400
    assert await inbox_size(stack.runtime.database) == 0


async def test_text_is_stored_within_the_channels_limits_and_without_nul(stack: Stack) -> None:
    assert (await stack.telegram_post(text_update(11, "a\x00b" + "x" * 5000))).status_code == 200
    sms = dict(twilio_form("sms_inbound_stop"), Body="y" * 2000)
    assert (await stack.twilio_post("/webhooks/twilio", sms)).status_code == 200
    texts = [str(event["text"]) for event in await stored_events(stack)]
    assert texts == ["ab" + "x" * 4094, "y" * 1600]


async def test_a_status_callback_the_columns_cannot_hold_is_refused(stack: Stack) -> None:
    status = dict(twilio_form("status_delivered"), ErrorCode="3" * 33)
    assert (await stack.twilio_post("/webhooks/twilio/status", status)).status_code == 400
    status = dict(twilio_form("status_delivered"), MessageSid="SM\x00abc")
    assert (await stack.twilio_post("/webhooks/twilio/status", status)).status_code == 400


async def test_bodies_over_the_bound_are_refused_before_they_are_read_whole(
    stack: Stack,
) -> None:
    chunk = b"x" * 65_536
    read: list[int] = []

    async def ten_megabytes() -> AsyncIterator[bytes]:
        for _ in range(160):
            read.append(len(chunk))
            yield chunk

    secret = {"X-Telegram-Bot-Api-Secret-Token": "webhook-secret"}
    answer = await stack.client.post("/webhooks/telegram", content=ten_megabytes(), headers=secret)
    assert answer.status_code == 413
    assert sum(read) <= 2 * len(chunk)  # the rest of the 10 MB was never taken in

    form = inbound(1, Body="z" * 100_000)
    headers = signed_request_headers(AUTH, PUBLIC + "/webhooks/twilio", form)
    answer = await stack.client.post(
        "/webhooks/twilio",
        content=urlencode(form),
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413

    read.clear()
    unsigned = await stack.client.post("/webhooks/twilio", content=ten_megabytes())
    assert unsigned.status_code == 403
    assert sum(read) <= len(chunk)
    assert await inbox_size(stack.runtime.database) == 0
    assert json.loads(answer.text) == {"error": "request too large"}


async def test_long_polling_stores_updates_within_the_same_bounds(database_url: str) -> None:
    """`mutuality run` without a webhook polls Telegram: a valid update is stored, one with an
    impossible chat id is skipped, and neither stops the polling."""
    from bot.runtime import Runtime
    from bot.settings import Settings
    from tests.fakes.telegram_api import FakeTelegram

    async with FakeTelegram(token="123456:POLL-bounds") as telegram:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            DATABASE_URL=database_url,
            TELEGRAM_BOT_TOKEN="123456:POLL-bounds",
            TELEGRAM_API_URL=telegram.url,
        )
        telegram.push_update(text_update(1, "too far", chat=10**30))
        telegram.push_update(text_update(2, "hi"))
        async with Runtime.open(settings) as runtime:
            stop = asyncio.Event()
            polling = asyncio.create_task(runtime.poll_telegram(stop))
            try:
                async with asyncio.timeout(20):
                    while await inbox_size(runtime.database) < 1 or telegram.pending_updates:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
            finally:
                stop.set()
                await polling
            assert await inbox_size(runtime.database) == 1
            [event] = await stored_events_of(runtime.database)
            assert event["text"] == "hi"


async def stored_events_of(database: Database) -> list[dict[str, object]]:
    async with database.read() as uow:
        rows = await uow.session.execute(select(InboxEntry.event).order_by(InboxEntry.id))
        return [event for (event,) in rows]
