"""`mutuality clock` as a real process, killed with SIGKILL in the middle of a sweep and
started again: every member still gets exactly one invitation and every group's members exactly
one weekly highlight (rows in the outbox), none lost and none twice. On the test's database
(SQLite, and PostgreSQL when TEST_DATABASE_URL is set).

Many groups come due at once, so the sweep takes a while: the weekly highlights are written
group by group, each group in its own transaction, and the process is killed once some of them
are in the outbox and before all are. A killed clock's lease runs for 90 s; the test moves its
end to the past rather than wait for it (that a clock sweeps nothing while another's lease runs
is `test_clock.py`'s two-clocks test)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Select, func, select, update

from bot.i18n.catalogs import load_catalogs
from bot.pipeline.coordination.factory import coordination
from bot.pipeline.dispatch import EventHandler
from bot.pipeline.worker import Worker
from bot.turns.checkins import load_checkins
from bot.turns.service import ConversationService
from storage import Database
from storage.models import Group, InboxEntry, Lease, Message
from tests.bot.test_stopping import MUTUALITY, env_for

GROUPS = 60
MEMBERS_PER_GROUP = 3
MEMBERS = GROUPS * MEMBERS_PER_GROUP
CHECKINS = load_checkins(load_catalogs())


@contextlib.asynccontextmanager
async def clock_process(
    env: dict[str, str], log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            MUTUALITY, "clock", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=stderr
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def seed(database: Database, due: datetime) -> None:
    """`GROUPS` groups of three consenting Telegram members, each group's invitation and
    highlight moments come two minutes ago."""
    async with database.transaction() as uow:
        for number in range(GROUPS):
            group = await uow.groups.create(
                f"Peers {number:03}", "Africa/Nairobi", "en", "KES", at=due - timedelta(days=30)
            )
            for seat in range(MEMBERS_PER_GROUP):
                chat = str(7_700_000 + number * MEMBERS_PER_GROUP + seat)
                member = await uow.members.create("telegram", chat, "en", "KES", at=due)
                await uow.members.update(
                    member.id, at=due, name=f"Member {chat}", consent=True, onboarded_at=due
                )
                await uow.members.join_group(member.id, group.id, due)
                await uow.members.touch_inbound("telegram", chat, due)
        await uow.session.execute(update(Group).values(next_checkin_at=due, next_highlight_at=due))


async def count(database: Database, statement: Select[tuple[int]] | Select[int]) -> int:
    async with database.read() as uow:
        return int(await uow.session.scalar(statement) or 0)


HIGHLIGHTS = (
    select(func.count())
    .select_from(Message)
    .where(Message.direction == "out", Message.payload["nudge"].as_string() == "highlight")
)
TIMERS = select(func.count()).select_from(InboxEntry).where(InboxEntry.channel == "telegram")


async def wait_until(condition: Callable[[], Awaitable[bool]], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 (another process's rows)
            await asyncio.sleep(0.05)


async def outbound_by_chat(database: Database) -> dict[str, list[str]]:
    """Every chat's outbound lines, by the nudge that made them."""
    async with database.read() as uow:
        rows = await uow.session.execute(
            select(Message.address_value, Message.payload).where(Message.direction == "out")
        )
        by_chat: dict[str, list[str]] = {}
        for chat, payload in rows:
            by_chat.setdefault(chat, []).append(str((payload or {}).get("nudge")))
    return by_chat


async def test_a_clock_killed_mid_sweep_and_restarted_loses_and_repeats_nothing(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    due = datetime.now(UTC) - timedelta(minutes=2)
    await seed(database, due)
    env = env_for(database_url)
    log = tmp_path / "clock.log"

    async def some_highlights() -> bool:
        return await count(database, HIGHLIGHTS) > 0

    async with clock_process(env, log) as first:
        await wait_until(some_highlights, 120)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    written = await count(database, HIGHLIGHTS)
    assert 0 < written < MEMBERS, f"killed after {written} of {MEMBERS} highlight lines"
    assert await count(database, TIMERS) == MEMBERS  # the invitations' one batch came first

    async with database.transaction() as uow:  # as if the dead clock's 90 s had passed
        await uow.session.execute(
            update(Lease).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    async def every_highlight() -> bool:
        return await count(database, HIGHLIGHTS) >= MEMBERS

    async with clock_process(env, log) as second:
        await wait_until(every_highlight, 120)
        await asyncio.sleep(0.5)  # a line written twice would land now, in the same sweep
        second.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await second.wait()
    assert second.returncode == 0, log.read_text()[-2000:]
    assert await count(database, TIMERS) == MEMBERS

    # the workers turn the invitation timers into lines, as `mutuality worker` would
    coordinated = await coordination(None)
    try:
        service = ConversationService(database, CHECKINS, "KE")
        worker = Worker(database, coordinated, EventHandler(service), {}, service.clock)
        async with database.transaction() as uow:
            pending = await uow.inbox.pending_addresses(datetime.now(UTC) + timedelta(days=1))
        for start in range(0, len(pending), 32):  # as a worker takes them: 32 at a time
            await worker.handle_entries(pending[start : start + 32])
    finally:
        await coordinated.close()

    by_chat = await outbound_by_chat(database)
    assert len(by_chat) == MEMBERS
    for chat, nudges in by_chat.items():
        assert sorted(nudges) == ["checkin_invitation", "highlight"], (chat, nudges)
