"""Lines the bot queues of itself wake the sender as replies do: a broadcast (started by the
clock, or sent now from the command line) and a weekly highlight go out at once, not at the
sender's next look at the outbox.

The sender looks at the outbox every 60 s here when nobody wakes it, and the first line must
reach the fake Telegram within 10 s of being queued: without a wake-up it waits the whole
minute. Each case runs on the in-process coordination and, when `TEST_REDIS_URL` is set, on
Redis (under a key prefix of its own, deleted afterwards), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.channels.telegram import TelegramChannel
from bot.i18n.catalogs import load_catalogs
from bot.pipeline.coordination.contracts import Coordination, WorkQueue
from bot.pipeline.coordination.factory import coordination
from bot.pipeline.sender import Limits, Sender
from bot.schedule.sweeper import Sweeper, SweepPolicy
from bot.turns.checkins import load_checkins
from storage import Database
from tests.broadcasts import seed
from tests.fakes.telegram_api import FakeTelegram

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "").strip()
COORDINATIONS = ["memory", *(["redis"] if TEST_REDIS_URL else [])]
TOKEN = "123456:WAKE-test"
IDLE_POLL = 60.0
PROMPTLY = 10.0
"""Generous for a loaded machine, and far below `IDLE_POLL`."""
LIMITS = Limits(telegram_per_second=30.0)
CHECKINS = load_checkins(load_catalogs())
MUTUALITY = str(Path(sys.executable).parent / "mutuality")
CHATS = ("7600001", "7600002", "7600003")


class Watched:
    """A wake-up queue that says when both lanes of the sender wait on it: the sender is idle."""

    def __init__(self, queue: WorkQueue, lanes: int) -> None:
        self.queue = queue
        self.waiting = 0
        self.lanes = lanes
        self.idle = asyncio.Event()

    async def push(self, item: str) -> None:
        await self.queue.push(item)

    async def push_many(self, items: Sequence[str]) -> None:
        await self.queue.push_many(items)

    async def pop(self, timeout: float) -> str | None:
        self.waiting += 1
        if self.waiting >= self.lanes:
            self.idle.set()
        try:
            return await self.queue.pop(timeout)
        finally:
            self.waiting -= 1

    async def pop_many(self, timeout: float, limit: int) -> list[str]:
        return await self.queue.pop_many(timeout, limit)

    async def clear(self) -> None:
        await self.queue.clear()

    async def close(self) -> None:
        await self.queue.close()


async def _delete_keys(prefix: str) -> None:
    client = Redis.from_url(TEST_REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=COORDINATIONS)
async def shared(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Coordination, str]]:
    """The coordination the processes share, and its Redis prefix ("" in process)."""
    if request.param == "memory":
        made = await coordination(None)
        try:
            yield made, ""
        finally:
            await made.close()
        return
    prefix = f"mutuality-test:{uuid.uuid4().hex[:12]}:"
    made = await coordination(TEST_REDIS_URL, prefix)
    try:
        yield made, prefix
    finally:
        await made.close()
        await _delete_keys(prefix)


def now() -> datetime:
    return datetime.now(UTC)


async def seed_group(database: Database, timezone: str = "Africa/Nairobi") -> int:
    async with database.transaction() as uow:
        group = await seed.group(uow, timezone=timezone)
        for chat in CHATS:
            await seed.member(uow, ("telegram", chat), group.id)
    return group.id


async def queued_broadcast(database: Database, group_id: int, at: datetime) -> int:
    async with database.transaction() as uow:
        record = await uow.broadcasts.create(
            created_by_id=None,
            group_id=group_id,
            language=None,
            segment=None,
            texts={"en": "The market moves to Saturday this week."},
            scheduled_at=at,
            at=at - timedelta(hours=1),
        )
    return record.id


@dataclasses.dataclass
class IdleSender:
    telegram: FakeTelegram
    wakeups: Watched


@pytest.fixture
async def idle_sender(
    database: Database, shared: tuple[Coordination, str]
) -> AsyncIterator[IdleSender]:
    async with running_sender(database, shared[0]) as sender:
        yield sender


@contextlib.asynccontextmanager
async def running_sender(database: Database, made: Coordination) -> AsyncIterator[IdleSender]:
    """A sender with nothing to do, both lanes waiting on their wake-up queue for 60 s."""
    async with FakeTelegram(token=TOKEN) as telegram:
        channel = TelegramChannel(TOKEN, api_url=telegram.url)
        wakeups = Watched(made.outbox_wakeup, lanes=2)
        watched = dataclasses.replace(made, outbox_wakeup=wakeups)
        sender = Sender(database, watched, {"telegram": channel}, LIMITS, now, idle_poll=IDLE_POLL)
        stop = asyncio.Event()
        running = asyncio.create_task(sender.run(stop))
        try:
            async with asyncio.timeout(30):
                await wakeups.idle.wait()
            yield IdleSender(telegram, wakeups)
        finally:
            stop.set()
            await running
            await channel.close()


async def first_line_arrives(telegram: FakeTelegram) -> None:
    async with asyncio.timeout(PROMPTLY):
        while not telegram.sent:  # noqa: ASYNC110 (the fake server's list)
            await asyncio.sleep(0.02)


async def test_a_broadcast_the_clock_starts_wakes_the_sender(
    database: Database, shared: tuple[Coordination, str], idle_sender: IdleSender
) -> None:
    made, _ = shared
    group_id = await seed_group(database)
    await queued_broadcast(database, group_id, seed.NOON)
    clock = Sweeper(
        database,
        CHECKINS,
        made.queue,
        lambda: seed.NOON + timedelta(minutes=1),
        SweepPolicy(),
        holder="clock-wake",
        outbox=made.outbox_wakeup,
    )
    report = await clock.sweep()
    assert report is not None and report.broadcasts == 1
    await first_line_arrives(idle_sender.telegram)
    async with asyncio.timeout(PROMPTLY):
        while len(idle_sender.telegram.sent) < len(CHATS):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert sorted(str(line["chat_id"]) for line in idle_sender.telegram.sent) == list(CHATS)


async def test_a_highlight_the_clock_delivers_wakes_the_sender(
    database: Database, shared: tuple[Coordination, str], idle_sender: IdleSender
) -> None:
    made, _ = shared
    group_id = await seed_group(database)
    async with database.transaction() as uow:
        await uow.schedules.set_group_moments("next_highlight_at", {group_id: seed.NOON})
    clock = Sweeper(
        database,
        CHECKINS,
        made.queue,
        lambda: seed.NOON + timedelta(seconds=30),
        SweepPolicy(),
        holder="clock-wake",
        outbox=made.outbox_wakeup,
    )
    report = await clock.sweep()
    assert report is not None and report.highlights == 1
    await first_line_arrives(idle_sender.telegram)
    assert "Kibera Market Peers" in str(idle_sender.telegram.sent[0]["text"])


def midday_zone(at: datetime) -> str:
    """A time zone where `at` is around midday, far from quiet hours: the command line queues
    with the real time, and a broadcast queued at night waits for the morning."""
    offset = 12 - at.hour  # -11 .. 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


class TestThroughRedis:
    """Another process (the command line) reaches the sender through Redis only."""

    __test__ = bool(TEST_REDIS_URL)

    async def test_a_broadcast_sent_from_the_command_line_wakes_the_sender(
        self, database: Database, database_url: str, tmp_path: Path
    ) -> None:
        prefix = f"mutuality-test:{uuid.uuid4().hex[:12]}:"
        made = await coordination(TEST_REDIS_URL, prefix)
        try:
            await self._broadcast_from_the_command_line(
                database, database_url, made, prefix, tmp_path
            )
        finally:
            await made.close()
            await _delete_keys(prefix)

    async def _broadcast_from_the_command_line(
        self,
        database: Database,
        database_url: str,
        made: Coordination,
        prefix: str,
        tmp_path: Path,
    ) -> None:
        zone = midday_zone(now())
        await seed_group(database, zone)
        text_file = tmp_path / "news.txt"
        text_file.write_text("[en]\nThe market moves to Saturday this week.\n", encoding="utf-8")
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TELEGRAM_", "TWILIO_", "DATABASE_", "REDIS_", "PUBLIC_"))
        }
        env.update(DATABASE_URL=database_url, REDIS_URL=TEST_REDIS_URL, REDIS_PREFIX=prefix)
        async with running_sender(database, made) as sender:
            process = await asyncio.create_subprocess_exec(
                MUTUALITY,
                "broadcast",
                "--group",
                "Kibera Market Peers",
                "--text-file",
                str(text_file),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await process.communicate()
            assert process.returncode == 0, err.decode()
            await first_line_arrives(sender.telegram)
