"""Which queued lines the sender leases first: replies before what the bot sends of itself,
each chat's lines in order, on every backend (see tests/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from storage import Database
from tests.outbox_lines import log_outbound

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
BROADCAST = {"nudge": "broadcast"}
REMINDER = {"nudge": "reminder", "checkin_id": "weekly_checkin"}


async def _queue(database: Database, *lines: tuple[str, dict[str, Any] | None]) -> list[int]:
    """Queue one line per (chat, payload), in the order given; their ids."""
    ids = []
    async with database.transaction() as uow:
        for number, (chat, payload) in enumerate(lines):
            record = await log_outbound(
                uow,
                member_id=None,
                channel="telegram",
                address_value=chat,
                text=f"line {number}",
                payload=payload,
                at=T0,
            )
            ids.append(record.id)
    return ids


async def _claim(database: Database, limit: int, now: datetime = T0) -> list[int]:
    async with database.transaction() as uow:
        claimed = await uow.messages.claim_due(now, LEASE, limit)
    return [record.id for record in claimed]


async def _sent(database: Database, ids: list[int]) -> None:
    async with database.transaction() as uow:
        await uow.messages.mark_sent_many([(id_, f"tg:{id_}") for id_ in ids], at=T0)


async def test_replies_are_leased_before_proactive_lines_queued_earlier(
    database: Database,
) -> None:
    broadcast_a, broadcast_b, broadcast_c, reply_d, reply_e = await _queue(
        database,
        ("a", BROADCAST),
        ("b", BROADCAST),
        ("c", REMINDER),
        ("d", None),
        ("e", {"choices": ["yes", "no"]}),  # a payload without a nudge is still a reply
    )
    assert await _claim(database, 2) == [reply_d, reply_e]
    assert await _claim(database, 2) == [broadcast_a, broadcast_b]
    assert await _claim(database, 2) == [broadcast_c]


async def test_the_lines_come_back_replies_first_each_oldest_first(database: Database) -> None:
    broadcast_a, reply_b, reminder_c, reply_d = await _queue(
        database, ("a", BROADCAST), ("b", None), ("c", REMINDER), ("d", None)
    )
    # the sender starts its chats in this order, so replies book the limiter's slots first
    assert await _claim(database, 10) == [reply_b, reply_d, broadcast_a, reminder_c]


async def test_a_proactive_line_ahead_of_a_reply_in_its_chat_goes_first_with_it(
    database: Database,
) -> None:
    broadcast_a, broadcast_b, reply_d, reply_b = await _queue(
        database, ("a", BROADCAST), ("b", BROADCAST), ("d", None), ("b", None)
    )
    # b's broadcast line holds b's reply, so it is leased with the replies, before it
    assert await _claim(database, 2) == [broadcast_b, reply_d]
    # b's reply waits while b's broadcast line is out
    assert await _claim(database, 2) == [broadcast_a]
    await _sent(database, [broadcast_b, reply_d, broadcast_a])
    assert await _claim(database, 2) == [reply_b]


async def test_nothing_of_a_chat_is_leased_behind_its_leased_line(database: Database) -> None:
    first_a, reply_b = await _queue(database, ("a", BROADCAST), ("b", None))
    assert await _claim(database, 1) == [reply_b]
    assert await _claim(database, 1) == [first_a]
    await _sent(database, [reply_b])
    second_a, third_a, reply_c = await _queue(database, ("a", None), ("a", None), ("c", None))
    # a's first line is still leased: its replies wait however urgent they are
    assert await _claim(database, 10) == [reply_c]
    await _sent(database, [reply_c])
    after_the_lease = T0 + LEASE + timedelta(seconds=1)
    assert await _claim(database, 10, after_the_lease) == [first_a, second_a, third_a]
