"""The worker: inbox entries in, engine turns out, one member at a time and in order.

For a woken entry the worker takes the lock of its address (lock, then load), then handles that
address's pending entries oldest first, each in ONE transaction that also marks it processed
(only if no one did first) and loads the member's state: a crash before the commit leaves it
pending (handled again, nothing doubled), after the commit it is never handled again. Wake-ups
are only hints: a periodic sweep hands back whatever stayed pending (a lost wake-up, a worker
killed mid-turn), so nothing stored is ever lost.

An answer costs the worker one query and one transaction: the query reads the address's
pending list from the woken entry (nothing when that entry was handled already), the
transaction is the turn. The list is read before the lock is taken, so it may be stale once the
lock is held; that is harmless. Entries only ever go from pending to processed, so the list
still holds, in order, every entry older than its last one that was pending when it was read,
and one handled meanwhile by another worker is skipped (marking it processed finds it done).
An entry stored after the list was read has its own wake-up (or the sweep), whose worker waits
for the lock and handles it after us; so a list shorter than a batch ends the drain without
another query.
"""

from __future__ import annotations

import asyncio
import logging
import math
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
BATCH = 20
"""Pending entries of one address read at a time."""
WAKEUP_INTERVAL = 0.02
"""Seconds between two outbox wake-ups from one worker at most (see `Worker._wake_sender`)."""


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
        self._woken_at = -math.inf
        self._wakeup_due = False  # a deferred wake-up is scheduled and has not been pushed yet
        self._deferred_wakeup: asyncio.Task[None] | None = None

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
            if self._deferred_wakeup is not None:
                self._deferred_wakeup.cancel()  # the sender stops too; it polls when it starts
                self._wakeup_due = False

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
        async with self.database.read() as uow:
            entry_ids = await uow.inbox.pending_addresses(before)
        for entry_id in entry_ids:
            await self.coordination.queue.push(str(entry_id))
        return len(entry_ids)

    async def handle_entry(self, entry_id: int) -> None:
        """Handle the entry and every entry of its address pending now, oldest first (see the
        module's docstring for why the list may be read before the lock)."""
        async with self.database.one_read() as uow:
            pending = await uow.inbox.pending_from(entry_id, limit=BATCH)
        if not pending:
            return  # handled already (or never stored)
        entry = pending[0]
        async with self.coordination.locks.hold(f"member:{entry.channel}:{entry.address}"):
            await self._drain(entry, pending)

    async def _drain(self, first: InboxRecord, pending: list[InboxRecord]) -> None:
        """Handle `pending` in order under the address's lock, then the rest of the address's
        backlog when `pending` was a full batch."""
        while True:
            for entry in pending:
                if not await self._handle(entry):
                    return  # keep the order: later entries wait for this one's retry
            if len(pending) < BATCH:
                return
            async with self.database.read() as uow:
                pending = await uow.inbox.pending_for(first.channel, first.address, limit=BATCH)

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
            await self._wake_sender()
        if isinstance(event, MessageEvent) and event.callback_id:
            adapter = self.channels.get(entry.channel)
            answer = getattr(adapter, "answer_callback", None)
            if answer is not None:
                await answer(event.callback_id)
        return True

    async def _wake_sender(self) -> None:
        """Tell the sender that replies were committed, at most once per `WAKEUP_INTERVAL`.

        A busy worker commits replies far more often than a sender needs telling (one round
        leases everything due, and a sender that found work looks again at once), and a
        wake-up per turn piles up in the queue. Within the interval the wake-up is deferred,
        not dropped: a caller either pushes itself, or finds a push already due to happen
        after its commit, or schedules one for the end of the interval. So the last replies
        always have a wake-up after them, at most `WAKEUP_INTERVAL` late."""
        if self._wakeup_due:
            return  # a push not yet started: it comes after this caller's commit
        loop = asyncio.get_running_loop()
        wait = self._woken_at + WAKEUP_INTERVAL - loop.time()
        if wait > 0:
            self._wakeup_due = True
            self._deferred_wakeup = asyncio.create_task(self._wake_sender_later(wait))
            return
        self._woken_at = loop.time()
        await self._push_wakeup()

    async def _wake_sender_later(self, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        finally:
            # cleared before the push, so a commit from now on schedules its own
            self._wakeup_due = False
        self._woken_at = asyncio.get_running_loop().time()
        await self._push_wakeup()

    async def _push_wakeup(self) -> None:
        try:
            await self.coordination.outbox_wakeup.push("1")
        except Exception:
            log.warning("could not wake the sender; it polls anyway", exc_info=True)

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
