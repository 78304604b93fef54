"""A broadcast's progress is read from counts kept in step by triggers (revision 0019): after
every kind of write to its recipients and their lines, on every backend, they equal a count of
the rows themselves, and compacting them changes nothing they say."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import case, func, select

from bot.broadcasts import running
from bot.broadcasts.running import DELIVERY, compact_counts, run_broadcast, start_due
from storage import Database
from storage.models import (
    BroadcastLineCount,
    BroadcastRecipient,
    BroadcastRecipientCount,
    Message,
)
from storage.repositories.broadcasts import BroadcastProgress
from tests.broadcasts import seed
from tests.broadcasts.seed import MORNING, NIGHT, NOON
from tests.broadcasts.test_broadcasts import at, make_broadcast
from tests.conftest import BACKENDS

LONG_TEXT = (
    "Market day moves to Thursday this week, because the county is repairing the road to the "
    "market on Wednesday. Bring your price lists, your scales and a friend who has not joined "
    "the program yet."
)
"""Longer than one SMS: an SMS recipient gets two lines and points at the first."""


@dataclass(frozen=True)
class Recount:
    """What `progress` says, counted from the recipients and their first lines themselves."""

    recipients: dict[str, int]
    skipped: dict[str, int]
    messages: dict[str, int]
    messages_by_channel: dict[str, dict[str, int]]
    deferred: int
    deferred_until: datetime | None


async def recount(database: Database, broadcast_id: int, now: datetime) -> Recount:
    recipient = BroadcastRecipient
    async with database.read() as uow:
        session = uow.session
        by_status = (
            await session.execute(
                select(recipient.status, recipient.reason, func.count())
                .where(recipient.broadcast_id == broadcast_id)
                .group_by(recipient.status, recipient.reason)
            )
        ).all()
        lines = (
            await session.execute(
                select(Message.channel, Message.status, func.count())
                .join(recipient, recipient.message_id == Message.id)
                .where(recipient.broadcast_id == broadcast_id)
                .group_by(Message.channel, Message.status)
            )
        ).all()
        deferred, until = (
            await session.execute(
                select(func.count(), func.max(Message.next_attempt_at))
                .join(recipient, recipient.message_id == Message.id)
                .where(
                    recipient.broadcast_id == broadcast_id,
                    Message.status == "queued",
                    Message.next_attempt_at > now,
                )
            )
        ).one()
    recipients: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for status, reason, count in by_status:
        recipients[status] = recipients.get(status, 0) + count
        if status == "skipped":
            skipped[reason or "other"] = skipped.get(reason or "other", 0) + count
    messages: dict[str, int] = {}
    by_channel: dict[str, dict[str, int]] = {}
    for channel, status, count in lines:
        messages[status] = messages.get(status, 0) + count
        by_channel.setdefault(channel, {})[status] = count
    if until is not None and until.tzinfo is None:  # SQLite's max() of a text column
        until = datetime.fromisoformat(str(until)).replace(tzinfo=now.tzinfo)
    return Recount(recipients, skipped, messages, by_channel, int(deferred), until)


def shown(progress: BroadcastProgress) -> Recount:
    return Recount(
        progress.recipients,
        progress.skipped,
        progress.messages,
        progress.messages_by_channel,
        progress.deferred,
        progress.deferred_until,
    )


async def counted(database: Database, broadcast_id: int, now: datetime) -> Recount:
    """The progress counts, checked against a recount, and again after compacting them into
    one row per key."""
    async with database.read() as uow:
        progress = await uow.broadcasts.progress(broadcast_id, now)
    expected = await recount(database, broadcast_id, now)
    assert shown(progress) == expected
    async with database.transaction() as uow:
        assert await uow.broadcasts.compact_counts(broadcast_id)
    async with database.read() as uow:
        assert shown(await uow.broadcasts.progress(broadcast_id, now)) == expected
    assert await count_rows(database, broadcast_id) == await distinct_keys(database, broadcast_id)
    return expected


async def distinct_keys(database: Database, broadcast_id: int) -> int:
    """How many (status, reason) the recipients have, and (channel, status, due time) their
    first lines: the rows compacted counts have."""
    recipient = BroadcastRecipient
    due = case((Message.status == "queued", Message.next_attempt_at))
    async with database.read() as uow:
        statuses = await uow.session.execute(
            select(recipient.status, recipient.reason)
            .where(recipient.broadcast_id == broadcast_id)
            .distinct()
        )
        lines = await uow.session.execute(
            select(Message.channel, Message.status, due)
            .join(recipient, recipient.message_id == Message.id)
            .where(recipient.broadcast_id == broadcast_id)
            .distinct()
        )
        return len(statuses.all()) + len(lines.all())


async def count_rows(database: Database, broadcast_id: int) -> int:
    async with database.read() as uow:
        total = 0
        for table in (BroadcastRecipientCount, BroadcastLineCount):
            total += int(
                await uow.session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(table.broadcast_id == broadcast_id)
                )
                or 0
            )
        return total


async def lines_of(database: Database, broadcast_id: int) -> dict[int, Message]:
    """The broadcast's first lines by member."""
    async with database.read() as uow:
        rows = await uow.session.execute(
            select(BroadcastRecipient.member_id, Message)
            .join(Message, Message.id == BroadcastRecipient.message_id)
            .where(BroadcastRecipient.broadcast_id == broadcast_id)
        )
        return {member_id: line for member_id, line in rows}


