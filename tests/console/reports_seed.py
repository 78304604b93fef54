"""The evidence plan of `tests/reports/plan.py` behind a console: Kibera and Mombasa with their
members' weeks, an admin, a coordinator of each group, and a `staff` user of Kibera."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from bot.runtime import Runtime
from bot.settings import Settings
from bot.web.app import create_app
from bot.web.console.passwords import hash_password
from storage import Database
from tests.console.seed import PASSWORD, Clock
from tests.reports.plan import NOW, program, seed

RESEARCH_KEY = "a research key that is long enough"


@dataclass(frozen=True)
class People:
    groups: dict[str, int]
    members: dict[str, int]
    admin: int
    kibera_coordinator: int
    mombasa_coordinator: int
    staff: int


async def seed_reports(database: Database) -> People:
    async with database.transaction() as uow:
        groups, members = await seed(uow, program())
        admin = await uow.staff.add("Grace", "admin", email="grace@example.org", at=NOW)
        kibera = await uow.staff.add("Juan", "coordinator", email="juan@example.org", at=NOW)
        mombasa = await uow.staff.add("Rosa", "coordinator", email="rosa@example.org", at=NOW)
        staff = await uow.staff.add("Sam", "staff", email="sam@example.org", at=NOW)
        await uow.staff.set_groups(kibera.id, [groups["Kibera"]])
        await uow.staff.set_groups(mombasa.id, [groups["Mombasa"]])
        await uow.staff.set_groups(staff.id, [groups["Kibera"]])
        password_hash = hash_password(PASSWORD)
        for person in (admin, kibera, mombasa, staff):
            await uow.sign_in.set_password_hash(person.id, password_hash)
    return People(groups, members, admin.id, kibera.id, mombasa.id, staff.id)


@dataclass
class ReportsConsole:
    runtime: Runtime
    people: People
    client: httpx.AsyncClient


@asynccontextmanager
async def reports_console(
    database_url: str, research_key: str | None = RESEARCH_KEY
) -> AsyncIterator[ReportsConsole]:
    settings = Settings(
        DATABASE_URL=database_url,
        CONSOLE_SECRET="a test secret for signing cookies",
        RESEARCH_EXPORT_KEY=SecretStr(research_key) if research_key else None,
        _env_file=None,  # type: ignore[call-arg]
    )
    async with Runtime.open(settings, clock=Clock(NOW)) as runtime:
        people = await seed_reports(runtime.database)
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
            yield ReportsConsole(runtime, people, client)
