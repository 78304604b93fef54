"""A small program for the console's tests: two groups, members who talked to the bot, and
three staff users (an admin, a coordinator of one group, a `staff`), each with a password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from bot.turns.service import ConversationService
from bot.web.console.passwords import hash_password
from conversations.inputs import Reply
from storage import Database

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
KIBERA_MEMBER = "+254712345678"
OTHER_MEMBER = "+254700000009"
WHATSAPP_MEMBER = "+254711111111"


@dataclass
class Clock:
    """A clock the tests move."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass(frozen=True)
class Program:
    kibera_group: int
    other_group: int
    kibera_member: int
    other_member: int
    whatsapp_member: int
    admin: int
    coordinator: int
    staff: int


async def _member(database: Database, channel: str, address: str) -> int:
    async with database.read() as uow:
        member = await uow.members.by_address(channel, address)  # type: ignore[arg-type]
        assert member is not None
        return member.id


async def seed(database: Database, service: ConversationService) -> Program:
    async with database.transaction() as uow:
        kibera = await uow.groups.create(
            "Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=START
        )
        other = await uow.groups.create("Mathare Tailors", "Africa/Nairobi", "en", "KES", at=START)
    for address, name, group in (
        (KIBERA_MEMBER, "Amina", kibera),
        (OTHER_MEMBER, "Baraka", other),
    ):
        for line in ("hi", "1", "yes", name, "1", "yes", group.join_code):
            await service.receive_from("console", address, Reply(text=line))
    await service.receive_from("console", KIBERA_MEMBER, Reply(text="I sold mangoes at the market"))
    await service.receive_from("console", OTHER_MEMBER, Reply(text="mangoes are cheap here"))
    async with database.transaction() as uow:
        wa = await uow.members.create(
            "whatsapp", WHATSAPP_MEMBER, "en", at=START - timedelta(days=3)
        )
        await uow.members.update(wa.id, at=START, name="Wanjiru")
        await uow.members.join_group(wa.id, kibera.id, START - timedelta(days=3))
        await uow.members.touch_inbound("whatsapp", WHATSAPP_MEMBER, START - timedelta(days=2))
        await uow.messages.log_inbound(
            member_id=wa.id,
            channel="whatsapp",
            address_value=WHATSAPP_MEMBER,
            text="hello from whatsapp",
            payload=None,
            provider_message_id="SM1",
            at=START - timedelta(days=2),
        )
        admin = await uow.staff.add("Grace", "admin", email="grace@example.org", at=START)
        coordinator = await uow.staff.add(
            "Juan", "coordinator", email="juan@example.org", phone="+254700000100", at=START
        )
        staff = await uow.staff.add("Sam", "staff", email="sam@example.org", at=START)
        await uow.staff.set_groups(coordinator.id, [kibera.id])
        await uow.staff.set_groups(staff.id, [kibera.id])
        password_hash = hash_password(PASSWORD)
        for person in (admin, coordinator, staff):
            await uow.sign_in.set_password_hash(person.id, password_hash)
    return Program(
        kibera_group=kibera.id,
        other_group=other.id,
        kibera_member=await _member(database, "console", KIBERA_MEMBER),
        other_member=await _member(database, "console", OTHER_MEMBER),
        whatsapp_member=await _member(database, "whatsapp", WHATSAPP_MEMBER),
        admin=admin.id,
        coordinator=coordinator.id,
        staff=staff.id,
    )


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, login: str, password: str = PASSWORD
) -> httpx.Response:
    form = await client.get("/console/login")
    return await client.post(
        "/console/login",
        data={"login": login, "password": password, "csrf_token": csrf_of(form.text)},
    )
