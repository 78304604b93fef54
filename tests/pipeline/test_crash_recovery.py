"""Kill a worker process with SIGKILL in the middle of a 1,000-message run, restart it, and
check that every message was handled exactly once and none was lost; stop one with SIGTERM and
check that it finishes its turn and exits cleanly.

The worker is the real `mutuality worker` command in its own process, against the test's
database (SQLite file, or a fresh PostgreSQL database with Redis when TEST_DATABASE_URL and
TEST_REDIS_URL are set) and a fake Telegram Bot API server in this process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from bot.channels.base import MessageEvent
from bot.pipeline.inbox import dump_event
from conversations.inputs import Reply
from storage import Database
from storage.models import Answer, InboxEntry, Message
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:CRASH-test"
MEMBERS = 100
SCRIPT = ["hi", "1", "yes", "Member", "1", "yes", "skip", "checkin", "100", "50"]
TOTAL = MEMBERS * len(SCRIPT)
MUTUALITY = str(Path(sys.executable).parent / "mutuality")


def worker_env(database_url: str, telegram_url: str, redis_prefix: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELEGRAM_", "TWILIO_", "DATABASE_", "REDIS_", "PUBLIC_"))
    }
    env.update(
        DATABASE_URL=database_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=telegram_url,
        TELEGRAM_RATE_PER_SECOND="2000",
        TELEGRAM_CHAT_RATE_PER_SECOND="500",
        REDIS_PREFIX=redis_prefix,
    )
    redis_url = os.environ.get("TEST_REDIS_URL", "").strip()
    if redis_url and database_url.startswith("postgresql"):
        env["REDIS_URL"] = redis_url
    return env


@asynccontextmanager
async def redis_prefix_removed(prefix: str) -> AsyncIterator[None]:
    """The test's Redis keys (when the worker uses Redis) are deleted afterwards."""
    try:
        yield
    finally:
        redis_url = os.environ.get("TEST_REDIS_URL", "").strip()
        if redis_url:
            client = Redis.from_url(redis_url)
            try:
                keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()


async def start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            MUTUALITY,
            "worker",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )


async def count(database: Database, statement: object) -> int:
    async with database.transaction() as uow:
        return int(await uow.session.scalar(statement) or 0)  # type: ignore[call-overload]


async def processed(database: Database) -> int:
    return await count(
        database,
        select(func.count()).select_from(InboxEntry).where(InboxEntry.processed_at.is_not(None)),
    )


async def wait_for(database: Database, target: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await processed(database) < target:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {await processed(database)} of {target} processed")
        await asyncio.sleep(0.05)


async def fill_inbox(database: Database) -> None:
    """1,000 messages, ten from each of 100 members, interleaved as they would arrive."""
    now = datetime.now(UTC)
    async with database.transaction() as uow:
        for turn, text in enumerate(SCRIPT):
            for member in range(MEMBERS):
                chat = str(7_000_000 + member)
                event = MessageEvent("telegram", chat, f"tg:{turn}:{member}", Reply(text=text))
                await uow.inbox.add(
                    channel="telegram",
                    provider_id=event.provider_id,
                    address=chat,
                    event=dump_event(event),
                    at=now,
                )


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


async def test_a_worker_killed_mid_run_loses_and_doubles_nothing(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    await fill_inbox(database)
    log = tmp_path / "worker.log"
    prefix = f"test-{uuid.uuid4().hex}:"
    async with FakeTelegram(token=TOKEN) as telegram, redis_prefix_removed(prefix):
        env = worker_env(database_url, telegram.url, prefix)
        worker = await start_worker(env, log)
        try:
            await wait_for(database, TOTAL // 3, timeout=60)
            os.killpg(worker.pid, signal.SIGKILL)
            await worker.wait()
            assert worker.returncode == -signal.SIGKILL
            killed_at = await processed(database)
            assert killed_at < TOTAL, "the run finished before the kill: nothing was tested"
            # the only lines a kill can send twice: those leased by the dead sender, which
            # may have reached the provider before their receipts were written
            leased_at_kill = await count(
                database,
                select(func.count())
                .select_from(Message)
                .where(Message.status == "queued", Message.lease_until.is_not(None)),
            )

            worker = await start_worker(env, log)
            await wait_for(database, TOTAL, timeout=120)
            deadline = time.monotonic() + 60
            while await count(
                database,
                select(func.count()).select_from(Message).where(Message.status == "queued"),
            ):
                assert time.monotonic() < deadline, "outbound messages were never sent"
                await asyncio.sleep(0.1)
        finally:
            if worker.returncode is None:
                os.killpg(worker.pid, signal.SIGTERM)
                await worker.wait()

        inbound = await count(
            database, select(func.count()).select_from(Message).where(Message.direction == "in")
        )
        assert inbound == TOTAL, log.read_text()[-3000:]
        async with database.transaction() as uow:
            rows = (
                await uow.session.execute(
                    select(Answer.member_id, Answer.step_id, Answer.value_number)
                )
            ).all()
            outbound_rows = (
                await uow.session.execute(
                    select(Message.address_value, Message.status).where(Message.direction == "out")
                )
            ).all()
        per_answer = Counter((member, step) for member, step, _ in rows)
        assert set(per_answer.values()) == {1}, "an answer was recorded twice"
        sales = {member: value for member, step, value in rows if step == "sales"}
        assert len(sales) == MEMBERS and set(sales.values()) == {100}
        costs = [value for _, step, value in rows if step == "costs"]
        assert len(costs) == MEMBERS and set(costs) == {50}
        assert {status for _, status in outbound_rows} == {"sent"}
        # every outbound line reached the provider; a line may have gone out twice only if
        # the kill fell between the provider's answer and our record of it
        delivered = Counter(str(m["chat_id"]) for m in telegram.sent)
        logged = Counter(address for address, _ in outbound_rows)
        assert all(delivered[chat] >= n for chat, n in logged.items())
        assert sum(delivered.values()) - sum(logged.values()) <= leased_at_kill


async def test_sigterm_lets_a_worker_finish_and_exit_cleanly(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    await fill_inbox(database)
    log = tmp_path / "worker.log"
    prefix = f"test-{uuid.uuid4().hex}:"
    async with FakeTelegram(token=TOKEN) as telegram, redis_prefix_removed(prefix):
        env = worker_env(database_url, telegram.url, prefix)
        worker = await start_worker(env, log)
        await wait_for(database, 50, timeout=60)
        os.killpg(worker.pid, signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), timeout=30)
    assert worker.returncode == 0, log.read_text()[-3000:]
    async with database.transaction() as uow:
        # nothing half-done: every processed entry has its inbound line, and no more
        inbound = await uow.session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "in")
        )
    assert inbound == await processed(database)
