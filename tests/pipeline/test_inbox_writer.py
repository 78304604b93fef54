"""`InboxWriter`, on every backend: requests that arrive together are stored in one statement,
each gets back the ids of its own new events, in the order they came; a redelivery in the same
round is stored once; a failed statement fails every request of its round, and the next
round is stored again; their wake-ups go to the workers in one push."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from bot.channels.base import MessageEvent
from bot.pipeline.coordination.memory import MemoryQueue
from bot.pipeline.inbox import InboxWriter
from conversations.inputs import Reply
from storage import Database
from storage.repositories.inbox import InboxRepository

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def message(chat: str, provider_id: str) -> MessageEvent:
    return MessageEvent("telegram", chat, provider_id, Reply(text=provider_id))


def count_inserts(database: Database) -> tuple[list[str], Any]:
    inserts: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO INBOX"):
            inserts.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", note)
    return inserts, note


async def test_requests_arriving_together_share_one_statement(database: Database) -> None:
    writer = InboxWriter(database, MemoryQueue())
    inserts, note = count_inserts(database)
    try:
        first = asyncio.create_task(writer.store([message("1", "a")], NOW))
        await asyncio.sleep(0)  # the first statement is under way; the others wait for it
        rest = [
            asyncio.create_task(
                writer.store([message(str(n), f"b{n}"), message(str(n), f"c{n}")], NOW)
            )
            for n in range(2, 7)
        ]
        stored = [await first, *[await task for task in rest]]
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", note)
    assert len(inserts) == 2  # the first request alone, then the five that came meanwhile
    assert [len(ids) for ids in stored] == [1, 2, 2, 2, 2, 2]
    flat = [entry_id for ids in stored for entry_id in ids]
    assert flat == sorted(flat) and len(set(flat)) == len(flat)
    async with database.read() as uow:
        pending = await uow.inbox.pending_for("telegram", "4")
    assert [entry.id for entry in pending] == stored[3]
    assert [entry.provider_id for entry in pending] == ["b4", "c4"]


async def test_a_redelivery_in_the_same_round_is_stored_once(database: Database) -> None:
    writer = InboxWriter(database, MemoryQueue())
    first = asyncio.create_task(writer.store([message("1", "x")], NOW))
    await asyncio.sleep(0)
    again, twice = await asyncio.gather(
        writer.store([message("2", "y")], NOW), writer.store([message("2", "y")], NOW)
    )
    await first
    assert again == twice and len(again) == 1
    assert await writer.store([message("2", "y")], NOW) == []  # stored before: nothing new
    async with database.read() as uow:
        assert await uow.inbox.count_pending() == 2


async def test_a_failed_statement_fails_its_round_and_the_next_is_stored(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = InboxWriter(database, MemoryQueue())
    real = InboxRepository.add_keyed
    failures = [ConnectionError("the database went away")]

    async def failing_once(self: InboxRepository, rows: list[dict[str, Any]]) -> Any:
        if failures:
            raise failures.pop()
        return await real(self, rows)

    monkeypatch.setattr(InboxRepository, "add_keyed", failing_once)
    outcomes = await asyncio.gather(
        writer.store([message("1", "p")], NOW),
        writer.store([message("2", "q")], NOW),
        return_exceptions=True,
    )
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
    async with database.read() as uow:
        assert await uow.inbox.count_pending() == 0  # nothing half-stored
    # the providers retry: stored this time
    assert len(await writer.store([message("1", "p")], NOW)) == 1


class CountingQueue(MemoryQueue):
    def __init__(self) -> None:
        super().__init__()
        self.pushes: list[list[str]] = []

    async def push_many(self, items: Sequence[str]) -> None:
        self.pushes.append(list(items))
        await asyncio.sleep(0.01)  # a round trip, during which other wake-ups arrive
        await super().push_many(items)


async def test_wake_ups_of_requests_finishing_together_are_one_push(database: Database) -> None:
    queue = CountingQueue()
    writer = InboxWriter(database, queue)
    first = asyncio.create_task(writer.wake([1, 101]))
    await asyncio.sleep(0)  # its push is under way
    await asyncio.gather(*(writer.wake([n, n + 100]) for n in range(2, 6)), first)
    assert queue.pushes == [["1", "101"], ["2", "102", "3", "103", "4", "104", "5", "105"]]
    assert await queue.pop_many(0, 100) == [item for push in queue.pushes for item in push]
