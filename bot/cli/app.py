"""What every command shares: `App` (settings, the database and check-ins on demand), `pass_app`
and the lookups commands have in common. A leaf: command modules import it, it imports none."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import click

from bot.i18n.catalogs import load_catalogs
from bot.leftover_tasks import run_to_the_end
from bot.settings import Settings
from bot.turns.checkins import Checkins, load_checkins
from conversations.loader import DefinitionError
from storage.database import Database
from storage.errors import DatabaseUnavailable
from storage.records import GroupRecord
from storage.unit_of_work import UnitOfWork

T = TypeVar("T")
log = logging.getLogger(__name__)


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
            # as `asyncio.run`, and the tasks the command left are ended for sure: a Ctrl-C
            # that lands in a database call can leave one that awaits again when cancelled
            return run_to_the_end(main())
        except DatabaseUnavailable as error:
            raise click.ClickException(str(error)) from error

    @asynccontextmanager
    async def sender_wake(self) -> AsyncIterator[Callable[[], Awaitable[None]] | None]:
        """What wakes the senders of the running processes after a command queued lines: a
        push to their wake-up queue in Redis when `REDIS_URL` is set. Without Redis the
        senders live in other processes' memory, out of reach (None): they find the lines at
        their next look at the outbox, within a second. A wake that fails is logged: the lines
        are committed, and the senders find them the same way."""
        if not self.settings.redis_url:
            yield None
            return
        # imported here: commands that queue nothing never load the Redis client
        from bot.pipeline.coordination.factory import coordination

        shared = await coordination(self.settings.redis_url, self.settings.redis_prefix)

        async def wake() -> None:
            try:
                await shared.outbox_wakeup.push("1")
            except Exception as error:
                log.warning("could not wake the senders (%s); they find the lines anyway", error)

        try:
            yield wake
        finally:
            await shared.close()


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
