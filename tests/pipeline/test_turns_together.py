"""Several members' turns in one transaction (`Worker.handle_entries`), on every backend.

The weekly check-in run by a group of members, each step handled together, stores every
member's answers, help records and sessions. A turn that fails takes no other member's turn
with it; a member whose lock another worker holds is handled after it; a new member and a
second message of the same member are handled on their own, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select

from bot.channels.base import InboundEvent, MessageEvent
from bot.i18n.catalogs import load_catalogs
from bot.pipeline.coordination.contracts import Coordination
from bot.pipeline.coordination.factory import coordination
from bot.pipeline.dispatch import EventHandler
from bot.pipeline.inbox import ingest
from bot.pipeline.worker import Worker
from bot.turns.checkins import load_checkins
from bot.turns.service import ConversationService, Outbound
from conversations.inputs import Reply
from storage import Database
from storage.models import Answer, CheckinSession, HelpRecord, InboxEntry, Message
from storage.unit_of_work import UnitOfWork
from tests.outbox_lines import count_pending

CHECKINS = load_checkins(load_catalogs())
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
NAMES = ["Fatu", "Musa", "Ana", "Jose", "Grace", "Tom"]
NEXT_PEER = "the next member's name"
SCRIPT = ["checkin", "2500", "300", "100", "yes", NEXT_PEER, "1", "no", "rain", "more", "skip"]
"""The weekly check-in as a group member answers it, each helping the next member (advice)."""


class Exploding(EventHandler):
    """`EventHandler`, except that a message saying "boom" fails its turn, alone or not."""

    async def apply(self, uow: UnitOfWork, event: InboundEvent, now: datetime) -> list[Outbound]:
        if isinstance(event, MessageEvent) and event.reply.text == "boom":
            raise RuntimeError("boom")
        return await super().apply(uow, event, now)

    async def apply_many(
        self, uow: UnitOfWork, events: list[tuple[MessageEvent, Any]], now: datetime
    ) -> list[list[Outbound]]:
        if any(event.reply.text == "boom" for event, _ in events):
            raise RuntimeError("boom")
        return await super().apply_many(uow, events, now)


async def members_in_a_group(database: Database, names: Sequence[str]) -> list[str]:
    """Onboarded members of one group, with consent; their Telegram chat ids."""
    chats = []
    async with database.transaction() as uow:
        group = await uow.groups.create("Market", "Africa/Monrovia", "en", "LRD", at=NOW)
        for number, name in enumerate(names, start=1):
            chat = str(7000 + number)
            member = await uow.members.create("telegram", chat, "en", "LRD", at=NOW)
            await uow.members.update(
                member.id, at=NOW, name=name, consent=True, business_type="shop", onboarded_at=NOW
            )
            await uow.members.join_group(member.id, group.id, NOW)
            chats.append(chat)
    return chats


def messages(chats: Sequence[str], text: str, step: int) -> list[MessageEvent]:
    """Each chat's message of this step (`NEXT_PEER`: the name of the member after it)."""
    return [
        MessageEvent(
            "telegram",
            chat,
            f"{chat}-{step}",
            Reply(text=NAMES[(index + 1) % len(chats)] if text == NEXT_PEER else text),
        )
        for index, chat in enumerate(chats)
    ]


async def queued(coordinated: Coordination) -> list[int]:
    return [int(item) for item in await coordinated.queue.pop_many(0, 1000)]


def worker_for(database: Database, coordinated: Coordination, handler: EventHandler) -> Worker:
    return Worker(database, coordinated, handler, {}, lambda: NOW)


def handler_for(database: Database, handler: type[EventHandler] = EventHandler) -> EventHandler:
    return handler(ConversationService(database, CHECKINS, "LR", clock=lambda: NOW))


async def run_script(database: Database) -> dict[str, Any]:
    """The whole group through the check-in, each step's messages handled together; what it
    left in the database, without ids and with members as their chats."""
    coordinated = await coordination(None)
    worker = worker_for(database, coordinated, handler_for(database))
    chats = await members_in_a_group(database, NAMES)
    for step, text in enumerate(SCRIPT):
        await ingest(database, coordinated.queue, messages(chats, text, step), NOW)
        await worker.handle_entries(await queued(coordinated))
    assert worker.processed == len(chats) * len(SCRIPT)
    return await what_is_stored(database)


async def what_is_stored(database: Database) -> dict[str, Any]:
    async with database.read() as uow:
        session = uow.session
        chat_of = {
            member_id: chat
            for chat, member_id in (
                await session.execute(select(Message.address_value, Message.member_id).distinct())
            ).all()
        }
        log = [
            (chat_of[m.member_id], m.direction, m.text, m.payload, m.status)
            for m in await session.scalars(select(Message).order_by(Message.id))
        ]
        answers = [
            (
                chat_of[a.member_id],
                a.step_id,
                a.answer_type,
                a.value_number,
                a.value_choice,
                a.value_text,
                a.value_json,
                a.skipped,
                a.raw_text,
            )
            for a in await session.scalars(select(Answer).order_by(Answer.id))
        ]
        helped = sorted(
            (chat_of[h.giver_id], chat_of[h.receiver_id], h.kind)
            for h in await session.scalars(select(HelpRecord))
        )
        sessions = [
            (chat_of[s.member_id], s.checkin_id, s.status, s.step_id, s.end_reason, s.state)
            for s in await session.scalars(select(CheckinSession).order_by(CheckinSession.id))
        ]
        pending = await count_pending(uow)
    return {
        "log": sorted(log, key=lambda line: line[0]),  # each member's lines in their order
        "answers": sorted(answers, key=lambda answer: answer[0]),
        "helped": helped,
        "sessions": sessions,
        "pending": pending,
    }


