"""The batch ("many at once") repository methods, run against every backend (see tests/conftest.py).

Each batch method promises the effect of its one-at-a-time counterpart in fewer round trips.
A write is checked by doing the same writes both ways from the same committed starting point:
one at a time in a transaction that is then undone, at once in one that commits, comparing the
rows each leaves. A read is checked against the one-at-a-time read of the same data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import astuple
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError

from storage import Database, UnitOfWork
from storage.errors import AddressInUse
from storage.records import GroupRecord, MemberRecord, RosterMember, RosterWrite, SessionRecord
from storage.repositories.answers import NewAnswer
from storage.repositories.members import UNSET
from storage.repositories.messages import message_values
from storage.repositories.roster import RosterRepository
from storage.repositories.sessions import SessionSave
from storage.repositories.tables import (
    ADDRESSES,
    ANSWERS,
    INBOX,
    MEMBERS,
    MEMBERSHIPS,
    MESSAGES,
    SESSIONS,
)
from storage.vocabulary import Channel
from tests.outbox_lines import log_outbound

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
UNKNOWN = 999_999

Rows = list[dict[str, Any]]


class _Undo(Exception):
    """Raised to roll back the one-at-a-time half of a comparison."""


async def _member(
    uow: UnitOfWork, value: str, *, channel: Channel = "telegram", name: str | None = None
) -> MemberRecord:
    member = await uow.members.create(channel, value, "en", None, at=T0)
    if name is not None:
        member = await uow.members.update(member.id, name=name, at=T0)
    return member


async def _session(uow: UnitOfWork, member_id: int, *, at: datetime = T0) -> SessionRecord:
    return await uow.sessions.start(member_id, "weekly_checkin", 1, "sales", {"step": 0}, at)


async def _rows(uow: UnitOfWork, table: Table, *, without: tuple[str, ...] = ()) -> Rows:
    """Every row of `table` by id, as dicts, without the columns named in `without`."""
    result = await uow.session.execute(select(table).order_by(table.c.id))
    return [
        {key: value for key, value in row._mapping.items() if key not in without} for row in result
    ]


async def _undone(database: Database, write: Callable[[UnitOfWork], Awaitable[Rows]]) -> Rows:
    """The rows `write` returns from inside a transaction that is then rolled back."""
    rows: Rows = []
    with pytest.raises(_Undo):
        async with database.transaction() as uow:
            rows = await write(uow)
            raise _Undo
    return rows


# --- inbox ---------------------------------------------------------------------------------------


def _entry(channel: Channel, provider_id: str, address: str, at: datetime) -> dict[str, Any]:
    """An inbox row as `add_keyed` takes it."""
    event = {"text": provider_id, "nested": [1, {"a": None}]}
    return dict(
        channel=channel, provider_id=provider_id, address=address, event=event, received_at=at
    )


async def test_add_keyed_stores_what_add_stores(database: Database) -> None:
    async with database.transaction() as uow:
        earlier = await uow.inbox.add(
            channel="telegram", provider_id="u1", address="70", event={"old": True}, at=T0
        )
    assert earlier is not None
    rows = [
        _entry("telegram", "u2", "70", T0 + MINUTE),
        _entry("telegram", "u1", "70", T0 + MINUTE),  # stored before
        _entry("whatsapp", "u1", "+231", T0 + 2 * MINUTE),
        _entry("sms", "u3", "+232", T0 + 3 * MINUTE),
        _entry("sms", "u3", "+232", T0 + 4 * MINUTE),  # twice here
    ]
    added: dict[tuple[str, str], int | None] = {}

    async def one_by_one(uow: UnitOfWork) -> Rows:
        for row in rows:
            entry = {key: value for key, value in row.items() if key != "received_at"}
            entry_id = await uow.inbox.add(**entry, at=row["received_at"])
            added.setdefault((row["channel"], row["provider_id"]), entry_id)
        return await _rows(uow, INBOX, without=("id",))

    expected = await _undone(database, one_by_one)
    async with database.transaction() as uow:
        keyed = await uow.inbox.add_keyed(rows)
    async with database.transaction() as uow:
        assert await _rows(uow, INBOX, without=("id",)) == expected
        stored = {key: await uow.inbox.get(entry_id) for key, entry_id in keyed.items()}
        old = await uow.inbox.get(earlier)
    assert set(keyed) == {key for key, entry_id in added.items() if entry_id is not None}
    assert set(keyed) == {("telegram", "u2"), ("whatsapp", "u1"), ("sms", "u3")}
    assert {key: (e.channel, e.provider_id) for key, e in stored.items() if e} == {
        k: k for k in keyed
    }
    assert old is not None
    assert old.event == {"old": True}


_ADDRESS_OF: dict[str, tuple[Channel, str]] = {
    "e": ("telegram", "60"),
    "f": ("telegram", "61"),
    "g": ("whatsapp", "60"),
    "h": ("telegram", "62"),
    "k": ("telegram", "63"),
}
"""The address of each inbox entry below, by the first letter of its name."""


async def test_pending_from_many_is_pending_from_of_each_woken_address(database: Database) -> None:
    async with database.transaction() as uow:
        ids: dict[str, int] = {}
        for name in "e1 e2 f1 g1 e3 f2 e4 h1 h2 k1".split():
            channel, address = _ADDRESS_OF[name[0]]
            entry_id = await uow.inbox.add(
                channel=channel, provider_id=name, address=address, event={"n": name}, at=T0
            )
            assert entry_id is not None
            ids[name] = entry_id
        assert await uow.inbox.mark_processed(ids["e1"], T0)
        assert await uow.inbox.mark_processed(ids["h1"], T0)
    # wakes e, f and g (listed by their oldest pending event); h only by a processed entry
    woken = [ids["g1"], ids["f2"], ids["e3"], ids["e4"], ids["h1"], UNKNOWN]
    one_each = ["e3", "f2", "g1"]
    async with database.transaction() as uow:
        pending = await uow.inbox.pending_from_many(woken)
        at_most_two = await uow.inbox.pending_from_many(woken, limit=2)
        expected = {_ADDRESS_OF[n[0]]: await uow.inbox.pending_from(ids[n]) for n in one_each}
        expected_two = {
            _ADDRESS_OF[n[0]]: await uow.inbox.pending_from(ids[n], 2) for n in one_each
        }
    assert pending == expected
    assert list(pending) == [_ADDRESS_OF[letter] for letter in "efg"]
    assert [entry.id for entry in pending["telegram", "60"]] == [ids[n] for n in ("e2", "e3", "e4")]
    assert at_most_two == expected_two
    assert [entry.id for entry in at_most_two["telegram", "60"]] == [ids["e2"], ids["e3"]]


async def test_mark_many_processed_marks_what_mark_processed_marks(database: Database) -> None:
    async with database.transaction() as uow:
        first, second, third, fourth = [
            await uow.inbox.add(channel="sms", provider_id=f"p{n}", address="+1", event={}, at=T0)
            for n in range(4)
        ]
        assert first and second and third and fourth
        assert await uow.inbox.mark_processed(first, T0)
    given = [second, first, third, UNKNOWN, second]
    marked: set[int] = set()

    async def one_by_one(uow: UnitOfWork) -> Rows:
        for entry_id in given:
            if await uow.inbox.mark_processed(entry_id, T0 + MINUTE):
                marked.add(entry_id)
        return await _rows(uow, INBOX)

    expected = await _undone(database, one_by_one)
    async with database.transaction() as uow:
        assert await uow.inbox.mark_many_processed(given, T0 + MINUTE) == marked == {second, third}
        assert await uow.inbox.mark_many_processed(given, T0 + 2 * MINUTE) == set()
        assert not await uow.inbox.mark_processed(second, T0 + 2 * MINUTE)
    async with database.transaction() as uow:
        assert await _rows(uow, INBOX) == expected
        assert [entry.id for entry in await uow.inbox.pending_for("sms", "+1")] == [fourth]
        stored = await uow.inbox.get(first)
    assert stored is not None
    assert stored.processed_at == T0


# --- members and groups --------------------------------------------------------------------------


async def test_by_addresses_is_by_address_of_each(database: Database) -> None:
    async with database.transaction() as uow:
        ama = await _member(uow, "100", name="Ama")
        await uow.members.add_address(ama.id, "telegram", "101", at=T0)
        await _member(uow, "102", name="Kofi")
        await _member(uow, "100", channel="whatsapp", name="Esi")
    values = ["101", "100", "102", "999", "100"]
    async with database.transaction() as uow:
        found = await uow.members.by_addresses("telegram", values)
        on_whatsapp = await uow.members.by_addresses("whatsapp", values)
        expected = {v: await uow.members.by_address("telegram", v) for v in values}
        expected_whatsapp = {v: await uow.members.by_address("whatsapp", v) for v in values}
    assert found == {value: member for value, member in expected.items() if member is not None}
    assert sorted(found) == ["100", "101", "102"]
    assert found["100"] == found["101"] == ama
    assert on_whatsapp == {"100": expected_whatsapp["100"]}
    assert on_whatsapp["100"].name == "Esi"


async def test_touch_many_inbound_does_what_touch_inbound_does(database: Database) -> None:
    at = T0 + 5 * MINUTE
    async with database.transaction() as uow:
        for value in ["200", "201", "202", "203", "204"]:
            await _member(uow, value)
        await _member(uow, "200", channel="whatsapp")
        assert await uow.members.touch_inbound("telegram", "201", T0)
        assert await uow.members.touch_inbound("telegram", "202", at + MINUTE)
        assert await uow.members.touch_inbound("telegram", "203", T0)
        await uow.members.set_blocked("telegram", "203", True, at=T0 + MINUTE)
        await uow.members.set_blocked("telegram", "204", True, at=T0 + MINUTE)
    values = ["200", "201", "202", "203", "204", "299"]

    async def one_by_one(uow: UnitOfWork) -> Rows:
        for value in values:
            await uow.members.touch_inbound("telegram", value, at)
        return await _rows(uow, ADDRESSES)

    expected = await _undone(database, one_by_one)
    async with database.transaction() as uow:
        await uow.members.touch_many_inbound("telegram", values, at)
    async with database.transaction() as uow:
        rows = await _rows(uow, ADDRESSES)
    assert rows == expected
    touched = {(row["channel"], row["value"]): row for row in rows}
    last = [touched["telegram", value]["last_inbound_at"] for value in values[:5]]
    assert last == [at, at, at + MINUTE, at, at]
    assert touched["telegram", "203"]["blocked_at"] is None
    assert touched["whatsapp", "200"]["last_inbound_at"] is None


async def _groups_with_members(uow: UnitOfWork) -> tuple[list[GroupRecord], list[MemberRecord]]:
    """Tailors: Abena (joined first), then Yaw; Fishmongers: Kwame (from Tailors), then Efua;
    Weavers: nobody; Kojo: in no group."""
    names = ["Tailors", "Fishmongers", "Weavers"]
    groups = [await uow.groups.create(name, "UTC", "en", "GHS", at=T0) for name in names]
    tailors, fishmongers, _ = groups
    names = ["Yaw", "Abena", "Kwame", "Efua", "Kojo"]
    members = [await _member(uow, f"30{n}", name=name) for n, name in enumerate(names)]
    yaw, abena, kwame, efua, _kojo = members
    await uow.members.join_group(abena.id, tailors.id, T0)
    await uow.members.join_group(kwame.id, tailors.id, T0 + MINUTE)
    await uow.members.join_group(yaw.id, tailors.id, T0 + 2 * MINUTE)
    await uow.members.join_group(kwame.id, fishmongers.id, T0 + 3 * MINUTE)
    await uow.members.join_group(efua.id, fishmongers.id, T0 + 4 * MINUTE)
    return groups, members


async def test_current_groups_is_current_group_of_each(database: Database) -> None:
    async with database.transaction() as uow:
        _, members = await _groups_with_members(uow)
    member_ids = [member.id for member in reversed(members)] + [UNKNOWN]
    async with database.transaction() as uow:
        groups = await uow.members.current_groups(member_ids)
        expected = {m: await uow.members.current_group(m) for m in member_ids}
    assert groups == {m: group for m, group in expected.items() if group is not None}
    by_name = {member.name: member.id for member in members}
    assert {groups[by_name[n]].name for n in ("Yaw", "Abena")} == {"Tailors"}
    assert {groups[by_name[n]].name for n in ("Kwame", "Efua")} == {"Fishmongers"}
    assert [groups[by_name[n]].member_count for n in ("Yaw", "Kwame")] == [2, 2]
    assert by_name["Kojo"] not in groups


async def test_members_of_is_members_of_each_group(database: Database) -> None:
    async with database.transaction() as uow:
        (tailors, fishmongers, weavers), _ = await _groups_with_members(uow)
    group_ids = [weavers.id, fishmongers.id, tailors.id, UNKNOWN]
    async with database.transaction() as uow:
        members = await uow.groups.members_of(group_ids)
        expected = {g: await uow.groups.members(g) for g in group_ids}
    assert members == {g: roster for g, roster in expected.items() if roster}
    assert [m.name for m in members[tailors.id]] == ["Abena", "Yaw"]
    assert [m.name for m in members[fishmongers.id]] == ["Kwame", "Efua"]
    assert weavers.id not in members


# --- sessions ------------------------------------------------------------------------------------


async def test_active_for_many_is_active_for_of_each(database: Database) -> None:
    async with database.transaction() as uow:
        members = [await _member(uow, str(400 + n)) for n in range(5)]
        active, completed, replaced, _none, stopped = (member.id for member in members)
        await _session(uow, active)
        done = await _session(uow, completed)
        await uow.sessions.save(done.id, None, "completed", {}, T0 + MINUTE, "done")
        await _session(uow, replaced)
        second = await _session(uow, replaced, at=T0 + MINUTE)
        gone = await _session(uow, stopped)
        await uow.sessions.save(gone.id, None, "stopped", {}, T0 + MINUTE, "stop")
    member_ids = [member.id for member in members] + [UNKNOWN]
    async with database.transaction() as uow:
        sessions = await uow.sessions.active_for_many(member_ids)
        expected = {m: await uow.sessions.active_for(m) for m in member_ids}
    assert sessions == {m: session for m, session in expected.items() if session is not None}
    assert sorted(sessions) == sorted([active, replaced])
    assert sessions[replaced] == second


async def test_save_many_writes_what_save_writes(database: Database) -> None:
    async with database.transaction() as uow:
        members = [await _member(uow, str(500 + n)) for n in range(4)]
        first, second, third, fourth = [(await _session(uow, m.id)).id for m in members]
    saves = [
        SessionSave(first, "gave", "active", {"n": 1}, T0 + MINUTE, None, T0 + HOUR, T0 + DAY),
        SessionSave(second, None, "completed", {"n": 2}, T0 + 2 * MINUTE, "done", T0 + HOUR),
        SessionSave(
            third, "sales", "expired", {}, T0 + 3 * MINUTE, "timeout", None, T0 + 3 * MINUTE
        ),
        SessionSave(fourth, "x", "active", {"nested": {"a": [1, 2.5, None]}}, T0 + 4 * MINUTE),
    ]

    async def saved_one_by_one(uow: UnitOfWork) -> Rows:
        for s in saves:
            nudge, expiry = s.next_nudge_at, s.expires_at
            await uow.sessions.save(*astuple(s)[:6], next_nudge_at=nudge, expires_at=expiry)
        return await _rows(uow, SESSIONS)

    expected = await _undone(database, saved_one_by_one)
    async with database.transaction() as uow:
        await uow.sessions.save_many([*saves, SessionSave(UNKNOWN, None, "expired", {}, T0)])
    async with database.transaction() as uow:
        rows = await _rows(uow, SESSIONS)
        assert await uow.sessions.active_for_many([m.id for m in members]) == {
            members[0].id: await uow.sessions.active_for(members[0].id),
            members[3].id: await uow.sessions.active_for(members[3].id),
        }
    assert rows == expected
    assert [row["status"] for row in rows] == ["active", "completed", "expired", "active"]
    assert [row["next_nudge_at"] for row in rows] == [T0 + HOUR, None, None, None]
    assert rows[1]["ended_at"] == T0 + 2 * MINUTE


# --- messages ------------------------------------------------------------------------------------


_LINES: list[dict[str, Any]] = [
    {"direction": "in", "channel": "telegram", "address_value": "600", "text": "hi",
     "payload": {"raw": [1, "x"]}, "provider_message_id": "tg-1", "at": T0},
    {"direction": "in", "channel": "sms", "address_value": "+1", "text": "who?",
     "payload": None, "provider_message_id": None, "at": T0 + MINUTE},
    {"direction": "out", "channel": "telegram", "address_value": "600", "text": "Welcome",
     "payload": {"choices": [["a", "A"]]}, "at": T0 + 2 * MINUTE, "status": "queued"},
    {"direction": "out", "channel": "telegram", "address_value": "600", "text": "Sent",
     "payload": None, "at": T0 + 3 * MINUTE, "status": "sent", "provider_message_id": "tg-2"},
]  # fmt: skip
"""Lines as `log_inbound` ("in") takes them, and lines the bot says ("out"), but for the member."""


async def test_log_many_writes_what_log_inbound_writes_and_the_lines_said_as_given(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        member = await _member(uow, "600")
    member_ids = [member.id, None, member.id, member.id]
    heard = [
        (line, m) for line, m in zip(_LINES, member_ids, strict=True) if line["direction"] == "in"
    ]

    async def one_by_one(uow: UnitOfWork) -> Rows:
        for line, member_id in heard:
            fields = {key: value for key, value in line.items() if key != "direction"}
            await uow.messages.log_inbound(member_id=member_id, **fields)
        return await _rows(uow, MESSAGES, without=("id",))

    expected = await _undone(database, one_by_one)
    async with database.transaction() as uow:
        ids = await uow.messages.log_many(
            [
                message_values(
                    **{"status": "received", "provider_message_id": None, **line}, member_id=m
                )
                for line, m in zip(_LINES, member_ids, strict=True)
            ]
        )
    async with database.transaction() as uow:
        rows = await _rows(uow, MESSAGES, without=("id",))
        assert rows[: len(heard)] == expected
        assert [row["id"] for row in await _rows(uow, MESSAGES)] == ids
        own = [message.id for message in await uow.messages.for_member(member.id)]
    for row, line, member_id in zip(
        rows[len(heard) :], _LINES[len(heard) :], member_ids[len(heard) :], strict=True
    ):
        assert row["member_id"] == member_id
        assert row["created_at"] == row["updated_at"] == line["at"]
        assert (row["error_code"], row["attempts"]) == (None, 0)
        assert row["provider_message_id"] == line.get("provider_message_id")
        for column in ("direction", "channel", "address_value", "text", "payload", "status"):
            assert row[column] == line[column]
    assert own == [ids[0], *ids[2:]]
    assert len(expected) == len(heard) == 2


async def test_log_many_returns_the_ids_in_the_order_given(database: Database) -> None:
    count = 1_100  # more than one page of PostgreSQL's multi-row INSERT
    texts = [f"line {n}" for n in range(count)]
    out: dict[str, Any] = {"channel": "console", "direction": "out", "status": "queued"}
    messages = [
        message_values(None, **out, address_value=f"chat-{n % 7}", text=text, payload={"n": n},
                       provider_message_id=None if n % 3 else f"web-{n}", at=T0 - n * MINUTE)
        for n, text in enumerate(texts)
    ]  # fmt: skip
    async with database.transaction() as uow:
        ids = await uow.messages.log_many(messages)
    async with database.transaction() as uow:
        text_of = {row["id"]: row["text"] for row in await _rows(uow, MESSAGES)}
    assert len(set(ids)) == count
    assert [text_of[message_id] for message_id in ids] == texts


@pytest.mark.parametrize("against", ["the batch", "a logged message"])
async def test_log_many_with_a_duplicate_provider_id_writes_none(
    database: Database, against: str
) -> None:
    inbound: dict[str, Any] = {"member_id": None, "channel": "whatsapp", "address_value": "+1"}
    async with database.transaction() as uow:
        if against == "a logged message":
            await uow.messages.log_inbound(
                **inbound, text="x", payload=None, provider_message_id="dup", at=T0
            )
    before = 1 if against == "a logged message" else 0
    provider_ids = ["new-1", "dup", None, "new-2", *(["dup"] if against == "the batch" else [])]
    batch = [
        message_values(**inbound, direction="in", text=f"line {n}", payload=None,
                       status="received", provider_message_id=provider_id, at=T0 + n * MINUTE)
        for n, provider_id in enumerate(provider_ids)
    ]  # fmt: skip
    with pytest.raises(IntegrityError):
        async with database.transaction() as uow:
            await uow.messages.log_many(batch)
    async with database.transaction() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(MESSAGES)) == before
        assert await uow.messages.by_provider_id("whatsapp", "new-1") is None
        assert await uow.messages.by_provider_id("whatsapp", "new-2") is None


# --- answers -------------------------------------------------------------------------------------


def _answer(
    session: SessionRecord, step_id: str, answer_type: str, group_id: int | None, **values: Any
) -> NewAnswer:
    """An answer in `session`, given at T0 in the weekly check-in unless `values` say else."""
    fields: dict[str, Any] = {"checkin_id": "weekly_checkin", "at": T0, **values}
    fields.update(session_id=session.id, member_id=session.member_id, group_id=group_id)
    return NewAnswer(step_id=step_id, answer_type=answer_type, **fields)


async def test_add_many_writes_what_add_writes(database: Database) -> None:
    async with database.transaction() as uow:
        group = await uow.groups.create("Traders", "UTC", "en", "LRD", at=T0)
        member = await _member(uow, "700")
        session = await _session(uow, member.id)

    def answer(step_id: str, answer_type: str, **values: Any) -> NewAnswer:
        return _answer(session, step_id, answer_type, group.id, at=T0 + MINUTE, **values)

    answers = [
        answer("sales", "money", value_number=Decimal("1500.50"), currency="LRD", raw_text="1.5k"),
        answer("count", "number", value_number=Decimal("-0.000001")),
        answer("sells", "multi_choice", value_choice=("fish", "rice")),
        answer("kind", "choice", value_choice="fish"),
        answer("when", "date", value_date=date(2025, 2, 28)),
        answer("where", "location", value_json={"latitude": "6.3", "longitude": "-10.8"}),
        answer("win", "text", value_text="sold out", raw_text="sold out"),
        answer("story", "text", skipped=True, raw_text="skip"),
        _answer(session, "gave", "text", None, checkin_id="help"),
    ]

    async def one_by_one(uow: UnitOfWork) -> Rows:
        for new in answers:
            await uow.answers.add(new)
        return await _rows(uow, ANSWERS, without=("id",))

    expected = await _undone(database, one_by_one)
    assert len(expected) == len(answers)
    async with database.transaction() as uow:
        await uow.answers.add_many(answers)
    async with database.transaction() as uow:
        rows = await _rows(uow, ANSWERS, without=("id",))
    assert rows == expected
    assert [row["step_id"] for row in rows] == [new.step_id for new in answers]
    assert rows[0]["value_number"] == Decimal("1500.50")
    assert rows[2]["value_choice"] == "fish,rice"


# --- the roster (members import) ------------------------------------------------------------------


async def _roster_rows(uow: UnitOfWork) -> list[Rows]:
    """Members, addresses and memberships by id, each member named by its place in id order
    rather than by its id (PostgreSQL does not take back the ids an undone transaction drew)."""
    members = await _rows(uow, MEMBERS)
    place = {row["id"]: index for index, row in enumerate(members)}
    tables: list[Rows] = [[{k: v for k, v in row.items() if k != "id"} for row in members]]
    for table in (ADDRESSES, MEMBERSHIPS):
        tables.append(
            [
                {**row, "member_id": place[row["member_id"]]}
                for row in await _rows(uow, table, without=("id",))
            ]
        )
    return tables


async def test_roster_write_writes_what_the_one_at_a_time_methods_write(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        market = await uow.groups.create("Market", "UTC", "en", "KES", at=T0)
        tailors = await uow.groups.create("Tailors", "UTC", "en", "KES", at=T0)
        moving = await _member(uow, "900", name="Old name")
        await uow.members.join_group(moving.id, market.id, T0)
        joining = await _member(uow, "+254722000900", channel="whatsapp")
        staying = await _member(uow, "901")
        await uow.members.join_group(staying.id, tailors.id, T0)
    at = T0 + DAY
    phone = "+254722000001"
    writes = [
        RosterWrite(None, "Neema", "sw", market.id,
                    (("whatsapp", phone), ("sms", phone), ("telegram", "7001"))),
        RosterWrite(moving.id, "New name", None, tailors.id, (("sms", "+254722000902"),)),
        RosterWrite(None, None, "fr", None, (("telegram", "7002"),)),
        RosterWrite(joining.id, None, "es", market.id, ()),
        RosterWrite(staying.id, None, None, tailors.id, (("whatsapp", "+254722000903"),)),
    ]  # fmt: skip

    async def one_by_one(uow: UnitOfWork) -> list[Rows]:
        for write in writes:
            member_id = write.member_id
            addresses = write.addresses
            if member_id is None:
                (channel, value), addresses = addresses[0], addresses[1:]
                locale = write.locale or "en"
                member_id = (await uow.members.create(channel, value, locale, at=at)).id
                if write.name is not None:
                    await uow.members.update(member_id, name=write.name, at=at)
            elif write.name is not None or write.locale is not None:
                name, locale = write.name, write.locale
                await uow.members.update(
                    member_id, name=UNSET if name is None else name,
                    locale=UNSET if locale is None else locale, at=at,
                )  # fmt: skip
            for channel, value in addresses:
                await uow.members.add_address(member_id, channel, value, at=at)
            if write.group_id is not None:
                await uow.members.join_group(member_id, write.group_id, at)
        return await _roster_rows(uow)

    expected = await _undone(database, one_by_one)
    async with database.transaction() as uow:
        ids = await RosterRepository(uow.session).write(writes, at=at)
    async with database.transaction() as uow:
        written = await _roster_rows(uow)
        roster = RosterRepository(uow.session)
        assert await roster.to_match() == [
            RosterMember(
                entry.member.id,
                entry.member.name,
                entry.member.locale,
                entry.group_id,
                tuple((address.channel, address.value) for address in entry.addresses),
            )
            for entry in await roster.entries()
        ]
        neema = await uow.members.by_address("telegram", "7001")
        french = await uow.members.by_address("telegram", "7002")
        moved = await uow.members.current_group(moving.id)
    assert moved is not None and moved.id == tailors.id
    assert written == expected
    assert neema is not None and french is not None
    assert ids == (neema.id, moving.id, french.id, joining.id, staying.id)
    members, addresses, memberships = written
    assert [(m["name"], m["locale"], m["updated_at"]) for m in members] == [
        ("New name", "en", at), (None, "es", at), (None, "en", T0), ("Neema", "sw", at),
        (None, "fr", at),
    ]  # fmt: skip
    assert [(a["member_id"], a["channel"], a["created_at"]) for a in addresses[3:]] == [
        (3, "whatsapp", at), (3, "sms", at), (3, "telegram", at), (0, "sms", at),
        (4, "telegram", at), (2, "whatsapp", at),
    ]  # fmt: skip
    assert [(m["member_id"], m["left_at"]) for m in memberships] == [
        (0, at), (2, None), (3, None), (0, None), (1, None),
    ]  # fmt: skip


@pytest.mark.parametrize("taken", ["stored", "twice in the batch"])
async def test_roster_write_with_an_address_taken_writes_nothing_of_the_batch(
    database: Database, taken: str
) -> None:
    async with database.transaction() as uow:
        owner = await _member(uow, "+254722000900", channel="whatsapp")
        before = await _roster_rows(uow)
    clash = ("whatsapp", "+254722000900" if taken == "stored" else "+254722000905")
    writes = [
        RosterWrite(None, "First", "en", None, (("telegram", "7001"),)),
        RosterWrite(owner.id, "Renamed", None, None, (("telegram", "7003"),)),
        RosterWrite(None, "Second", "en", None, (("sms", "+254722000905"), clash)),
        RosterWrite(None, "Third", "en", None, (clash,)),
    ]
    async with database.transaction() as uow:
        with pytest.raises(AddressInUse) as raised:
            await RosterRepository(uow.session).write(writes, at=T0 + DAY)
        assert (raised.value.channel, raised.value.value) == clash
        assert await _roster_rows(uow) == before  # the batch undone, the transaction usable
        await uow.members.add_address(owner.id, "telegram", "7009", at=T0)
    async with database.transaction() as uow:
        assert (await _roster_rows(uow))[1][-1]["value"] == "7009"


# --- empty inputs --------------------------------------------------------------------------------


async def test_nothing_in_nothing_out(database: Database) -> None:
    async with database.transaction() as uow:
        group = await uow.groups.create("Bakers", "UTC", "en", "USD", at=T0)
        member = await _member(uow, "800")
        await uow.members.join_group(member.id, group.id, T0)
        session = await _session(uow, member.id)
        await uow.inbox.add(channel="telegram", provider_id="q", address="800", event={}, at=T0)
        line: dict[str, Any] = {"channel": "telegram", "address_value": "800", "text": "hi"}
        await log_outbound(uow, member_id=member.id, **line, payload=None, at=T0)
        await uow.answers.add(_answer(session, "sales", "text", group.id, value_text="ok"))
    tables = [INBOX, ADDRESSES, SESSIONS, MESSAGES, ANSWERS]
    async with database.transaction() as uow:
        before = [await _rows(uow, table) for table in tables]
    async with database.transaction() as uow:
        assert await uow.inbox.add_keyed([]) == {}
        assert await uow.inbox.pending_from_many([]) == {}
        assert await uow.inbox.mark_many_processed([], T0 + MINUTE) == set()
        assert await uow.members.by_addresses("telegram", []) == {}
        await uow.members.touch_many_inbound("telegram", [], T0 + MINUTE)
        assert await uow.members.current_groups([]) == {}
        assert await uow.groups.members_of([]) == {}
        assert await uow.sessions.active_for_many([]) == {}
        await uow.sessions.save_many([])
        assert await uow.messages.log_many([]) == []
        await uow.answers.add_many([])
        assert await RosterRepository(uow.session).write([], at=T0) == ()
    async with database.transaction() as uow:
        assert [await _rows(uow, table) for table in tables] == before
