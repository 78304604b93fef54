"""A member a coordinator has taken over gets no bot answer and no nudge; their messages are
still stored. A member who asks for a person waits for one and is told so, in their language."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.channels.base import TimerEvent
from bot.i18n.catalogs import load_catalogs
from bot.turns.checkins import load_checkins
from bot.turns.service import ConversationService, Inbound
from conversations.inputs import Reply
from storage import Database

CHECKINS = load_checkins(load_catalogs())
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ADDRESS = "+254712345678"


def service(database: Database) -> ConversationService:
    return ConversationService(database, CHECKINS, "KE", clock=lambda: NOW)


async def _coordinator(database: Database) -> int:
    async with database.transaction() as uow:
        staff = await uow.staff.add("Juan", "coordinator", email="juan@example.org", at=NOW)
    return staff.id


async def _member_id(database: Database) -> int:
    async with database.transaction() as uow:
        member = await uow.members.by_address("console", ADDRESS)
        assert member is not None
        return member.id


async def _log(database: Database, member_id: int) -> list[tuple[str, str]]:
    async with database.read() as uow:
        return [(m.direction, m.text) for m in await uow.messages.for_member(member_id, 100)]


async def test_a_taken_over_member_gets_no_engine_turn(database: Database) -> None:
    svc = service(database)
    assert await svc.receive_from("console", ADDRESS, Reply(text="hi"))  # the bot greets
    member_id = await _member_id(database)
    staff_id = await _coordinator(database)
    async with database.transaction() as uow:
        await uow.conversations.take_over(member_id, staff_id, NOW)

    assert await svc.receive_from("console", ADDRESS, Reply(text="hello, anyone?")) == []
    assert (await _log(database, member_id))[-1] == ("in", "hello, anyone?")

    async with database.transaction() as uow:
        await uow.conversations.hand_back(member_id)
    assert await svc.receive_from("console", ADDRESS, Reply(text="help")) != []


async def test_a_taken_over_member_gets_no_nudge(database: Database) -> None:
    svc = service(database)
    async with database.transaction() as uow:
        group = await uow.groups.create(
            "Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=NOW
        )
    for address, name in ((ADDRESS, "Amina"), ("+254700000002", "Grace")):
        for line in ("hi", "1", "yes", name, "1", "yes", group.join_code):
            await svc.receive_from("console", address, Reply(text=line))
    member_id = await _member_id(database)
    staff_id = await _coordinator(database)
    async with database.transaction() as uow:
        await uow.conversations.take_over(member_id, staff_id, NOW)
    async with database.transaction() as uow:
        for address, expected in ((ADDRESS, False), ("+254700000002", True)):
            timer = TimerEvent("console", address, f"start:{address}", "start", "weekly_checkin")
            assert bool(await svc.timer_turn(uow, timer, NOW)) is expected


async def test_several_turns_at_once_respect_a_take_over(database: Database) -> None:
    svc = service(database)
    await svc.receive_from("console", ADDRESS, Reply(text="hi"))
    await svc.receive_from("console", "+254700000002", Reply(text="hi"))
    member_id = await _member_id(database)
    staff_id = await _coordinator(database)
    async with database.transaction() as uow:
        await uow.conversations.take_over(member_id, staff_id, NOW)
    async with database.transaction() as uow:
        taken = await uow.members.by_address("console", ADDRESS)
        other = await uow.members.by_address("console", "+254700000002")
        assert taken is not None and other is not None
        results = await svc.message_turns(
            uow,
            [
                (Inbound("console", ADDRESS, Reply(text="are you there")), taken),
                (Inbound("console", "+254700000002", Reply(text="help")), other),
            ],
            NOW,
        )
    assert results[0] == [] and results[1] != []
    assert (await _log(database, member_id))[-1] == ("in", "are you there")


async def test_asking_for_a_person_waits_for_one_in_the_members_language(
    database: Database,
) -> None:
    svc = service(database)
    await svc.receive_from("console", ADDRESS, Reply(text="hi"))
    member_id = await _member_id(database)
    async with database.transaction() as uow:
        await uow.members.update(member_id, at=NOW, locale="es")
    said = await svc.receive_from("console", ADDRESS, Reply(text="Agente"))
    expected = CHECKINS.catalogs.gettext(
        "es", "Thank you. A coordinator will answer you here soon."
    )
    assert expected != "Thank you. A coordinator will answer you here soon."
    assert [line.text for line in said] == [expected]
    async with database.read() as uow:
        assert await uow.conversations.waiting_count(None) == 1
        member = await uow.members.get(member_id)
    assert member is not None and member.waiting_since == NOW


async def test_agent_is_an_answer_where_a_check_in_asks_for_free_text(database: Database) -> None:
    svc = service(database)
    for line in ("hi", "1", "yes"):  # onboarding now asks for a name (free text)
        await svc.receive_from("console", ADDRESS, Reply(text=line))
    said = await svc.receive_from("console", ADDRESS, Reply(text="Agent"))
    assert all("coordinator will answer" not in line.text for line in said)
    async with database.read() as uow:
        member = await uow.members.by_address("console", ADDRESS)
        assert await uow.conversations.waiting_count(None) == 0
    assert member is not None and member.name == "Agent" and member.waiting_since is None
