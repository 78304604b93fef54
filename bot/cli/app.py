"""What every command shares: `App` (settings, the database and check-ins on demand), `pass_app`
and the lookups commands have in common. A leaf: command modules import it, it imports none."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from bot.i18n.catalogs import load_catalogs
from bot.settings import Settings
from bot.turns.checkins import Checkins, load_checkins
from conversations.loader import DefinitionError
from storage.database import Database
from storage.errors import DatabaseUnavailable
from storage.records import GroupRecord
from storage.unit_of_work import UnitOfWork

T = TypeVar("T")


class App:
    """What every command shares: settings, and the database and check-ins on demand."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def checkins(self) -> Checkins:
        try:
            catalogs = load_catalogs(self.settings.locales_path)
            return load_checkins(catalogs, self.settings.checkins_path)
        except DefinitionError as error:
            raise click.ClickException(
                f"the check-in definitions have problems:\n{error}"
            ) from error

    def run(self, work: Callable[[Database], Awaitable[T]]) -> T:
        async def main() -> T:
            database = Database(
                self.settings.database_url, pool_size=self.settings.database_pool_size
            )
            try:
                await database.upgrade()
                return await work(database)
            finally:
                await database.dispose()

        try:
            return asyncio.run(main())
        except DatabaseUnavailable as error:
            raise click.ClickException(str(error)) from error


pass_app = click.make_pass_decorator(App)


async def find_group(uow: UnitOfWork, reference: str) -> GroupRecord:
    """The group `reference` names, by join code or by name; a clear error when there is none."""
    found = await uow.groups.find(reference)
    if found is None:
        raise click.ClickException(
            f'no group is named or has the join code "{reference}" '
            "(mutuality groups list shows them)"
        )
    return found