async def test_counts_equal_a_recount_through_sends_failures_a_resume_and_erasure(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        telegram = [
            await seed.member(uow, ("telegram", str(7100 + n)), kibera.id) for n in range(4)
        ]
        whatsapp = [
            await seed.member(uow, ("whatsapp", f"+25470007{n:04d}"), kibera.id) for n in range(3)
        ]
        sms = await seed.member(uow, ("sms", "+254700079001"), kibera.id)
        await seed.member(uow, ("telegram", "7190"), kibera.id, opted_out=True)
        await seed.member(uow, ("sms", "+254700079002"), kibera.id, consent=None)
        await seed.member(uow, ("telegram", "7191"), kibera.id, blocked=True)
        blocked_later = await seed.member(uow, ("whatsapp", "+254700079003"), kibera.id)
    broadcast_id = await make_broadcast(database, kibera.id, texts={"en": LONG_TEXT})
    assert await counted(database, broadcast_id, NIGHT) == Recount({}, {}, {}, {}, 0, None)

    # planned at night, a member blocks the bot, then a first run dies after one batch: its
    # lines wait for the morning
    async with database.transaction() as uow:
        assert await uow.broadcasts.plan(broadcast_id, NIGHT) == 12
    planned = await counted(database, broadcast_id, NIGHT)
    assert planned.recipients == {"planned": 9, "skipped": 3}
    assert planned.skipped == {"opted_out": 1, "no_consent": 1, "unreachable": 1}
    async with database.transaction() as uow:
        await uow.members.set_blocked("whatsapp", "+254700079003", True, at=NIGHT)
        assert await uow.broadcasts.enqueue_batch(broadcast_id, 4, NIGHT, DELIVERY) == 4
    half_way = await counted(database, broadcast_id, NIGHT)
    assert sum(half_way.recipients.values()) == 12 and half_way.recipients["planned"] == 5
    assert (half_way.deferred, half_way.deferred_until) == (
        half_way.recipients["queued"],
        MORNING,
    )

    # the resume queues the rest in the morning
    totals = await run_broadcast(database, broadcast_id, at(MORNING), batch=2)
    assert (totals.queued, totals.status) == (8, "done")
    resumed = await counted(database, broadcast_id, MORNING)
    assert resumed.recipients == {"queued": 8, "skipped": 4}
    assert resumed.messages == {"queued": 8}  # 9 lines: the SMS recipient points at its first
    assert resumed.deferred == 0  # due now: those of the night wait until this very moment
    assert (await counted(database, broadcast_id, NIGHT)).deferred == half_way.deferred

    lines = await lines_of(database, broadcast_id)
    assert blocked_later not in lines
    first, second, third, fourth = (lines[member].id for member in telegram)
    delivered, read, undelivered = (lines[member].id for member in whatsapp)
    later = MORNING + timedelta(minutes=1)
    async with database.transaction() as uow:  # the sender records a batch, then callbacks
        await uow.messages.mark_sent_many(
            [(first, "tg-1"), (second, "tg-2"), (delivered, "SM1"), (read, "SM2")], at=later
        )
        await uow.messages.set_status(delivered, "delivered", at=later)
    await counted(database, broadcast_id, later)
    async with database.transaction() as uow:
        await uow.messages.set_status(read, "read", at=later)  # read before delivered: kept
        await uow.messages.set_status(read, "delivered", at=later)
        await uow.messages.mark_failed(third, "400", at=later)
        retry_at = later + timedelta(minutes=5)
        await uow.messages.retry_later(
            undelivered, next_attempt_at=retry_at, error_code="63018", at=later
        )
    retried = await counted(database, broadcast_id, later)
    assert (retried.deferred, retried.deferred_until) == (1, retry_at)
    assert retried.messages_by_channel["whatsapp"] == {"delivered": 1, "read": 1, "queued": 1}
    async with database.transaction() as uow:
        await uow.messages.set_status(undelivered, "sent", at=retry_at)
        await uow.messages.set_status(undelivered, "undelivered", at=retry_at, error_code="30008")
        await uow.members.update(telegram[3], at=retry_at, opted_out=True)  # STOP: cancels
    stopped = await counted(database, broadcast_id, retry_at)
    assert stopped.messages == {"sent": 2, "delivered": 1, "read": 1, "failed": 2, "undelivered": 1,
                                "queued": 1}  # fmt: skip
    async with database.read() as uow:
        cancelled = await uow.session.get(Message, fourth)
    assert cancelled is not None and (cancelled.status, cancelled.error_code) == (
        "failed",
        "opted_out",
    )

    # the member on SMS is erased: their line goes, the recipient stays without it
    async with database.transaction() as uow:
        await uow.member_data.erase(sms, at=retry_at)
    erased = await counted(database, broadcast_id, retry_at)
    assert "sms" not in erased.messages_by_channel
    assert erased.recipients == {"queued": 8, "skipped": 4}


async def test_counts_stay_exact_when_cancelling_and_when_runs_and_senders_overlap(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        for n in range(30):
            channel = ("telegram", str(7500 + n)) if n % 2 else ("whatsapp", f"+2547005{n:05d}")
            await seed.member(uow, channel, kibera.id)
    cancelled = await make_broadcast(database, kibera.id)
    async with database.transaction() as uow:
        await uow.broadcasts.plan(cancelled, NOON)
        await uow.broadcasts.enqueue_batch(cancelled, 10, NOON, DELIVERY)
    async with database.transaction() as uow:
        await uow.broadcasts.cancel(cancelled, NOON)
    assert (await counted(database, cancelled, NOON)).messages == {"failed": 10}

    broadcast_id = await make_broadcast(database, kibera.id)
    await asyncio.gather(
        run_broadcast(database, broadcast_id, at(NOON), batch=4),
        run_broadcast(database, broadcast_id, at(NOON), batch=7),
    )
    ids = sorted(line.id for line in (await lines_of(database, broadcast_id)).values())

    async def send(batch: list[int]) -> None:
        async with database.transaction() as uow:
            await uow.messages.mark_sent_many([(i, f"p{i}") for i in batch], at=NOON)
        async with database.transaction() as uow:
            for i in batch[::2]:
                await uow.messages.set_status(i, "delivered", at=NOON)

    async def compact() -> None:
        for _ in range(3):
            async with database.transaction() as uow:
                await uow.broadcasts.compact_counts(broadcast_id)
            await asyncio.sleep(0)

    # three senders in reverse and mixed orders, and compacting between their commits
    await asyncio.gather(send(ids[:10]), send(ids[10:20][::-1]), send(ids[20:]), compact())
    final = await counted(database, broadcast_id, NOON)
    assert sum(final.messages.values()) == 30
    assert final.messages == {"sent": 15, "delivered": 15}


async def test_the_clock_compacts_broadcasts_with_many_count_rows(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database.transaction() as uow:
        kibera = await seed.group(uow)
        for n in range(12):
            await seed.member(uow, ("telegram", str(7700 + n)), kibera.id)
    broadcast_id = await make_broadcast(database, kibera.id)
    await run_broadcast(database, broadcast_id, at(NOON))
    lines = await lines_of(database, broadcast_id)
    for line in lines.values():  # one transaction per send: rows pile up between sweeps
        async with database.transaction() as uow:
            await uow.messages.mark_sent(line.id, f"tg-{line.id}", at=NOON)
    piled = await count_rows(database, broadcast_id)
    assert piled >= 2 * len(lines)
    assert await compact_counts(database, more_than=piled) == 0  # few enough: left alone
    assert await count_rows(database, broadcast_id) == piled

    monkeypatch.setattr(running, "COMPACT_MORE_THAN", piled - 1)
    assert await start_due(database, NOON + timedelta(minutes=1)) == 0
    assert await count_rows(database, broadcast_id) == 2  # telegram sent; 12 queued recipients
    assert (await counted(database, broadcast_id, NOON)).messages == {"sent": 12}


if "postgresql" in BACKENDS:

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    async def test_one_transaction_at_a_time_compacts_a_broadcast(database: Database) -> None:
        async with database.transaction() as uow:
            kibera = await seed.group(uow)
            await seed.member(uow, ("telegram", "7800"), kibera.id)
        broadcast_id = await make_broadcast(database, kibera.id)
        await run_broadcast(database, broadcast_id, at(NOON))
        async with database.transaction() as first:
            assert await first.broadcasts.compact_counts(broadcast_id)
            async with database.transaction() as second:
                assert not await second.broadcasts.compact_counts(broadcast_id)
                assert await second.broadcasts.compact_counts(broadcast_id + 1)
        async with database.transaction() as uow:
            assert await uow.broadcasts.compact_counts(broadcast_id)
