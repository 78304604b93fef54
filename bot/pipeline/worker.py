"""The worker: inbox entries in, engine turns out, one member at a time and in order.

For a woken entry the worker takes the lock of its address (lock, then load), then handles that
address's pending entries oldest first, each in ONE transaction that also marks it processed:
a crash before the commit leaves it pending (handled again, nothing doubled), after the commit it
is never handled again. Wake-ups are only hints: a periodic sweep hands back whatever stayed
pending (a lost wake-up, a worker killed mid-turn), so nothing stored is ever lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.channels.base import ChannelAdapter, MessageEvent
from bot.pipeline.coordination import Coordination
from bot.pipeline.handling import EventHandler
from bot.pipeline.inbox import load_event
from storage.database import Database
from storage.records import InboxRecord

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class Worker:
    def __init__(
        self,
        database: Database,
        coordination: Coordination,
        handler: EventHandler,
        channels: Mapping[str, ChannelAdapter],
        clock: Callable[[], datetime],
        sweep_interval: float = 5.0,
        sweep_grace: float = 10.0,
    ) -> None:
        self.database = database
        self.coordination = coordination
        self.handler = handler
        self.channels = channels
        self.clock = clock
        self.sweep_interval = sweep_interval
        self.sweep_grace = sweep_grace
        self.processed = 0

    async def run(self, stop: asyncio.Event, concurrency: int = 8) -> None:
        """Work until `stop` is set; the turn in hand is finished, never cut in half."""
        await self.sweep(grace=0.0)
        loops = [asyncio.create_task(self._loop(stop)) for _ in range(concurrency)]
        loops.append(asyncio.create_task(self._sweeper(stop)))
        try:
            await asyncio.gather(*loops)
        finally:
            for task in loops:
                task.cancel()

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            item = await self.coordination.queue.pop(timeout=0.5)
            if item is None:
                continue
            try:
                await self.handle_entry(int(item))
            except Exception:
                log.exception("inbox entry %s could not be handled; the sweep will retry", item)

    async def _sweeper(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.sweep_interval)
            except TimeoutError:
                try:
                    await self.sweep(self.sweep_grace)
                except Exception:
                    log.exception("inbox sweep failed; trying again in %ss", self.sweep_interval)

    async def sweep(self, grace: float) -> int:
        """Wake workers for every address with entries pending longer than `grace` seconds."""
        before = self.clock() - timedelta(seconds=grace)
        async with self.database.transaction() as uow:
            entry_ids = await uow.inbox.pending_addresses(before)
        for entry_id in entry_ids:
            await self.coordination.queue.push(str(entry_id))
        return len(entry_ids)

    async def handle_entry(self, entry_id: int) -> None:
        async with self.database.transaction() as uow:
            entry = await uow.inbox.get(entry_id)
        if entry is None or entry.processed_at is not None:
            return
        async with self.coordination.locks.hold(f"member:{entry.channel}:{entry.address}"):
            await self._drain(entry)

    async def _drain(self, first: InboxRecord) -> None:
        """Handle every pending entry of the address, in order, under its lock."""
        while True:
            async with self.database.transaction() as uow:
                pending = await uow.inbox.pending_for(first.channel, first.address, limit=20)
            if not pending:
                return
            for entry in pending:
                if not await self._handle(entry):
                    return  # keep the order: later entries wait for this one's retry

    async def _handle(self, entry: InboxRecord) -> bool:
        event = load_event(entry.channel, entry.address, entry.provider_id, entry.event)
        now = self.clock()
        try:
            async with self.database.transaction() as uow:
                if not await uow.inbox.mark_processed(entry.id, now):
                    return True  # another worker got here first
                outbound = await self.handler.apply(uow, event, now)
        except Exception as error:
            await self._failed(entry, error)
            return False
        self.processed += 1
        if outbound:
            try:
                await self.coordination.outbox_wakeup.push("1")
            except Exception:
                log.warning("could not wake the sender; it polls anyway", exc_info=True)
        if isinstance(event, MessageEvent) and event.callback_id:
            adapter = self.channels.get(entry.channel)
            answer = getattr(adapter, "answer_callback", None)
            if answer is not None:
                await answer(event.callback_id)
        return True

    async def _failed(self, entry: InboxRecord, error: Exception) -> None:
        log.exception("inbox entry %s failed", entry.id, exc_info=error)
        try:
            async with self.database.transaction() as uow:
                attempts = await uow.inbox.record_failure(entry.id, repr(error))
                if attempts >= MAX_ATTEMPTS:
                    # a poison event must not block the member's later messages forever; it
                    # stays in the inbox with its error for an operator to look at
                    await uow.inbox.mark_processed(entry.id, self.clock())
                    log.error("inbox entry %s given up after %s attempts", entry.id, attempts)
        except Exception:
            log.exception("could not record the failure of inbox entry %s", entry.id)
