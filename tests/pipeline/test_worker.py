"""The worker on its own, on every backend: a member's entries in order, entries stored while
another worker holds the member, a backlog longer than a batch, what an answer costs in
transactions, and outbox wake-ups that are deferred, never dropped.

The conversation is replaced by a handler that records what it was given, so that these tests
are about the worker's contract and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from bot.channels.base import InboundEvent, MessageEvent
from bot.pipeline import inbox
from bot.pipeline import worker as worker_module
from bot.pipeline.coordination.contracts import Coordination, Locks
from bot.pipeline.coordination.factory import coordination
from bot.pipeline.inbox import ingest
from bot.pipeline.worker import BATCH, Worker
from bot.turns.service import Outbound
from conversations.inputs import Reply
from storage import Database
from storage.unit_of_work import UnitOfWork

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Recorder:
    """Stands in for `EventHandler`: notes each event's provider id and replies once."""

    def __init__(self) -> None:
        self.handled: list[str] = []

    async def apply(self, uow: UnitOfWork, event: InboundEvent, now: datetime) -> list[Outbound]:
        self.handled.append(event.provider_id)
        return [Outbound(0, event.channel, event.address, "ok")]


async def store(database: Database, queue: Any, address: str, ids: Sequence[str]) -> list[int]:
    """Store one message per provider id (a webhook's work: the inbox, then a wake-up each)."""
    events = [MessageEvent("telegram", address, pid, Reply(text=pid)) for pid in ids]
    return await ingest(database, queue, events, NOW)


async def work_off(worker: Worker, coordinated: Coordination) -> None:
    """Handle every queued wake-up, as the worker's loops would."""
    while (item := await coordinated.queue.pop(0)) is not None:
        await worker.handle_entry(int(item))


@pytest.fixture
async def coordinated() -> Coordination:
    return await coordination(None)


class AskedLocks:
    """The coordination's locks, telling when a lock is first asked for: the worker has read
    the member's pending entries by then (it reads, then locks)."""

    def __init__(self, locks: Locks) -> None:
        self._locks = locks
        self.asked = asyncio.Event()

    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        self.asked.set()
        return self._locks.hold(key)

    def hold_free(self, keys: Sequence[str]) -> AbstractAsyncContextManager[set[str]]:
        self.asked.set()
        return self._locks.hold_free(keys)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def worker(database: Database, coordinated: Coordination, recorder: Recorder) -> Worker:
    return Worker(database, coordinated, recorder, {}, lambda: NOW)  # type: ignore[arg-type]


async def test_entries_stored_while_another_worker_holds_the_member_come_after(
    database: Database, coordinated: Coordination, recorder: Recorder, worker: Worker
) -> None:
    first, _ = await store(database, coordinated.queue, "100", ["a1", "a2"])
    locks = AskedLocks(coordinated.locks)
    worker = Worker(database, replace(coordinated, locks=locks), recorder, {}, lambda: NOW)  # type: ignore[arg-type]
    async with coordinated.locks.hold("member:telegram:100"):
        waiting = asyncio.create_task(worker.handle_entry(first))
        await locks.asked.wait()  # it has read the member's entries and waits for the lock
        await store(database, coordinated.queue, "100", ["a3"])
        assert recorder.handled == []
    await waiting
    assert recorder.handled == ["a1", "a2"]
    await work_off(worker, coordinated)  # a3's own wake-up; a1's and a2's find them done
    assert recorder.handled == ["a1", "a2", "a3"]


async def test_a_list_made_stale_by_the_lock_holder_handles_nothing_twice(
    database: Database, coordinated: Coordination, recorder: Recorder, worker: Worker
) -> None:
    ids = await store(database, coordinated.queue, "200", ["b1", "b2"])
    locks = AskedLocks(coordinated.locks)
    worker = Worker(database, replace(coordinated, locks=locks), recorder, {}, lambda: NOW)  # type: ignore[arg-type]
    async with coordinated.locks.hold("member:telegram:200"):
        waiting = asyncio.create_task(worker.handle_entry(ids[0]))
        await locks.asked.wait()  # it has read both entries as pending and waits for the lock
        async with database.transaction() as uow:  # the holder handles them meanwhile
            for entry_id in ids:
                assert await uow.inbox.mark_processed(entry_id, NOW)
    await waiting
    assert recorder.handled == []


async def test_one_wake_up_drains_a_backlog_longer_than_a_batch(
    database: Database, coordinated: Coordination, recorder: Recorder, worker: Worker
) -> None:
    ids = [f"c{n:03}" for n in range(2 * BATCH + 5)]
    first, *_ = await store(database, coordinated.queue, "300", ids)
    await worker.handle_entry(first)
    assert recorder.handled == ids


async def test_a_request_s_events_are_stored_in_order_and_redeliveries_skipped(
    database: Database,
) -> None:
    """What a webhook stores before it answers: one statement for all of a request's events
    (autocommitted on PostgreSQL), their ids in the request's order, nothing for a provider
    id stored before."""
    events = [MessageEvent("telegram", "450", pid, Reply(text=pid)) for pid in ["e1", "e2"]]
    first = await inbox.store(database, events, NOW)
    again = await inbox.store(
        database, [events[1], MessageEvent("telegram", "450", "e3", Reply())], NOW
    )
    assert len(first) == 2 and first[0] < first[1]
    assert len(again) == 1 and again[0] > first[1]
    assert await inbox.store(database, [], NOW) == []
    async with database.read() as uow:
        pending = await uow.inbox.pending_for("telegram", "450")
    assert [entry.provider_id for entry in pending] == ["e1", "e2", "e3"]
    assert [entry.id for entry in pending] == [*first, *again]


async def test_an_answer_costs_the_worker_one_query_and_one_transaction(
    database: Database, coordinated: Coordination, worker: Worker
) -> None:
    """The pending list is one query, outside any transaction on PostgreSQL (a transaction of
    one read on SQLite, where it costs no round trip); the turn is one transaction."""
    [entry] = await store(database, coordinated.queue, "400", ["d1"])
    transactions: list[bool] = []

    def count(connection: Any) -> None:
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            transactions.append(True)

    event.listen(database.engine.sync_engine, "begin", count)
    try:
        await worker.handle_entry(entry)  # its address's pending list, then the turn
        await worker.handle_entry(entry)  # already handled: the query finds nothing
    finally:
        event.remove(database.engine.sync_engine, "begin", count)
    assert len(transactions) == (1 if database.backend == "postgresql" else 3)


async def test_outbox_wake_ups_are_deferred_within_the_interval_never_dropped(
    database: Database,
    coordinated: Coordination,
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker_module, "WAKEUP_INTERVAL", 1.0)
    entries = [await store(database, coordinated.queue, str(500 + n), [f"e{n}"]) for n in range(4)]
    wakeups = coordinated.outbox_wakeup
    await worker.handle_entry(entries[0][0])
    assert await wakeups.pop(0) == "1"  # the first turn with replies wakes the sender at once
    for [entry] in entries[1:]:
        await worker.handle_entry(entry)
    assert await wakeups.pop(0) is None  # three more turns within the interval: deferred...
    assert await wakeups.pop(3.0) == "1"  # ...to one wake-up at its end
    assert await wakeups.pop(0.2) is None
