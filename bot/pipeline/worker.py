"""The worker: inbox entries in, engine turns out, one member at a time and in order.

For woken entries the worker takes the locks of their addresses (lock, then load), then
handles each address's pending entries oldest first. The first entries of several addresses
share a transaction when they can (`Worker.handle_entries`); the others get one each. Either
way an entry's turn is committed in the transaction that marks it processed (only if no one
did first), so a crash before the commit leaves it pending (handled again, nothing doubled),
and after the commit it is never handled again. Wake-ups are only hints: a periodic sweep
hands back whatever stayed pending (a lost wake-up, a worker killed mid-turn), so nothing
stored is ever lost.

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

from bot.channels.base import ChannelAdapter, InboundEvent, MessageEvent
from bot.pipeline.coordination.contracts import Coordination
from bot.pipeline.dispatch import EventHandler
from bot.pipeline.inbox import load_event
from storage.database import Database
from storage.records import InboxRecord, MemberRecord
from storage.unit_of_work import UnitOfWork
from storage.vocabulary import Channel

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BATCH = 20
"""Pending entries of one address read at a time."""
TAKE = 32
"""Woken entries a worker loop takes from the queue at once (see `Worker.handle_entries`)."""
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

    async def run(self, stop: asyncio.Event, concurrency: int = 2) -> None:
        """Work until `stop` is set; the turn in hand is finished, never cut in half.

        `concurrency` loops take wake-ups: two, so that one prepares its turns while the
        other's transaction waits for the database; more would split the queue into smaller
        batches, which cost more per answer (measured in docs/benchmarks.md)."""
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
            items = await self.coordination.queue.pop_many(timeout=0.5, limit=TAKE)
            if not items:
                continue
            try:
                await self.handle_entries([int(item) for item in items])
            except Exception:
                log.exception("inbox entries %s could not be handled; the sweep will retry", items)

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
        async with self.coordination.locks.hold(_lock_key(entry.channel, entry.address)):
            await self._drain(pending)

    async def handle_entries(self, entry_ids: list[int]) -> None:
        """`handle_entry` for several woken entries, sharing the work between their addresses.

        One query reads every address's pending list (as `handle_entry` does for one), one
        call takes the locks that are free, and the first pending entry of each locked address
        shares one transaction with the others when they are plain messages of known,
        different members (`EventHandler.batchable`): one statement per kind of read and write
        for all of them instead of a dozen per turn. If that transaction fails, nothing of it
        is kept and each entry is handled on its own, where a failure is recorded against its
        entry alone. Whatever is left of each address's list follows in order. An address
        whose lock another worker holds is waited for afterwards, holding nothing else (no
        deadlock), and its list read again once locked."""
        if len(entry_ids) == 1:
            await self.handle_entry(entry_ids[0])
            return
        async with self.database.one_read() as uow:
            pending = await uow.inbox.pending_from_many(entry_ids, limit=BATCH)
        keys = {_lock_key(channel, address): (channel, address) for channel, address in pending}
        async with self.coordination.locks.hold_free(list(keys)) as held:
            lists = [pending[keys[key]] for key in keys if key in held]
            handled = await self._handle_together([entries[0] for entries in lists])
            for entries in lists:
                await self._drain(entries, start=1 if entries[0].id in handled else 0)
        for key, (channel, address) in keys.items():
            if key not in held:
                async with self.coordination.locks.hold(key):
                    async with self.database.read() as uow:
                        entries = await uow.inbox.pending_for(channel, address, limit=BATCH)
                    await self._drain(entries)

    async def _drain(self, pending: list[InboxRecord], start: int = 0) -> None:
        """Handle `pending[start:]` in order under the address's lock, then the rest of the
        address's backlog when `pending` was a full batch."""
        while pending:
            for entry in pending[start:]:
                if not await self._handle(entry):
                    return  # keep the order: later entries wait for this one's retry
            if len(pending) < BATCH:
                return
            first, start = pending[0], 0
            async with self.database.read() as uow:
                pending = await uow.inbox.pending_for(first.channel, first.address, limit=BATCH)

    async def _handle_together(self, entries: list[InboxRecord]) -> set[int]:
        """Handle in one transaction those of `entries` (one per address) that can share it;
        the ids of the entries done with (handled, or found handled by another worker)."""
        events = [
            (entry, load_event(entry.channel, entry.address, entry.provider_id, entry.event))
            for entry in entries
        ]
        candidates = [
            (entry, event)
            for entry, event in events
            if isinstance(event, MessageEvent) and self.handler.batchable(event)
        ]
        if len(candidates) < 2:
            return set()
        now = self.clock()
        try:
            async with self.database.transaction() as uow:
                together = await self._members_of(uow, candidates)
                taken = [entry.id for entry, _, _ in together]
                marked = await uow.inbox.mark_many_processed(taken, now)
                together = [turn for turn in together if turn[0].id in marked]
                outbound = await self.handler.apply_many(
                    uow, [(event, member) for _, event, member in together], now
                )
        except Exception:
            log.warning(
                "%d turns in one transaction failed; handling them one by one",
                len(candidates),
                exc_info=True,
            )
            return set()
        self.processed += len(together)
        if any(outbound):
            await self._wake_sender()
        for entry, event, _ in together:
            await self._answer_callback(entry, event)
        return set(taken)  # handled here, or found handled by another worker

    @staticmethod
    async def _members_of(
        uow: UnitOfWork, candidates: list[tuple[InboxRecord, MessageEvent]]
    ) -> list[tuple[InboxRecord, MessageEvent, MemberRecord]]:
        """The candidates whose address belongs to a member already, each member once (a
        new member, or a member's second address, is handled on its own)."""
        by_channel: dict[Channel, list[str]] = {}
        for entry, _ in candidates:
            by_channel.setdefault(entry.channel, []).append(entry.address)
        members: dict[tuple[Channel, str], MemberRecord] = {}
        for channel, addresses in by_channel.items():
            found = await uow.members.by_addresses(channel, addresses)
            members.update(((channel, address), member) for address, member in found.items())
        together, seen = [], set()
        for entry, event in candidates:
            member = members.get((entry.channel, entry.address))
            if member is not None and member.id not in seen:
                seen.add(member.id)
                together.append((entry, event, member))
        return together

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
        await self._answer_callback(entry, event)
        return True

    async def _answer_callback(self, entry: InboxRecord, event: InboundEvent) -> None:
        """Acknowledge a button press once its turn is committed (Telegram shows a spinner
        until then)."""
        if isinstance(event, MessageEvent) and event.callback_id:
            adapter = self.channels.get(entry.channel)
            answer = getattr(adapter, "answer_callback", None)
            if answer is not None:
                await answer(event.callback_id)

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


def _lock_key(channel: Channel, address: str) -> str:
    """The lock that keeps one address's events one at a time and in order."""
    return f"member:{channel}:{address}"
