"""Logs never hold a full phone number or a member's words: not in a refused statement's
error (its parameters are hidden), not in a lock's name while Redis is away. On every backend
where storage is involved."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from bot.channels.phones import masked
from bot.pipeline.coordination.factory import redis_client
from bot.pipeline.coordination.redis_locks import RedisLocks
from bot.pipeline.coordination.redis_support import CoordinationUnavailable
from storage import Database
from tests.pipeline.redis_server import free_port

PHONE = "+254712345678"
WORDS = "my secret sales figure is 4500"
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_masked_keeps_the_last_four_digits_of_every_long_number() -> None:
    assert masked(f"member:whatsapp:{PHONE}") == "member:whatsapp:+********5678"
    assert masked("member:telegram:5123456789, member:sms:+15551234567") == (
        "member:telegram:******6789, member:sms:+*******4567"
    )
    assert masked("inbox entry 1234 of member:console:ana") == (
        "inbox entry 1234 of member:console:ana"
    )


async def test_a_refused_statements_error_holds_no_parameters(database: Database) -> None:
    with pytest.raises(Exception) as refused:
        async with database.transaction() as uow:
            await uow.inbox.add_keyed(
                [
                    {
                        "channel": "carrier-pigeon",  # outside the CHECK constraint
                        "provider_id": "SMx",
                        "address": PHONE,
                        "event": {"type": "message", "text": WORDS},
                        "received_at": T0,
                    }
                ]
            )
    text = str(refused.value)
    assert "INSERT INTO inbox" in text  # the statement is still there for an operator
    assert PHONE not in text and WORDS not in text


async def test_a_lock_waiting_for_redis_is_logged_without_the_phone_number(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.pipeline.coordination")
    client = redis_client(f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
    try:
        locks = RedisLocks(client, "privacy:", ttl=0.3, unavailable_after=0.2)
        with pytest.raises(CoordinationUnavailable) as unavailable:
            async with locks.hold(f"member:whatsapp:{PHONE}"):
                pytest.fail("took a lock without Redis")
    finally:
        await client.aclose()
    assert "lock:member:whatsapp:+********5678" in caplog.text
    assert PHONE[1:] not in caplog.text + str(unavailable.value)
