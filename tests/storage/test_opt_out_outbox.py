"""Opting out stops the member's queued proactive lines at once, on every backend: in the
opt-out's own transaction, and again at claim time for a line queued just after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from storage import Database
from tests.outbox_lines import log_outbound

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
BROADCAST = {"nudge": "broadcast"}
REMINDER = {"nudge": "reminder", "checkin_id": "weekly_checkin"}


async def _member(database: Database, chat: str) -> int:
    async with database.transaction() as uow:
        member = await uow.members.create("telegram", chat, "en", None, at=T0)
    return member.id


async def _queue(database: Database, member_id: int, chat: str, payload: Any) -> int:
    async with database.transaction() as uow:
        record = await log_outbound(
            uow,
            member_id=member_id,
            channel="telegram",
            address_value=chat,
            text="a line",
            payload=payload,
            at=T0,
        )
    return record.id


async def _states(database: Database, member_id: int) -> dict[int, tuple[str, str | None]]:
    async with database.transaction() as uow:
        log = await uow.messages.for_member(member_id)
    return {message.id: (message.status, message.error_code) for message in log}


async def test_opting_out_cancels_the_members_queued_proactive_lines_only(
    database: Database,
) -> None:
    stopping, staying = await _member(database, "1"), await _member(database, "2")
    broadcast = await _queue(database, stopping, "1", BROADCAST)
    reminder = await _queue(database, stopping, "1", REMINDER)
    reply = await _queue(database, stopping, "1", None)  # the answer to the STOP still goes
    other = await _queue(database, staying, "2", BROADCAST)

    async with database.transaction() as uow:
        await uow.members.update(stopping, at=T0, opted_out=True)

    assert await _states(database, stopping) == {
        broadcast: ("failed", "opted_out"),
        reminder: ("failed", "opted_out"),
        reply: ("queued", None),
    }
    assert await _states(database, staying) == {other: ("queued", None)}


async def test_a_leased_proactive_line_is_cancelled_too_and_its_late_receipt_changes_nothing(
    database: Database,
) -> None:
    member = await _member(database, "1")
    broadcast = await _queue(database, member, "1", BROADCAST)
    async with database.transaction() as uow:
        [leased] = await uow.messages.claim_due(T0, LEASE, 10)
    assert leased.id == broadcast
    async with database.transaction() as uow:
        await uow.members.update(member, at=T0, opted_out=True)
        await uow.messages.mark_sent(broadcast, "tg:1", at=T0)  # a send already on its way
    assert await _states(database, member) == {broadcast: ("failed", "opted_out")}


async def test_a_proactive_line_queued_after_the_opt_out_is_never_claimed(
    database: Database,
) -> None:
    member, other_member = await _member(database, "1"), await _member(database, "2")
    async with database.transaction() as uow:
        await uow.members.update(member, at=T0, opted_out=True)
    # a broadcast planned from a roster read before the STOP, queued after it
    late = await _queue(database, member, "1", BROADCAST)
    reply = await _queue(database, member, "1", None)
    other = await _queue(database, other_member, "2", BROADCAST)

    async with database.transaction() as uow:
        claimed = await uow.messages.claim_due(T0, LEASE, 10)
        cancelled = await uow.messages.cancel_claimed_to_opted_out(
            [record.id for record in claimed], T0
        )

    assert [record.id for record in claimed] == [late, reply, other]
    assert cancelled == {late}  # the reply to the member and the other member's line stay
    assert (await _states(database, member))[late] == ("failed", "opted_out")
    assert (await _states(database, member))[reply] == ("queued", None)


async def test_opting_back_in_cancels_nothing(database: Database) -> None:
    member = await _member(database, "1")
    async with database.transaction() as uow:
        await uow.members.update(member, at=T0, opted_out=True)
    line = await _queue(database, member, "1", BROADCAST)
    async with database.transaction() as uow:
        await uow.members.update(member, at=T0, opted_out=False)
        assert await uow.messages.cancel_claimed_to_opted_out([line], T0) == set()
    assert await _states(database, member) == {line: ("queued", None)}
