"""The repository contract, run against every backend (see conftest.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from conversations.answers import AnswerType
from storage import (
    AddressInUse,
    Database,
    DuplicateMessage,
    InvalidGroup,
    NotFound,
    UnitOfWork,
)
from storage.join_codes import ALPHABET, LENGTH
from storage.models import Address, Answer, CheckinSession, Membership
from storage.records import MemberRecord, SessionRecord
from storage.repositories.answers import NewAnswer
from storage.repositories.groups import GroupRepository
from storage.vocabulary import Channel
from tests.outbox_lines import log_outbound

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class Boom(Exception):
    pass


async def _member(
    uow: UnitOfWork, value: str, name: str | None = None, *, at: datetime = T0
) -> MemberRecord:
    member = await uow.members.create("telegram", value, "en", None, at=at)
    if name is not None:
        member = await uow.members.update(member.id, name=name, at=at)
    return member


async def _session(uow: UnitOfWork, member_id: int, *, at: datetime = T0) -> SessionRecord:
    return await uow.sessions.start(member_id, "weekly_checkin", 1, "sales", {"step": 0}, at)


# --- groups --------------------------------------------------------------------------------------


async def test_group_create_and_lookups(database: Database) -> None:
    async with database.transaction() as uow:
        created = await uow.groups.create(
            "  Market   Women ", "Africa/Monrovia", "en", "lrd", at=T0
        )
    assert created.name == "Market Women"
    assert created.currency == "LRD"
    assert created.timezone == "Africa/Monrovia"
    assert created.member_count == 0
    async with database.transaction() as uow:
        assert await uow.groups.get(created.id) == created
        assert await uow.groups.by_code(created.join_code.lower()) == created
        spaced = f"{created.join_code[:3]}-{created.join_code[3:]} "
        assert await uow.groups.by_code(spaced) == created
        assert await uow.groups.by_name("MARKET WOMEN") == created
        assert await uow.groups.by_code("ZZZZZZ") is None
        assert await uow.groups.by_name("Tailors") is None
        assert await uow.groups.get(created.id + 1000) is None


async def test_join_codes_are_unique_upper_case_and_unambiguous(database: Database) -> None:
    async with database.transaction() as uow:
        groups = [
            await uow.groups.create(f"Group {n}", "UTC", "en", "USD", at=T0) for n in range(40)
        ]
    codes = [group.join_code for group in groups]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert len(code) == LENGTH
        assert code == code.upper()
        assert set(code) <= set(ALPHABET)
        assert not set(code) & set("0O1IL")


async def test_a_join_code_in_use_is_never_given_again(database: Database) -> None:
    async with database.transaction() as uow:
        first = await uow.groups.create("Bakers", "UTC", "en", "USD", at=T0)
        codes = iter([first.join_code, first.join_code, "NEWC2D"])
        repository = GroupRepository(uow.session, new_code=lambda: next(codes))
        second = await repository.create("Tailors", "UTC", "en", "USD", at=T0)
    assert second.join_code == "NEWC2D"


@pytest.mark.parametrize(
    ("name", "timezone_name", "language", "currency", "complaint"),
    [
        ("Bakers", "Mars/Olympus_Mons", "en", "USD", "unknown timezone"),
        ("Bakers", "", "en", "USD", "unknown timezone"),
        ("Bakers", "UTC", "en", "XYZ", "unknown currency"),
        ("Bakers", "UTC", "en", "US", "unknown currency"),
        ("Bakers", "UTC", "en", "", "unknown currency"),
        ("Bakers", "UTC", "  ", "USD", "needs a language"),
        ("   ", "UTC", "en", "USD", "needs a name"),
        ("x" * 121, "UTC", "en", "USD", "at most 120"),
    ],
)
async def test_invalid_groups_are_refused(
    database: Database,
    name: str,
    timezone_name: str,
    language: str,
    currency: str,
    complaint: str,
) -> None:
    async with database.transaction() as uow:
        with pytest.raises(InvalidGroup, match=complaint):
            await uow.groups.create(name, timezone_name, language, currency, at=T0)
        assert await uow.groups.list() == []


async def test_group_names_are_unique_regardless_of_case(database: Database) -> None:
    async with database.transaction() as uow:
        await uow.groups.create("Río Tailors", "America/Bogota", "es", "COP", at=T0)
    async with database.transaction() as uow:
        with pytest.raises(InvalidGroup, match='a group named "RÍO tailors" already exists'):
            await uow.groups.create("RÍO  tailors", "UTC", "en", "USD", at=T0)
        other = await uow.groups.create("Río Bakers", "UTC", "en", "USD", at=T0)
    async with database.transaction() as uow:
        assert [group.name for group in await uow.groups.list()] == ["Río Bakers", "Río Tailors"]
        assert other.name == "Río Bakers"


async def test_group_list_counts_current_members(database: Database) -> None:
    async with database.transaction() as uow:
        bakers = await uow.groups.create("Bakers", "UTC", "en", "USD", at=T0)
        tailors = await uow.groups.create("Tailors", "UTC", "en", "USD", at=T0)
        ada = await _member(uow, "1", "Ada")
        ben = await _member(uow, "2", "Ben")
        cy = await _member(uow, "3", "Cy")
        await uow.members.join_group(ada.id, bakers.id, T0)
        await uow.members.join_group(ben.id, bakers.id, T0 + MINUTE)
        await uow.members.join_group(cy.id, bakers.id, T0)
        await uow.members.join_group(cy.id, tailors.id, T0 + 2 * MINUTE)
    async with database.transaction() as uow:
        counts = {group.name: group.member_count for group in await uow.groups.list()}
        assert counts == {"Bakers": 2, "Tailors": 1}
        members = await uow.groups.members(bakers.id)
        assert [member.name for member in members] == ["Ada", "Ben"]
        assert [member.name for member in await uow.groups.members(tailors.id)] == ["Cy"]
        fetched = await uow.groups.get(bakers.id)
        assert fetched is not None and fetched.member_count == 2


# --- members -------------------------------------------------------------------------------------


async def test_member_create_and_lookup_by_address(database: Database) -> None:
    async with database.transaction() as uow:
        created = await uow.members.create("whatsapp", "+231770000001", "es", "LRD", at=T0)
    assert created.locale == "es"
    assert created.currency == "LRD"
    assert created.name is None
    assert created.opted_out is False
    assert created.consent is None
    assert created.created_at == created.updated_at == T0
    async with database.transaction() as uow:
        assert await uow.members.by_address("whatsapp", "+231770000001") == created
        assert await uow.members.by_address("sms", "+231770000001") is None
        assert await uow.members.get(created.id) == created
        assert await uow.members.get(created.id + 1000) is None
        [address] = await uow.members.addresses(created.id)
    assert (address.channel, address.value, address.member_id) == (
        "whatsapp",
        "+231770000001",
        created.id,
    )
    assert address.last_inbound_at is None


async def test_an_address_belongs_to_one_member(database: Database) -> None:
    async with database.transaction() as uow:
        first = await uow.members.create("telegram", "42", at=T0)
    async with database.transaction() as uow:
        with pytest.raises(AddressInUse):
            await uow.members.create("telegram", "42", at=T0)
        # The failed attempt wrote nothing and the transaction goes on.
        other = await uow.members.create("console", "42", at=T0)
        with pytest.raises(AddressInUse):
            await uow.members.add_address(other.id, "telegram", "42", at=T0)
        phone = await uow.members.add_address(first.id, "whatsapp", "+15550000042", at=T0)
    async with database.transaction() as uow:
        assert await uow.members.by_address("telegram", "42") == first
        assert await uow.members.by_address("console", "42") == other
        assert await uow.members.by_address("whatsapp", "+15550000042") == first
        assert [a.id for a in await uow.members.addresses(first.id)][1] == phone.id
        assert len(await uow.members.addresses(other.id)) == 1
        total = await uow.session.scalar(select(func.count()).select_from(Address))
    assert total == 3


async def test_member_update(database: Database) -> None:
    later = T0 + timedelta(days=1)
    async with database.transaction() as uow:
        member = await _member(uow, "7")
        updated = await uow.members.update(
            member.id,
            at=later,
            name="Ama",
            business_type="tailoring",
            consent=True,
            onboarded_at=later,
            currency="GHS",
        )
    assert updated.name == "Ama"
    assert updated.locale == "en"
    assert updated.business_type == "tailoring"
    assert updated.currency == "GHS"
    assert (updated.consent, updated.consented_at) == (True, later)
    assert updated.onboarded_at == later
    assert updated.updated_at == later
    assert updated.created_at == T0
    async with database.transaction() as uow:
        stopped = await uow.members.update(member.id, at=later + MINUTE, opted_out=True)
        assert (stopped.opted_out, stopped.opted_out_at) == (True, later + MINUTE)
        assert stopped.name == "Ama"
        back = await uow.members.update(member.id, at=later + 2 * MINUTE, opted_out=False)
        assert (back.opted_out, back.opted_out_at) == (False, None)
        cleared = await uow.members.update(member.id, at=later, name=None, consent=None)
        assert (cleared.name, cleared.consent, cleared.consented_at) == (None, None, None)
        assert await uow.members.get(member.id) == cleared
        with pytest.raises(NotFound):
            await uow.members.update(member.id + 1000, at=later, name="x")


async def test_touch_inbound_only_moves_forward(database: Database) -> None:
    async with database.transaction() as uow:
        member = await _member(uow, "9")
        assert await uow.members.touch_inbound("telegram", "9", T0 + 2 * MINUTE)
        assert await uow.members.touch_inbound("telegram", "9", T0 + MINUTE)
        assert not await uow.members.touch_inbound("telegram", "10", T0)
    async with database.transaction() as uow:
        [address] = await uow.members.addresses(member.id)
    assert address.last_inbound_at == T0 + 2 * MINUTE


async def test_join_group_moves_the_membership(database: Database) -> None:
    async with database.transaction() as uow:
        bakers = await uow.groups.create("Bakers", "UTC", "en", "USD", at=T0)
        tailors = await uow.groups.create("Tailors", "UTC", "en", "USD", at=T0)
        member = await _member(uow, "5", "Esi")
        assert await uow.members.current_group(member.id) is None
        await uow.members.join_group(member.id, bakers.id, T0)
    async with database.transaction() as uow:
        current = await uow.members.current_group(member.id)
        assert current is not None and current.id == bakers.id
        await uow.members.join_group(member.id, bakers.id, T0 + MINUTE)  # no-op
        await uow.members.join_group(member.id, tailors.id, T0 + 2 * MINUTE)
    async with database.transaction() as uow:
        current = await uow.members.current_group(member.id)
        assert current is not None and current.id == tailors.id
        assert current.member_count == 1
        assert await uow.groups.members(bakers.id) == []
        rows = (
            await uow.session.scalars(
                select(Membership).where(Membership.member_id == member.id).order_by("id")
            )
        ).all()
        assert [(row.group_id, row.joined_at, row.left_at) for row in rows] == [
            (bakers.id, T0, T0 + 2 * MINUTE),
            (tailors.id, T0 + 2 * MINUTE, None),
        ]


async def test_the_database_allows_one_current_membership(database: Database) -> None:
    async with database.transaction() as uow:
        group = await uow.groups.create("Bakers", "UTC", "en", "USD", at=T0)
        member = await _member(uow, "5")
        await uow.members.join_group(member.id, group.id, T0)
    with pytest.raises(IntegrityError):
        async with database.transaction() as uow:
            uow.session.add(Membership(member_id=member.id, group_id=group.id, joined_at=T0))
            await uow.session.flush()


# --- sessions ------------------------------------------------------------------------------------


async def test_session_start_save_and_end(database: Database) -> None:
    state = {"answers": {"sales": "1500.50"}, "path": ["sales", "gave_help"], "n": 2}
    async with database.transaction() as uow:
        member = await _member(uow, "11")
        assert await uow.sessions.active_for(member.id) is None
        started = await _session(uow, member.id)
    assert started.status == "active"
    assert (started.checkin_id, started.checkin_version, started.step_id) == (
        "weekly_checkin",
        1,
        "sales",
    )
    assert started.started_at == started.updated_at == T0
    assert started.ended_at is None
    async with database.transaction() as uow:
        assert await uow.sessions.active_for(member.id) == started
        await uow.sessions.save(started.id, "gave_help", "active", state, T0 + MINUTE)
    async with database.transaction() as uow:
        saved = await uow.sessions.active_for(member.id)
    assert saved is not None
    assert (saved.step_id, saved.state, saved.updated_at) == ("gave_help", state, T0 + MINUTE)
    assert saved.ended_at is None
    async with database.transaction() as uow:
        await uow.sessions.save(started.id, None, "completed", state, T0 + 2 * MINUTE, "done")
        assert await uow.sessions.active_for(member.id) is None
        row = await uow.session.get(CheckinSession, started.id)
        assert row is not None
        assert (row.status, row.ended_at, row.end_reason) == ("completed", T0 + 2 * MINUTE, "done")
        with pytest.raises(NotFound):
            await uow.sessions.save(started.id + 1000, None, "expired", {}, T0)


async def test_a_new_session_replaces_the_active_one(database: Database) -> None:
    async with database.transaction() as uow:
        member = await _member(uow, "12")
        first = await _session(uow, member.id)
        second = await uow.sessions.start(member.id, "help_checkin", 3, "gave", {}, T0 + MINUTE)
        assert await uow.sessions.active_for(member.id) == second
    async with database.transaction() as uow:
        row = await uow.session.get(CheckinSession, first.id)
        assert row is not None
        assert (row.status, row.ended_at, row.end_reason) == ("replaced", T0 + MINUTE, "replaced")
        assert await uow.sessions.active_for(member.id) == second


async def test_the_database_allows_one_active_session(database: Database) -> None:
    async with database.transaction() as uow:
        member = await _member(uow, "13")
        await _session(uow, member.id)
    with pytest.raises(IntegrityError):
        async with database.transaction() as uow:
            uow.session.add(
                CheckinSession(
                    member_id=member.id,
                    checkin_id="weekly_checkin",
                    checkin_version=1,
                    status="active",
                    state={},
                    started_at=T0,
                    updated_at=T0,
                )
            )
            await uow.session.flush()


# --- answers -------------------------------------------------------------------------------------


async def test_amounts_come_back_exact(database: Database) -> None:
    amounts = [
        Decimal("1500.50"),
        Decimal("999999999999.99"),
        Decimal("0.000001"),
        Decimal("-42"),
        Decimal("123456789012345678.123456") - Decimal("0.000001"),
    ]
    async with database.transaction() as uow:
        member = await _member(uow, "20")
        session = await _session(uow, member.id)
        ids = [
            await uow.answers.add(
                NewAnswer(
                    session_id=session.id,
                    member_id=member.id,
                    group_id=None,
                    checkin_id="weekly_checkin",
                    step_id="sales",
                    answer_type=AnswerType.MONEY,
                    value_number=amount,
                    currency="USD",
                    raw_text=str(amount),
                    at=T0,
                )
            )
            for amount in amounts
        ]
    async with database.transaction() as uow:
        stored = {
            row.id: row.value_number
            for row in await uow.session.scalars(select(Answer).where(Answer.id.in_(ids)))
        }
        as_text = await uow.session.scalar(
            text("SELECT CAST(value_number AS TEXT) FROM answers WHERE id = :id"),
            {"id": ids[1]},
        )
        rows = await uow.exports.answer_rows()
    for answer_id, amount in zip(ids, amounts, strict=True):
        assert isinstance(stored[answer_id], Decimal)
        assert stored[answer_id] == amount
    assert as_text == "999999999999.990000"
    assert [row.value for row in rows] == [
        "1500.50",
        "999999999999.99",
        "0.000001",
        "-42.00",
        "123456789012345678.123455",
    ]


@pytest.mark.parametrize(
    "amount", [Decimal("0.0000001"), Decimal("1e18"), Decimal("NaN"), Decimal("Infinity")]
)
async def test_amounts_that_cannot_be_stored_exactly_are_refused(
    database: Database, amount: Decimal
) -> None:
    async with database.transaction() as uow:
        member = await _member(uow, "21")
        session = await _session(uow, member.id)
    with pytest.raises(StatementError) as raised:
        async with database.transaction() as uow:
            await uow.answers.add(
                NewAnswer(
                    session_id=session.id,
                    member_id=member.id,
                    group_id=None,
                    checkin_id="weekly_checkin",
                    step_id="sales",
                    answer_type="number",
                    value_number=amount,
                    at=T0,
                )
            )
    assert isinstance(raised.value.orig, ValueError)


async def test_answer_columns_round_trip(database: Database) -> None:
    location = {"latitude": "6.300774", "longitude": "-10.797160"}
    async with database.transaction() as uow:
        member = await _member(uow, "22")
        session = await _session(uow, member.id)
        answer = partial(
            NewAnswer,
            session_id=session.id,
            member_id=member.id,
            group_id=None,
            checkin_id="weekly_checkin",
        )

        async def add(**columns: Any) -> int:
            return await uow.answers.add(answer(**columns))

        date_id = await add(step_id="when", answer_type="date", value_date=date(2025, 2, 28), at=T0)
        choice_id = await add(
            step_id="sells",
            answer_type="multi_choice",
            value_choice=("fish", "rice"),
            at=T0,
        )
        json_id = await add(step_id="where", answer_type="location", value_json=location, at=T0)
        skipped_id = await add(
            step_id="win", answer_type="text", skipped=True, raw_text="skip", at=T0
        )
        with pytest.raises(ValueError, match="comma"):
            await add(step_id="x", answer_type="choice", value_choice=("a,b",), at=T0)
    async with database.transaction() as uow:
        rows = {
            row.id: row
            for row in await uow.session.scalars(
                select(Answer).where(Answer.member_id == member.id)
            )
        }
    assert rows[date_id].value_date == date(2025, 2, 28)
    assert rows[choice_id].value_choice == "fish,rice"
    assert rows[json_id].value_json == location
    assert rows[skipped_id].skipped is True
    assert rows[skipped_id].raw_text == "skip"
    assert rows[skipped_id].value_json is None
    assert rows[skipped_id].value_number is None


# --- transactions and time -----------------------------------------------------------------------


async def test_a_transaction_that_raises_writes_nothing(database: Database) -> None:
    with pytest.raises(Boom):
        async with database.transaction() as uow:
            group = await uow.groups.create("Bakers", "UTC", "en", "USD", at=T0)
            member = await _member(uow, "30", "Kofi")
            await uow.members.join_group(member.id, group.id, T0)
            session = await _session(uow, member.id)
            await log_outbound(
                uow,
                member_id=member.id,
                channel="telegram",
                address_value="30",
                text="Hello",
                payload=None,
                at=T0,
            )
            await uow.answers.add(
                NewAnswer(
                    session_id=session.id,
                    member_id=member.id,
                    group_id=group.id,
                    checkin_id="weekly_checkin",
                    step_id="sales",
                    answer_type="money",
                    value_number=Decimal("10"),
                    currency="USD",
                    at=T0,
                )
            )
            raise Boom
    async with database.transaction() as uow:
        assert await uow.groups.list() == []
        assert await uow.members.by_address("telegram", "30") is None
        assert await uow.exports.answer_rows() == []
        for table in ("groups", "members", "addresses", "memberships", "sessions", "messages"):
            count = await uow.session.scalar(text(f"SELECT COUNT(*) FROM {table}"))
            assert count == 0, table


async def test_timestamps_read_back_aware_utc(database: Database) -> None:
    kampala = datetime(2025, 3, 3, 12, 0, tzinfo=ZoneInfo("Africa/Kampala"))
    bogota = datetime(2025, 3, 3, 4, 0, tzinfo=timezone(timedelta(hours=-5)))
    async with database.transaction() as uow:
        member = await uow.members.create("sms", "+256700000001", at=kampala)
        group = await uow.groups.create("Bakers", "Africa/Kampala", "en", "UGX", at=bogota)
    async with database.transaction() as uow:
        fetched = await uow.members.get(member.id)
        fetched_group = await uow.groups.get(group.id)
    assert fetched is not None and fetched_group is not None
    for moment in (fetched.created_at, fetched.updated_at, fetched_group.created_at):
        assert moment.tzinfo == UTC
        assert moment == datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
        assert moment.hour == 9


async def test_naive_timestamps_are_refused(database: Database) -> None:
    with pytest.raises(StatementError) as raised:
        async with database.transaction() as uow:
            await uow.members.create("sms", "+256700000002", at=datetime(2025, 3, 3, 9, 0))
    assert isinstance(raised.value.orig, ValueError)


async def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with database.transaction() as uow:
            await uow.members.add_address(12345, "sms", "+15550001111", at=T0)


# --- messages ------------------------------------------------------------------------------------


async def test_message_log_and_status_updates(database: Database) -> None:
    async with database.transaction() as uow:
        member = await _member(uow, "40")
        inbound = await uow.messages.log_inbound(
            member_id=member.id,
            channel="telegram",
            address_value="40",
            text="checkin",
            payload=None,
            provider_message_id="tg-1",
            at=T0,
        )
        outbound = await log_outbound(
            uow,
            member_id=member.id,
            channel="telegram",
            address_value="40",
            text="How much did you sell?",
            payload={"choices": [{"id": "skip", "label": "Skip"}]},
            at=T0 + MINUTE,
        )
    assert (inbound.direction, inbound.status, inbound.provider_message_id) == (
        "in",
        "received",
        "tg-1",
    )
    assert (outbound.direction, outbound.status, outbound.provider_message_id) == (
        "out",
        "queued",
        None,
    )
    async with database.transaction() as uow:
        assert await uow.messages.set_status(
            outbound.id, "sent", at=T0 + 2 * MINUTE, provider_message_id="tg-2"
        )
        assert await uow.messages.set_status(outbound.id, "read", at=T0 + 4 * MINUTE)
        # A late "delivered" callback never moves a read message back.
        assert not await uow.messages.set_status(outbound.id, "delivered", at=T0 + 5 * MINUTE)
        with pytest.raises(NotFound):
            await uow.messages.set_status(outbound.id + 1000, "sent", at=T0)
    async with database.transaction() as uow:
        [first, second] = await uow.messages.for_member(member.id, limit=10)
        assert await uow.messages.by_provider_id("telegram", "tg-2") == second
        assert await uow.messages.by_provider_id("whatsapp", "tg-2") is None
    assert first == inbound
    assert second.status == "read"
    assert second.provider_message_id == "tg-2"
    assert second.updated_at == T0 + 4 * MINUTE
    assert second.payload == {"choices": [{"id": "skip", "label": "Skip"}]}


async def test_a_failed_send_keeps_its_error_code(database: Database) -> None:
    async with database.transaction() as uow:
        message = await log_outbound(
            uow,
            member_id=None,
            channel="whatsapp",
            address_value="+231770000009",
            text="Hi",
            payload=None,
            at=T0,
        )
        assert await uow.messages.set_status(
            message.id, "failed", error_code="63016", at=T0 + MINUTE
        )
    async with database.transaction() as uow:
        stored = await uow.messages.by_provider_id("whatsapp", "none")
        assert stored is None
        rows = await uow.session.execute(
            text("SELECT status, error_code FROM messages WHERE id = :id"), {"id": message.id}
        )
        assert rows.one() == ("failed", "63016")


async def test_a_duplicate_delivery_is_logged_once(database: Database) -> None:
    async with database.transaction() as uow:
        first = await uow.messages.log_inbound(
            member_id=None,
            channel="sms",
            address_value="+15550000001",
            text="yes",
            payload=None,
            provider_message_id="SM123",
            at=T0,
        )
    async with database.transaction() as uow:
        with pytest.raises(DuplicateMessage) as raised:
            await uow.messages.log_inbound(
                member_id=None,
                channel="sms",
                address_value="+15550000001",
                text="yes",
                payload=None,
                provider_message_id="SM123",
                at=T0 + MINUTE,
            )
        assert raised.value.existing_id == first.id
        # The transaction is still usable after the duplicate.
        same_id_other_channel = await uow.messages.log_inbound(
            member_id=None,
            channel="whatsapp",
            address_value="+15550000001",
            text="yes",
            payload=None,
            provider_message_id="SM123",
            at=T0 + MINUTE,
        )
        without_ids = [
            await uow.messages.log_inbound(
                member_id=None,
                channel="sms",
                address_value="+15550000001",
                text="hello",
                payload=None,
                provider_message_id=None,
                at=T0,
            )
            for _ in range(2)
        ]
    async with database.transaction() as uow:
        count = await uow.session.scalar(text("SELECT COUNT(*) FROM messages"))
    assert count == 4
    assert same_id_other_channel.id != first.id
    assert without_ids[0].id != without_ids[1].id


async def test_for_member_returns_the_latest_messages_oldest_first(database: Database) -> None:
    async with database.transaction() as uow:
        member = await _member(uow, "41")
        other = await _member(uow, "42")
        for n in range(5):
            await log_outbound(
                uow,
                member_id=member.id,
                channel="telegram",
                address_value="41",
                text=f"line {n}",
                payload=None,
                at=T0 + n * MINUTE,
            )
        await log_outbound(
            uow,
            member_id=other.id,
            channel="telegram",
            address_value="42",
            text="not yours",
            payload=None,
            at=T0,
        )
    async with database.transaction() as uow:
        latest = await uow.messages.for_member(member.id, limit=3)
        everything = await uow.messages.for_member(member.id, limit=100)
    assert [message.text for message in latest] == ["line 2", "line 3", "line 4"]
    assert len(everything) == 5


# --- inbox ---------------------------------------------------------------------------------------


async def _event(
    uow: UnitOfWork, address: str, provider_id: str, *, channel: Channel = "telegram"
) -> int:
    entry_id = await uow.inbox.add(
        channel=channel,
        provider_id=provider_id,
        address=address,
        event={"text": provider_id},
        at=T0,
    )
    assert entry_id is not None
    return entry_id


async def test_add_many_returns_the_new_ids_in_the_order_given(database: Database) -> None:
    def events(*provider_ids: str) -> list[dict[str, object]]:
        return [
            {"channel": "sms", "provider_id": p, "address": "+15550000002", "event": {}}
            for p in provider_ids
        ]

    async with database.transaction() as uow:
        first = await uow.inbox.add_many(events("c", "a", "b"), T0)
        again = await uow.inbox.add_many(events("z", "a", "y", "y", "x"), T0)
        stored = [await uow.inbox.get(entry_id) for entry_id in [*first, *again]]
    assert [entry.provider_id for entry in stored if entry is not None] == list("cabzyx")


async def test_pending_from_lists_the_entry_s_address_pending_oldest_first(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        handled = await _event(uow, "60", "m0")
        first = await _event(uow, "60", "m1")
        await _event(uow, "61", "n1")
        await _event(uow, "60", "m1", channel="whatsapp")
        second = await _event(uow, "60", "m2")
        third = await _event(uow, "60", "m3")
        await _event(uow, "61", "n2")
        assert await uow.inbox.mark_processed(handled, T0)
    async with database.transaction() as uow:
        from_first = await uow.inbox.pending_from(first)
        from_third = await uow.inbox.pending_from(third)
        expected = await uow.inbox.pending_for("telegram", "60")
        at_most_two = await uow.inbox.pending_from(second, limit=2)
    assert [entry.id for entry in from_first] == [first, second, third]
    assert from_first == from_third == expected
    assert [entry.id for entry in at_most_two] == [first, second]
    assert from_first[0].event == {"text": "m1"}
    assert from_first[0].processed_at is None


async def test_pending_from_a_processed_or_unknown_entry_is_empty(database: Database) -> None:
    async with database.transaction() as uow:
        first = await _event(uow, "62", "p1")
        second = await _event(uow, "62", "p2")
        assert await uow.inbox.mark_processed(first, T0 + MINUTE)
    async with database.transaction() as uow:
        assert await uow.inbox.pending_from(first) == []
        assert await uow.inbox.pending_from(second + 1000) == []
        assert [entry.id for entry in await uow.inbox.pending_from(second)] == [second]


# --- stories -------------------------------------------------------------------------------------


async def test_stories(database: Database) -> None:
    async with database.transaction() as uow:
        member = await _member(uow, "50")
        first = await uow.stories.propose(member.id, None, None, "I bought a freezer!", T0)
        second = await uow.stories.propose(member.id, None, None, "New stall.", T0 + MINUTE)
        approved = await uow.stories.set_status(first.id, "approved")
        with pytest.raises(NotFound):
            await uow.stories.set_status(second.id + 1000, "rejected")
    assert first.status == "proposed"
    assert approved.status == "approved"
    async with database.transaction() as uow:
        assert [story.id for story in await uow.stories.list()] == [first.id, second.id]
        assert await uow.stories.list("proposed") == [second]
        assert await uow.stories.list("approved") == [approved]
        assert await uow.stories.list("published") == []


# --- exports -------------------------------------------------------------------------------------


async def test_answer_rows_content_and_order(database: Database) -> None:
    async with database.transaction() as uow:
        bakers = await uow.groups.create("Bakers", "Africa/Monrovia", "en", "LRD", at=T0)
        tailors = await uow.groups.create("Tailors", "UTC", "en", "USD", at=T0)
        fatu = await uow.members.create("whatsapp", "+231770000010", at=T0)
        fatu = await uow.members.update(fatu.id, name="Fatu", at=T0)
        await uow.members.add_address(fatu.id, "telegram", "777", at=T0)
        musa = await _member(uow, "888", "Musa")
        await uow.members.join_group(fatu.id, bakers.id, T0)
        await uow.members.join_group(musa.id, tailors.id, T0)
        fatu_session = await _session(uow, fatu.id)
        musa_session = await _session(uow, musa.id)

        async def add(**columns: Any) -> int:
            return await uow.answers.add(NewAnswer(checkin_id="weekly_checkin", **columns))

        late = await add(
            member_id=fatu.id,
            group_id=bakers.id,
            session_id=fatu_session.id,
            step_id="win",
            answer_type="text",
            value_text="Sold out, twice",
            raw_text="Sold out, twice",
            at=T0 + 3 * MINUTE,
        )
        sales = await add(
            member_id=fatu.id,
            group_id=bakers.id,
            session_id=fatu_session.id,
            step_id="sales",
            answer_type="money",
            value_number=Decimal("1500.50"),
            currency="LRD",
            raw_text="1,500.50",
            at=T0 + MINUTE,
        )
        musa_day = await add(
            member_id=musa.id,
            group_id=tailors.id,
            session_id=musa_session.id,
            step_id="when",
            answer_type="date",
            value_date=date(2025, 3, 1),
            raw_text="saturday",
            at=T0 + MINUTE,
        )
        sells = await add(
            member_id=fatu.id,
            group_id=bakers.id,
            session_id=fatu_session.id,
            step_id="sells",
            answer_type="multi_choice",
            value_choice=("bread", "cake"),
            raw_text="1 2",
            at=T0 + 2 * MINUTE,
        )
        helped = await add(
            member_id=fatu.id,
            group_id=bakers.id,
            session_id=fatu_session.id,
            step_id="helped",
            answer_type="member",
            value_json={"member_id": musa.id, "name": "Musa"},
            raw_text="musa",
            at=T0 + 2 * MINUTE,
        )
        skipped = await add(
            member_id=musa.id,
            group_id=tailors.id,
            session_id=musa_session.id,
            step_id="win",
            answer_type="text",
            skipped=True,
            raw_text="skip",
            at=T0 + 4 * MINUTE,
        )
    async with database.transaction() as uow:
        rows = await uow.exports.answer_rows()
        bakers_rows = await uow.exports.answer_rows(bakers.id)
    assert [row.answer_id for row in rows] == [
        min(sales, musa_day),
        max(sales, musa_day),
        sells,
        helped,
        late,
        skipped,
    ]
    by_id = {row.answer_id: row for row in rows}
    money = by_id[sales]
    assert money.member_id == fatu.id
    assert money.member_name == "Fatu"
    assert money.member_address == "whatsapp:+231770000010"
    assert (money.group_id, money.group_name) == (bakers.id, "Bakers")
    assert (money.checkin_id, money.step_id, money.answer_type) == (
        "weekly_checkin",
        "sales",
        "money",
    )
    assert (money.value, money.currency, money.skipped, money.raw_text) == (
        "1500.50",
        "LRD",
        False,
        "1,500.50",
    )
    assert money.created_at == "2025-03-03T09:01:00+00:00"
    assert by_id[musa_day].value == "2025-03-01"
    assert by_id[musa_day].member_address == "telegram:888"
    assert by_id[musa_day].group_name == "Tailors"
    assert by_id[sells].value == "bread,cake"
    assert by_id[helped].value == f'{{"member_id":{musa.id},"name":"Musa"}}'
    assert by_id[late].value == "Sold out, twice"
    assert (by_id[skipped].value, by_id[skipped].skipped) == ("", True)
    assert [row.answer_id for row in bakers_rows] == [sales, sells, helped, late]


async def test_help_rows(database: Database) -> None:
    async with database.transaction() as uow:
        bakers = await uow.groups.create("Bakers", "UTC", "en", "USD", at=T0)
        ama = await _member(uow, "60", "Ama")
        kojo = await _member(uow, "61", "Kojo")
        session = await _session(uow, ama.id)
        second = await uow.help.add(
            giver_id=kojo.id,
            receiver_id=ama.id,
            group_id=None,
            kind="lent_money",
            session_id=None,
            reported_by_id=ama.id,
            at=T0 + MINUTE,
        )
        first = await uow.help.add(
            giver_id=ama.id,
            receiver_id=kojo.id,
            group_id=bakers.id,
            kind="advice",
            session_id=session.id,
            reported_by_id=ama.id,
            at=T0,
        )
    async with database.transaction() as uow:
        rows = await uow.exports.help_rows()
        bakers_rows = await uow.exports.help_rows(bakers.id)
    assert [row.help_id for row in rows] == [first, second]
    advice = rows[0]
    assert (advice.giver_id, advice.giver_name, advice.receiver_id, advice.receiver_name) == (
        ama.id,
        "Ama",
        kojo.id,
        "Kojo",
    )
    assert (advice.group_id, advice.group_name, advice.kind, advice.note) == (
        bakers.id,
        "Bakers",
        "advice",
        None,
    )
    assert advice.created_at == "2025-03-03T09:00:00+00:00"
    assert (rows[1].group_name, rows[1].kind, rows[1].note) == (None, "lent_money", None)
    assert bakers_rows == [advice]
