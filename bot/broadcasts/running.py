"""Running a broadcast: plan its audience once, then queue it in batches, resumably.

`run_broadcast` plans (one INSERT … SELECT in the database) and then queues recipients in
batches, each batch its own transaction. Every step is idempotent: planning adds only members not
planned yet, and a recipient is queued together with its outbox row or not at all, so calling it
again after a crash (or while another process runs the same broadcast) resumes without queuing
anyone twice. Sending is the sender's job: it honours the channels' limits, opt-outs and
WhatsApp's window (the payload's "nudge" key marks these messages as proactive).

`start_due` is the clock's part: it starts broadcasts whose time has come, resumes any that
were interrupted, and compacts the progress counts of those that changed much since its last
sweep (`compact_counts`).

Both take a `wake` callback, called after each batch is committed, that tells the sender lines
are waiting (the processes pass the coordination's outbox wake-up), so the first recipients hear
from us at once rather than at the sender's next look at the outbox.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy.exc import DBAPIError

from bot.broadcasts import segments
from bot.calendar.quiet_hours import next_allowed
from bot.channels.splitting import outbound_parts
from conversations.rendering import RenderedMessage
from storage.database import Database
from storage.errors import NotFound
from storage.repositories.broadcasts import BroadcastProgress, DeliveryRules
from storage.vocabulary import Channel

log = logging.getLogger(__name__)

RESUME_AFTER = timedelta(minutes=10)
"""A broadcast planning or sending this long after its time is taken to be interrupted."""
COMPACT_MORE_THAN = 100
"""Count rows a broadcast may gather before the clock compacts them. A sweep every 30 s
leaves at most what the sender and the status callbacks add in that time: about 18,000 rows at
300 changes a second, a few milliseconds to add up."""

ProgressCallback = Callable[[int, int], None]
"""Called after every batch with (recipients handled so far, recipients in all)."""
Wake = Callable[[], Awaitable[None]]
"""Tells the sender that lines were committed to the outbox."""

_HEADER = re.compile(r"^\[(?P<code>[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)\]\s*$")


def split_for_channel(channel: str, text: str) -> list[str]:
    """`text` cut into the messages `channel` accepts (see `bot.channels.splitting`)."""
    return [part.text for part in outbound_parts(cast(Channel, channel), RenderedMessage(text))]


DELIVERY = DeliveryRules(not_before=next_allowed, split=split_for_channel)
"""Quiet hours and splitting as every other proactive message gets them."""


@dataclass(frozen=True, slots=True)
class Totals:
    """Where a broadcast stands after `run_broadcast`: its recipients in all, how many are
    queued, how many skipped (by reason), and what this call itself did."""

    broadcast_id: int
    status: str
    recipients: int
    queued: int
    skipped: dict[str, int]
    planned_now: int = 0
    handled_now: int = 0

    @classmethod
    def of(cls, progress: BroadcastProgress, planned: int = 0, handled: int = 0) -> Totals:
        return cls(
            broadcast_id=progress.broadcast.id,
            status=progress.broadcast.status,
            recipients=progress.total,
            queued=progress.recipients.get("queued", 0),
            skipped=dict(progress.skipped),
            planned_now=planned,
            handled_now=handled,
        )


async def run_broadcast(
    database: Database,
    broadcast_id: int,
    now_fn: Callable[[], datetime],
    batch: int = 1000,
    progress: ProgressCallback | None = None,
    *,
    schema: segments.SegmentSchema | None = None,
    wake: Wake | None = None,
) -> Totals:
    """Plan the broadcast if it is not planned yet, then queue every planned recipient, `batch`
    at a time, each batch in its own transaction, calling `wake` after each; mark it `done` at
    the end.

    Safe to call again after a crash, and concurrently: nothing is queued twice. A cancelled
    broadcast stops between batches; a done or cancelled one is left as it is. The stored
    segment is parsed again with `schema` (default: the shipped check-in definitions).
    Raises `NotFound` for an unknown broadcast and `ValueError` when its segment no longer
    parses (the check-in definitions changed under it).
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1: {batch!r}")
    async with database.read() as uow:
        broadcast = await uow.broadcasts.get(broadcast_id)
    if broadcast is None:
        raise NotFound(f"no broadcast #{broadcast_id}")
    if broadcast.status in ("done", "cancelled"):
        return await _totals(database, broadcast_id)
    planned = 0
    if broadcast.planned_at is None:
        segment = segments.parse(broadcast.segment, schema)
        async with database.transaction() as uow:
            await uow.broadcasts.set_status(
                broadcast_id, "planning", at=now_fn(), expected=("scheduled",)
            )
        async with database.transaction() as uow:
            planned = await uow.broadcasts.plan(broadcast_id, now_fn(), segment.conditions)
        await _refresh_statistics(database)
    async with database.read() as uow:
        state = await uow.broadcasts.progress(broadcast_id)
    if state.broadcast.status in ("done", "cancelled"):
        return Totals.of(state, planned)
    done = state.total - state.unqueued
    if progress is not None:
        progress(done, state.total)
    handled = 0
    analyze_at = batch  # then 2, 4, 8 ... batches: O(log n) analyzes, stats never 2x stale
    while True:
        async with database.transaction() as uow:
            current = await uow.broadcasts.get(broadcast_id)
            if current is None or current.status == "cancelled":
                break
            count = await uow.broadcasts.enqueue_batch(broadcast_id, batch, now_fn(), DELIVERY)
        if count == 0:
            break
        await _wake(wake)
        handled += count
        done += count
        if handled >= analyze_at:
            await _refresh_statistics(database)
            analyze_at *= 2
        if progress is not None:
            progress(min(done, state.total), state.total)
    if handled:
        await _refresh_statistics(database)
    async with database.transaction() as uow:
        await uow.broadcasts.set_status(broadcast_id, "done", at=now_fn(), expected=("sending",))
    return await _totals(database, broadcast_id, planned, handled)


