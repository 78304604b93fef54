"""The conversation service over real storage: one transaction per turn, in order, nothing lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.i18n.catalogs import load_catalogs
from bot.turns.checkins import load_checkins
from bot.turns.service import ConversationService, Inbound
from conversations.inputs import CommandInput, Reply
from conversations.words import Command
from storage import Database
from storage.models import CheckinResult

CHECKINS = load_checkins(load_catalogs())
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def service(database: Database) -> ConversationService:
    return ConversationService(database, CHECKINS, "KE", clock=lambda: NOW)


async def say(svc: ConversationService, address: str, *lines: str) -> list[str]:
    said: list[str] = []
    for line in lines:
        said.extend(
            message.text for message in await svc.receive_from("console", address, Reply(text=line))
        )
    return said


async def onboard(svc: ConversationService, address: str, name: str, code: str) -> None:
    await say(svc, address, "hi", "1", "yes", name, "1", "yes", code)


async def test_two_members_of_a_group_refer_to_each_other(database: Database) -> None:
    async with database.transaction() as uow:
        group = await uow.groups.create(
            "Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=NOW
        )
    svc = service(database)
    await onboard(svc, "+254712345678", "Amina", group.join_code.lower())
    await onboard(svc, "+254700000002", "Grace", group.join_code)
    said = await say(
        svc, "+254700000002", "checkin", "ksh 2,000", "500", "100", "yes", "amina", "1"
    )
    assert said[-1] == "Did a member of your group help you this week?"
    await say(svc, "+254700000002", "no", "rain", "more stock", "skip")

    async with database.transaction() as uow:
        answers = await uow.exports.answer_rows()
        helps = await uow.exports.help_rows()
        groups = await uow.groups.list()
    weekly = {row.step_id: row for row in answers if row.checkin_id == "weekly_checkin"}
    assert weekly["sales"].value == "2000.00" and weekly["sales"].currency == "KES"
    assert weekly["sales"].raw_text == "ksh 2,000"
    assert weekly["sales"].member_name == "Grace"
    assert weekly["sales"].member_address == "console:+254700000002"
    assert weekly["sales"].group_name == "Kibera Market Peers"
    assert weekly["gave_help_to"].value == "Amina"
    assert weekly["win"].skipped is True
    assert [(h.giver_name, h.receiver_name, h.kind) for h in helps] == [
        ("Grace", "Amina", "advice")
    ]
    assert groups[0].member_count == 2


async def test_every_line_is_in_the_message_log(database: Database) -> None:
    svc = service(database)
    outbound = await svc.receive_from("console", "+254712345678", Reply(text="hello"))
    for message in outbound:
        await svc.mark_sent(message)
    async with database.transaction() as uow:
        member = await uow.members.by_address("console", "+254712345678")
        assert member is not None
        log = await uow.messages.for_member(member.id)
    assert [(m.direction, m.text[:8], m.status) for m in log] == [
        ("in", "hello", "received"),
        ("out", "Welcome!", "sent"),
    ]
    assert log[1].payload["choices"][0] == ["en", "English"]


async def test_a_failing_turn_writes_nothing(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = service(database)
    await say(svc, "+254712345678", "hi", "1")

    from storage.repositories.answers import AnswerRepository

    async def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(AnswerRepository, "add_many", broken)
    with pytest.raises(RuntimeError):
        await say(svc, "+254712345678", "yes")
    monkeypatch.undo()

    async with database.transaction() as uow:
        member = await uow.members.by_address("console", "+254712345678")
        assert member is not None and member.consent is None
        session = await uow.sessions.active_for(member.id)
        assert session is not None and session.step_id == "consent"
        log = await uow.messages.for_member(member.id)
    assert [m.text for m in log if m.direction == "in"] == ["hi", "1"]
    # the member can answer again and the conversation goes on
    assert await say(svc, "+254712345678", "yes") == ["Thank you! What name should I call you?"]


async def test_messages_of_one_member_are_handled_one_at_a_time_in_order(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        group = await uow.groups.create("Peers", "Africa/Nairobi", "en", "KES", at=NOW)
    svc = service(database)
    await onboard(svc, "+254712345678", "Amina", group.join_code)
    await say(svc, "+254712345678", "checkin")
    results = await asyncio.gather(
        svc.receive_from("console", "+254712345678", Reply(text="100")),
        svc.receive_from("console", "+254712345678", Reply(text="200")),
        svc.receive_from("console", "+254712345678", Reply(text="300")),
    )
    assert [r[0].text for r in results] == [
        "How much did you spend on stock or other costs?",
        "How much did you save this week?",
        "What was your biggest challenge this week? (or send SKIP)",
    ]
    async with database.transaction() as uow:
        answers = await uow.exports.answer_rows()
    weekly = {row.step_id: row.value for row in answers if row.checkin_id == "weekly_checkin"}
    assert weekly == {"sales": "100.00", "costs": "200.00", "saved": "300.00"}


async def test_amounts_are_stored_exactly(database: Database) -> None:
    async with database.transaction() as uow:
        group = await uow.groups.create("Peers", "America/Bogota", "es", "COP", at=NOW)
    svc = service(database)
    await say(svc, "+573001234567", "hola", "2", "sí", "Marta", "1", "sí", group.join_code)
    await say(svc, "+573001234567", "registro", "1.234.567,89")
    async with database.transaction() as uow:
        answers = await uow.exports.answer_rows()
    sales = next(row for row in answers if row.step_id == "sales")
    assert Decimal(sales.value) == Decimal("1234567.89")
    assert sales.currency == "COP"


async def test_a_new_member_gets_currency_and_language_from_the_phone_number(
    database: Database,
) -> None:
    svc = service(database)
    said = await say(svc, "+525512345678", "hola")
    assert said == ["¡Hola! Soy el diario de negocios de tu grupo. ¿Qué idioma prefieres?"]
    said = await say(svc, "+525512345678", "2", "sí", "Rosa", "1")
    assert said[-1] == "¿Qué moneda usas? Envía SÍ para MXN, o envía otra, como USD."
    await say(svc, "+525512345678", "sí")
    async with database.transaction() as uow:
        member = await uow.members.by_address("console", "+525512345678")
    assert member is not None and member.currency == "MXN" and member.locale == "es"


async def test_a_member_who_joins_with_a_code_is_offered_the_groups_currency(
    database: Database,
) -> None:
    async with database.transaction() as uow:
        group = await uow.groups.create("Tindahan ng Tondo", "Asia/Manila", "en", "PHP", at=NOW)
    svc = service(database)
    start = Inbound("telegram", "7000001", Reply(text=f"/start join-{group.join_code}"))
    async with database.transaction() as uow:
        await svc.message_turn(
            uow, start, CommandInput(Command.START, f"join-{group.join_code}"), NOW,
            join_code=group.join_code,
        )  # fmt: skip
    said = []
    for line in ("1", "yes", "Maria", "1"):
        replies = await svc.receive_from("telegram", "7000001", Reply(text=line))
        said.extend(message.text for message in replies)
    assert said[-1].startswith("Which currency do you use? Send YES for PHP")
    # without a code, the phone's country still decides (KE here, for a Telegram id)
    said = await say(svc, "+254712345678", "hi", "1", "yes", "Amina", "1")
    assert said[-1].startswith("Which currency do you use? Send YES for KES")


async def test_the_turn_that_completes_a_check_in_stores_its_result(database: Database) -> None:
    async with database.transaction() as uow:
        group = await uow.groups.create("Peers", "Africa/Nairobi", "en", "KES", at=NOW)
    svc = service(database)
    await onboard(svc, "+254712345678", "Amina", group.join_code)
    await onboard(svc, "+254700000002", "Grace", group.join_code)
    weekly = select(CheckinResult).where(CheckinResult.checkin_id == "weekly_checkin")
    await say(
        svc, "+254700000002", "checkin", "2000", "500", "100", "no", "no", "rain", "more stock"
    )
    async with database.read() as uow:
        assert (await uow.session.scalars(weekly)).all() == []
    await say(svc, "+254700000002", "skip")  # the last question: the check-in is completed
    async with database.read() as uow:
        grace = await uow.members.by_address("console", "+254700000002")
        results = (await uow.session.scalars(weekly)).all()
    assert grace is not None
    assert [(r.member_id, r.group_id, r.checkin_id, r.ended_at) for r in results] == [
        (grace.id, group.id, "weekly_checkin", NOW)
    ]
    assert {step: (Decimal(v), c) for step, (v, c) in results[0].amounts.items()} == {
        "sales": (Decimal(2000), "KES"),
        "costs": (Decimal(500), "KES"),
        "saved": (Decimal(100), "KES"),
    }


async def test_a_new_members_first_message_that_is_a_join_code_joins_the_group(
    database: Database,
) -> None:
    """What a shared `wa.me/...?text=CODE` link sends: the member is in the group at once and
    onboarding does not ask for the code again. A later message never joins anyone."""
    async with database.transaction() as uow:
        group = await uow.groups.create("Kibera", "Africa/Nairobi", "en", "KES", at=NOW)
        other = await uow.groups.create("Mathare", "Africa/Nairobi", "en", "KES", at=NOW)
    svc = service(database)
    said = await say(svc, "+254712345678", group.join_code.lower(), "1", "yes", "Amina", "1", "yes")
    assert said[-1].startswith("You are all set, Amina!")
    assert not any("join code" in line for line in said)
    await say(svc, "+254700000009", "hi", "1", "yes", "Baraka", "1", "yes", "skip")
    await say(svc, "+254700000009", other.join_code)  # not a first message: an ordinary reply
    async with database.read() as uow:
        amina = await uow.members.by_address("console", "+254712345678")
        baraka = await uow.members.by_address("console", "+254700000009")
        assert amina is not None and baraka is not None
        assert (await uow.members.current_group(amina.id)) == await uow.groups.get(group.id)
        assert await uow.members.current_group(baraka.id) is None
