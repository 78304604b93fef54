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
from tests.outbox_lines import count_pending

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
        assert await count_pending(uow) == 2


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
        assert await count_pending(uow) == 0  # nothing half-stored
    # the providers retry: stored this time
    assert len(await writer.store([message("1", "p")], NOW)) == 1


def poison(database_url: str) -> MessageEvent:
    """An event the database refuses: a channel outside its CHECK constraint everywhere, and
    on PostgreSQL also a provider id too long for its column and a NUL it cannot store."""
    if database_url.startswith("postgresql"):
        return MessageEvent("telegram", "9", "x" * 129 + "\x00", Reply(text="bad"))
    return MessageEvent("carrier-pigeon", "9", "bad", Reply(text="bad"))  # type: ignore[arg-type]


async def test_a_row_the_database_refuses_fails_its_own_request_alone(
    database: Database, database_url: str
) -> None:
    writer = InboxWriter(database, MemoryQueue())
    first = asyncio.create_task(writer.store([message("1", "first")], NOW))
    await asyncio.sleep(0)  # the first statement is under way; the others go together next
    outcomes = await asyncio.gather(
        *(writer.store([message(str(n), f"ok{n}")], NOW) for n in range(2, 12)),
        writer.store([poison(database_url)], NOW),
        *(writer.store([message(str(n), f"ok{n}")], NOW) for n in range(12, 22)),
        return_exceptions=True,
    )
    await first
    refused = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(refused) == 1 and outcomes[10] is refused[0]
    assert all(isinstance(ids, list) and len(ids) == 1 for ids in outcomes[:10] + outcomes[11:])
    async with database.read() as uow:
        assert await count_pending(uow) == 21  # every neighbour of the bad row is stored


async def test_an_outage_is_not_retried_request_by_request(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = InboxWriter(database, MemoryQueue())
    calls: list[int] = []

    async def unreachable(self: InboxRepository, rows: list[dict[str, Any]]) -> Any:
        calls.append(len(rows))
        raise ConnectionError("the database went away")

    monkeypatch.setattr(InboxRepository, "add_keyed", unreachable)
    first = asyncio.create_task(writer.store([message("1", "p")], NOW))
    await asyncio.sleep(0)
    outcomes = await asyncio.gather(
        *(writer.store([message(str(n), f"q{n}")], NOW) for n in range(2, 6)),
        return_exceptions=True,
    )
    with pytest.raises(ConnectionError):
        await first
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
    assert calls == [1, 4]  # one statement per round, none per request: 503s come at once


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