async def start_due(
    database: Database,
    now: datetime,
    *,
    batch: int = 1000,
    schema: segments.SegmentSchema | None = None,
    wake: Wake | None = None,
) -> int:
    """Run every broadcast due at `now` (scheduled, its time come), and resume every one that
    has been planning or sending for more than `RESUME_AFTER` (its process stopped half way;
    one still running is helped along, which is safe). One that fails is logged and left for
    the next sweep; the others still run. Time runs on from `now` while they are queued.
    Then compacts the counts of the broadcasts sending (`compact_counts`).
    Returns how many broadcasts were run."""
    async with database.read() as uow:
        due = await uow.broadcasts.due(now)
        stalled = await uow.broadcasts.unfinished(started_before=now - RESUME_AFTER)
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    ran = 0
    for broadcast in [*due, *stalled]:
        try:
            totals = await run_broadcast(
                database, broadcast.id, clock, batch=batch, schema=schema, wake=wake
            )
        except Exception:
            log.exception("broadcast #%s could not be queued; trying again later", broadcast.id)
            continue
        ran += 1
        log.info(
            "broadcast #%s %s: %s recipients, %s queued, skipped %s",
            totals.broadcast_id,
            totals.status,
            totals.recipients,
            totals.queued,
            totals.skipped or "none",
        )
    await compact_counts(database, COMPACT_MORE_THAN)
    return ran


async def compact_counts(database: Database, more_than: int = COMPACT_MORE_THAN) -> int:
    """Compact the progress counts of every broadcast with more than `more_than` count rows
    (`BroadcastRepository.compact_counts`), each in a transaction of its own; returns how many
    were compacted. Failing is logged, never fatal: the counts stay exact either way, only
    slower to add up until a later sweep compacts them."""
    compacted = 0
    try:
        async with database.read() as uow:
            scattered = await uow.broadcasts.scattered_counts(more_than)
        for broadcast_id in scattered:
            async with database.transaction() as uow:
                compacted += await uow.broadcasts.compact_counts(broadcast_id)
    except DBAPIError as error:
        log.warning("could not compact the broadcasts' progress counts: %s", error)
    return compacted


def parse_texts(source: str, default_language: str) -> dict[str, str]:
    """The texts of a broadcast file: blocks that start with a line `[en]`, `[sw]`, ... each
    holding that language's text. A file without such a line is one text, for every language
    (stored under `default_language`). `ValueError` for text before the first block, a
    language given twice or an empty block."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not any(_HEADER.match(line) for line in lines):
        text = source.strip()
        if not text:
            raise ValueError("the text file is empty")
        return {default_language: text}
    texts: dict[str, str] = {}
    language: str | None = None
    block: list[str] = []

    def close() -> None:
        if language is None:
            return
        text = "\n".join(block).strip()
        if not text:
            raise ValueError(f"the [{language}] block is empty")
        texts[language] = text

    for number, line in enumerate(lines, start=1):
        header = _HEADER.match(line)
        if header is None:
            if language is None and line.strip():
                raise ValueError(
                    f"line {number}: text before the first [language] line; start each text "
                    "with a line like [en]"
                )
            block.append(line)
            continue
        close()
        language, block = header["code"].replace("_", "-"), []
        if language in texts:
            raise ValueError(f"line {number}: [{language}] appears twice")
    close()
    return texts


async def _wake(wake: Wake | None) -> None:
    """Wake the sender; failing to is logged, never fatal (it looks at the outbox anyway)."""
    if wake is None:
        return
    try:
        await wake()
    except Exception:
        log.warning("could not wake the sender; it will find the lines itself", exc_info=True)


async def _refresh_statistics(database: Database) -> None:
    """Keep PostgreSQL's statistics up with the outbox as it grows (see
    `BroadcastRepository.refresh_statistics`); failing to is logged, never fatal."""
    try:
        async with database.transaction() as uow:
            await uow.broadcasts.refresh_statistics()
    except DBAPIError as error:
        log.warning("could not refresh the outbox statistics: %s", error)


async def _totals(
    database: Database, broadcast_id: int, planned: int = 0, handled: int = 0
) -> Totals:
    async with database.read() as uow:
        return Totals.of(await uow.broadcasts.progress(broadcast_id), planned, handled)
