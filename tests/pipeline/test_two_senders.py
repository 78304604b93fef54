"""Two senders working one outbox: a chat's lines arrive in the order they were written, and
no line arrives twice.

Each sender is built as its own process would build it: its own database engine (its own
connections), its own Telegram client and, on PostgreSQL with `TEST_REDIS_URL` set, its own
Redis client on a shared key prefix, so the rate limits and wake-ups are shared the way two
`mutuality worker` processes share them. Both run against one fake Bot API server, which keeps
every line in the order it accepted them: that order is what a member reads.

The outbox is a backlog as a busy hour leaves it (many chats, several lines each, interleaved,
written in one transaction), and each sender leases a few rows at a time so the two claim
concurrently all through the run. On PostgreSQL this is the case that matters: a claim cannot
see another sender's uncommitted lease, so two claims that overlap take the same rows (and
both senders send them) or lines of one chat; `MessageRepository.claim_due` takes an advisory
lock so that they never overlap. Without it this test sees dozens of the 150 lines sent twice
in every run. On SQLite, writers are serialised by the database itself; the test holds there
too, as part of the one contract for every backend.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy import func, select

from bot.channels.telegram import TelegramChannel
from bot.pipeline.coordination.contracts import Coordination
from bot.pipeline.coordination.factory import coordination, redis_ready
from bot.pipeline.sender import Limits, Sender
from storage import Database
from storage.models import Message
from tests.fakes.telegram_api import FakeTelegram
from tests.outbox_lines import log_outbound

TOKEN = "123456:TWO-senders"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "").strip()
CHATS = 30
LINES = 5
BATCH = 7
"""Rows a sender leases at a time: fewer than the chats, so a claim ends part-way through a
round of the backlog and the two senders keep claiming alongside each other."""
UNLIMITED = Limits(
    telegram_per_second=100_000.0,
    telegram_chat_per_second=100_000.0,
    telegram_group_per_minute=100_000.0,
)


def now() -> datetime:
    return datetime.now(UTC)


async def queue_backlog(database: Database) -> dict[int, tuple[str, int]]:
    """`LINES` lines to each of `CHATS` chats, interleaved (line 1 to every chat, then line 2,
    ...), in one transaction. Returns each message id with its chat and line number."""
    written: dict[int, tuple[str, int]] = {}
    at = now()
    async with database.transaction() as uow:
        for line in range(1, LINES + 1):
            for chat in range(CHATS):
                address = str(7_100_000 + chat)
                record = await log_outbound(
                    uow,
                    member_id=None,
                    channel="telegram",
                    address_value=address,
                    text=f"line {line} to {address}",
                    payload=None,
                    at=at,
                )
                written[record.id] = (address, line)
    return written


async def queued(database: Database) -> int:
    async with database.transaction() as uow:
        statement = select(func.count()).select_from(Message).where(Message.status == "queued")
        return int(await uow.session.scalar(statement) or 0)


async def delete_keys(prefix: str) -> None:
    client = Redis.from_url(TEST_REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@asynccontextmanager
async def coordinations(backend: str) -> AsyncIterator[tuple[Coordination, Coordination]]:
    """The coordination of each sender: two Redis clients on one fresh key prefix (deleted
    afterwards) for PostgreSQL when Redis is configured; otherwise one in-process coordination
    both senders share, as they would inside one process."""
    async with AsyncExitStack() as stack:
        if backend == "postgresql" and TEST_REDIS_URL:
            await redis_ready(TEST_REDIS_URL)
            prefix = f"mutuality-test:{uuid.uuid4().hex[:12]}:"
            stack.push_async_callback(delete_keys, prefix)
            first = await coordination(TEST_REDIS_URL, prefix)
            stack.push_async_callback(first.close)
            second = await coordination(TEST_REDIS_URL, prefix)
            stack.push_async_callback(second.close)
            yield first, second
        else:
            shared = await coordination(None)
            stack.push_async_callback(shared.close)
            yield shared, shared


@asynccontextmanager
async def sender_with_own_connections(
    database_url: str, shared: Coordination, telegram_url: str
) -> AsyncIterator[Sender]:
    """A `Sender` with a database engine and a Telegram client of its own."""
    database = Database(database_url)
    channel = TelegramChannel(TOKEN, api_url=telegram_url)
    try:
        yield Sender(database, shared, {"telegram": channel}, UNLIMITED, now, batch=BATCH)
    finally:
        await channel.close()
        await database.dispose()


async def test_two_senders_keep_each_chats_order_and_send_each_line_once(
    database: Database, database_url: str
) -> None:
    written = await queue_backlog(database)
    by_text = {f"line {line} to {address}": id_ for id_, (address, line) in written.items()}
    # sends take a moment, as over a network: one sender cannot drain the backlog before the
    # other's first claim, which on SQLite waits for the write lock
    async with FakeTelegram(token=TOKEN, answer_delay=0.02) as telegram, AsyncExitStack() as stack:
        first_coordination, second_coordination = await stack.enter_async_context(
            coordinations(database.backend)
        )
        senders = [
            await stack.enter_async_context(
                sender_with_own_connections(database_url, shared, telegram.url)
            )
            for shared in (first_coordination, second_coordination)
        ]
        stop = asyncio.Event()
        runs = [asyncio.create_task(sender.run(stop)) for sender in senders]
        try:
            deadline = time.monotonic() + 60
            while await queued(database):
                assert time.monotonic() < deadline, (
                    f"{await queued(database)} of {len(written)} lines still queued"
                )
                assert not any(run.done() for run in runs), "a sender stopped by itself"
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.gather(*runs)  # sends under way finish before the receipts are read

        assert all(sender.sent > 0 for sender in senders), (
            f"one sender did all the work ({[sender.sent for sender in senders]} recorded): "
            "the senders never worked side by side"
        )
        received = list(telegram.sent)

    sent_ids = Counter(by_text[line["text"]] for line in received)
    twice = sorted(id_ for id_, times in sent_ids.items() if times > 1)
    arrived: defaultdict[str, list[int]] = defaultdict(list)
    for line in received:
        address, number = written[by_text[line["text"]]]
        assert str(line["chat_id"]) == address
        arrived[address].append(number)
    # order by each line's first arrival, so a duplicate counts as a duplicate, not a reordering
    first_arrivals = {chat: list(dict.fromkeys(lines)) for chat, lines in arrived.items()}
    out_of_order = sorted(chat for chat, lines in first_arrivals.items() if lines != sorted(lines))
    assert not twice and not out_of_order, (
        f"{len(twice)} of {len(written)} lines sent more than once (message ids {twice[:10]}); "
        f"{len(out_of_order)} of {CHATS} chats got their lines out of order "
        f"({[(chat, arrived[chat]) for chat in out_of_order[:3]]})"
    )
    expected = list(range(1, LINES + 1))
    assert {chat: lines for chat, lines in arrived.items() if lines != expected} == {}
    assert len(arrived) == CHATS, "a chat got nothing"

    async with database.transaction() as uow:
        statuses = Counter(
            await uow.session.scalars(select(Message.status).where(Message.direction == "out"))
        )
    assert statuses == {"sent": CHATS * LINES}