async def test_a_group_s_check_in_handled_together_stores_every_member_s_answers(
    database: Database,
) -> None:
    together = await run_script(database)
    assert together["pending"] == 0
    assert len(together["answers"]) == len(NAMES) * (len(SCRIPT) - 1)
    chats = [str(7001 + index) for index in range(len(NAMES))]
    assert together["helped"] == sorted(
        (giver, chats[(index + 1) % len(chats)], "advice") for index, giver in enumerate(chats)
    )
    assert {status for _, _, status, *_ in together["sessions"]} == {"completed"}
    fatu = [line for line in together["log"] if line[0] == "7001"]
    assert fatu[0][1:3] == ("in", "checkin")
    assert fatu[1][1] == "out" and fatu[1][2].startswith("How much did you sell")


async def test_a_step_of_six_members_is_one_transaction(database: Database) -> None:
    coordinated = await coordination(None)
    worker = worker_for(database, coordinated, handler_for(database))
    chats = await members_in_a_group(database, NAMES)
    await ingest(database, coordinated.queue, messages(chats, "checkin", 0), NOW)
    ids = await queued(coordinated)
    transactions: list[bool] = []

    def count(connection: Any) -> None:
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            transactions.append(True)

    event.listen(database.engine.sync_engine, "begin", count)
    try:
        await worker.handle_entries(ids)
    finally:
        event.remove(database.engine.sync_engine, "begin", count)
    assert worker.processed == len(NAMES)
    # the turns' transaction; on SQLite the pending lists are read in one more
    assert len(transactions) == (1 if database.backend == "postgresql" else 2)


async def test_a_failing_turn_fails_alone_and_is_recorded_against_its_entry(
    database: Database,
) -> None:
    coordinated = await coordination(None)
    worker = worker_for(database, coordinated, handler_for(database, Exploding))
    chats = await members_in_a_group(database, NAMES[:4])
    events = messages(chats[:3], "checkin", 0) + messages(chats[3:], "boom", 0)
    await ingest(database, coordinated.queue, events, NOW)
    await worker.handle_entries(await queued(coordinated))
    assert worker.processed == 3
    stored = await what_is_stored(database)
    asked = [chat for chat, direction, text, *_ in stored["log"] if direction == "out"]
    assert asked == chats[:3]
    async with database.read() as uow:
        [failed] = await uow.inbox.pending_for("telegram", chats[3])
        entries = (await uow.session.scalars(select(InboxEntry))).all()
    assert failed.attempts == 1 and "boom" in (failed.last_error or "")
    assert sorted(entry.attempts for entry in entries) == [0, 0, 0, 1]


async def test_a_member_held_by_another_worker_is_handled_after_it(
    database: Database,
) -> None:
    coordinated = await coordination(None)
    worker = worker_for(database, coordinated, handler_for(database))
    chats = await members_in_a_group(database, NAMES[:3])
    await ingest(database, coordinated.queue, messages(chats, "checkin", 0), NOW)
    ids = await queued(coordinated)
    async with coordinated.locks.hold(f"member:telegram:{chats[0]}"):
        handling = asyncio.create_task(worker.handle_entries(ids))
        for _ in range(200):  # the other two are handled without waiting for the third
            if worker.processed == 2:
                break
            await asyncio.sleep(0.01)
        assert worker.processed == 2
        assert not handling.done()
    await asyncio.wait_for(handling, timeout=5)
    assert worker.processed == 3
    async with database.read() as uow:
        assert await count_pending(uow) == 0


async def test_a_new_member_and_a_second_message_go_one_by_one_in_order(
    database: Database,
) -> None:
    coordinated = await coordination(None)
    worker = worker_for(database, coordinated, handler_for(database))
    chats = await members_in_a_group(database, NAMES[:2])
    events = [
        MessageEvent("telegram", chats[0], "a-0", Reply(text="checkin")),
        MessageEvent("telegram", chats[1], "b-0", Reply(text="checkin")),
        MessageEvent("telegram", chats[0], "a-1", Reply(text="2500")),
        MessageEvent("telegram", "9999", "n-0", Reply(text="hello")),
    ]
    await ingest(database, coordinated.queue, events, NOW)
    await worker.handle_entries(await queued(coordinated))
    assert worker.processed == 4
    stored = await what_is_stored(database)
    first = [
        (direction, text[:21]) for chat, direction, text, *_ in stored["log"] if chat == chats[0]
    ]
    assert first == [
        ("in", "checkin"),
        ("out", "How much did you sell"),
        ("in", "2500"),
        ("out", "How much did you spen"),
    ]
    assert any(chat == "9999" and direction == "out" for chat, direction, *_ in stored["log"])
    assert stored["pending"] == 0


async def test_the_work_loop_takes_several_wake_ups_at_once(database: Database) -> None:
    coordinated = await coordination(None)
    worker = worker_for(database, coordinated, handler_for(database))
    chats = await members_in_a_group(database, NAMES)
    await ingest(database, coordinated.queue, messages(chats, "checkin", 0), NOW)
    taken: list[list[int]] = []
    handle_entries = worker.handle_entries

    async def noting(entry_ids: list[int]) -> None:
        taken.append(entry_ids)
        await handle_entries(entry_ids)

    worker.handle_entries = noting  # type: ignore[method-assign]
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop, concurrency=1))
    for _ in range(300):
        if worker.processed == len(NAMES):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, timeout=5)
    assert worker.processed == len(NAMES)
    # the first loop took every wake-up (and those of the sweep that starts the worker)
    assert taken and len(taken[0]) >= len(NAMES)
