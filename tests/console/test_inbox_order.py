"""The inbox's order and pages: whichever way it is read (a coordinator's groups member by
member, or everyone's newest lines a window at a time), it is every member with a line, the
most recent first, filtered as asked, and pages neither skip nor repeat anyone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage import Database
from storage.repositories import conversations
from storage.repositories.conversations import InboxFilters

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
# (member index, text): the log in the order it is stored; member 5 never writes.
LOG = [(0, "a"), (1, "b"), (2, "c"), (0, "d"), (3, "e"), (4, "f"), (1, "g"), (3, "h"),
       (0, "i"), (2, "j"), (6, "k"), (6, "l"), (6, "m"), (6, "n")]  # fmt: skip
NEWEST_FIRST = [6, 2, 0, 3, 1, 4]


async def _program(database: Database) -> tuple[list[int], list[int]]:
    async with database.transaction() as uow:
        first = await uow.groups.create("First", "Africa/Nairobi", "en", "KES", at=NOW)
        second = await uow.groups.create("Second", "Africa/Nairobi", "en", "KES", at=NOW)
        members = []
        for index in range(7):
            member = await uow.members.create(
                "sms", f"+25470000010{index}", "sw" if index % 2 else "en", at=NOW
            )
            await uow.members.join_group(member.id, (first if index < 4 else second).id, NOW)
            members.append(member.id)
        for position, (index, text) in enumerate(LOG):
            await uow.messages.log_inbound(
                member_id=members[index],
                channel="sms",
                address_value=f"+25470000010{index}",
                text=text,
                payload=None,
                provider_message_id=None,
                at=NOW + timedelta(minutes=position),
            )
    return members, [first.id, second.id]


async def _pages(
    database: Database, groups: frozenset[int] | None, filters: InboxFilters, size: int
) -> list[int]:
    found: list[int] = []
    offset = 0
    while True:
        async with database.read() as uow:
            rows = await uow.conversations.inbox(groups, filters, offset=offset, limit=size)
        found.extend(row.member_id for row in rows)
        if len(rows) < size:
            return found
        offset += size


@pytest.mark.parametrize("window", [1, 3, 2_000])
async def test_every_way_of_reading_gives_the_same_order(
    database: Database, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    monkeypatch.setattr(conversations, "FIRST_WINDOW", window)
    members, (first, second) = await _program(database)
    expected = [members[index] for index in NEWEST_FIRST]
    for size in (1, 2, 4, 50):
        assert await _pages(database, None, InboxFilters(), size) == expected
        assert await _pages(database, frozenset({first, second}), InboxFilters(), size) == expected
    in_first = [m for m in expected if members.index(m) < 4]
    assert await _pages(database, frozenset({first}), InboxFilters(), 2) == in_first
    assert await _pages(database, None, InboxFilters(group_id=first), 2) == in_first
    swahili = [m for m in expected if members.index(m) % 2]
    assert await _pages(database, None, InboxFilters(language="sw"), 1) == swahili
    assert await _pages(database, frozenset(), InboxFilters(), 2) == []
    async with database.read() as uow:
        [top] = await uow.conversations.inbox(None, InboxFilters(), offset=0, limit=1)
    assert (top.last_text, top.last_direction) == ("n", "in")


async def test_states_few_members_are_in_are_listed_in_order(database: Database) -> None:
    members, groups = await _program(database)
    async with database.transaction() as uow:
        staff = await uow.staff.add("Juan", "coordinator", email="juan@example.org", at=NOW)
        for index in (0, 4, 6):
            await uow.conversations.ask_for_person(members[index], NOW)
        await uow.conversations.take_over(members[4], staff.id, NOW)
        await uow.members.update(members[3], at=NOW, opted_out=True)
        expired = await uow.sessions.start(members[1], "weekly_checkin", 1, "sales", {}, NOW)
        await uow.sessions.save(expired.id, None, "expired", {}, NOW, end_reason="expired")
        done = await uow.sessions.start(members[2], "weekly_checkin", 1, "sales", {}, NOW)
        await uow.sessions.save(done.id, None, "expired", {}, NOW, end_reason="expired")
        await uow.sessions.start(members[2], "weekly_checkin", 1, "sales", {}, NOW)
    expected = {
        "waiting": [members[6], members[0]],
        "taken_over": [members[4]],
        "opted_out": [members[3]],
        "stuck": [members[1]],
        "checkin": [members[2]],
        "idle": [],
    }
    for state, wanted in expected.items():
        filters = InboxFilters(state=state)  # type: ignore[arg-type]
        assert await _pages(database, None, filters, 1) == wanted, state
        assert await _pages(database, frozenset(groups), filters, 1) == wanted, state
        async with database.read() as uow:
            rows = await uow.conversations.inbox(None, InboxFilters(), offset=0, limit=50)
        assert {row.member_id for row in rows if row.state == state} == set(wanted), state
