"""The sender: outbox rows out to the channels, within every limit, with retries and receipts.

It leases due rows (another sender never gets the same row while the lease lasts; a sender that
dies gives its rows back when the lease runs out), sends each chat's messages in order, and
takes a token from every bucket that applies before each send: the channel's overall rate, the
chat's own and, for Telegram groups, the per-group rate. The buckets live in the coordination
backend, so the limits hold across every sender process. A `retry_after` pauses exactly the
bucket it concerns; transient failures back off; permanent ones are recorded, never retried.
A recipient who is gone (blocked the bot, unsubscribed) is marked so that nothing else is sent.
A line that carries a document (a member's copy of their data) has it made just before each try
(`bot.pipeline.documents`), and then goes the same way as any other line.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.channels.base import (
    ChannelAdapter,
    OutgoingChoice,
    OutgoingMessage,
    PermanentFailure,
    RecipientGone,
    RetryAfter,
    SendResult,
    Sent,
)
from bot.channels.phones import masked
from bot.channels.templates import Templates
from bot.channels.whatsapp_content import MAX_BODY, QUESTION_VARIABLE
from bot.pipeline import statuses
from bot.pipeline.coordination.contracts import Bucket, Coordination
from bot.pipeline.documents import document_kind, make_document
from bot.pipeline.interactive import InteractiveContents
from storage.database import Database
from storage.records import MessageRecord
from storage.repositories.messages import OPTED_OUT
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=15)
"""How long a sender owns the rows it leased; a dead sender's rows are free again after it."""
MAX_ATTEMPTS = 8
STATUS_SWEEP = 30.0
"""Seconds between sweeps for status callbacks that raced their receipt's transaction."""
STOP_GRACE = 3.0
"""Seconds the sends under way get to finish once the sender is told to stop."""
IDLE_POLL = 1.0
"""Seconds an idle sender waits for a wake-up before looking anyway: retries and lines held
back by quiet hours come due without one, and a writer that could not wake it is caught up."""
WHATSAPP_WINDOW = timedelta(hours=24)


HEADROOM = 0.99
"""The share of each provider limit the sender aims at. Sends are counted from their answers
(see `RateLimiter.finish`), so the network's delays cannot make us exceed a limit; this is for
a provider whose count is a little rougher than ours."""


CHAT_SUSTAINED_SECONDS = 10.0
"""The window over which a Telegram chat's sustained rate is kept: about one send a second on
average over ten seconds, within bursts of `telegram_chat_burst` in any second. (A chat rate
high enough to make that window hold over 100 sends gets a shorter one: same rate, less to
remember.)"""


@dataclass(frozen=True)
class Limits:
    """Sends per second; Telegram's per-group limit is per minute.

    A channel's overall limit is a sliding window of one second (30 sends in any second for
    Telegram by default), the way providers count: after a quiet moment a whole second's worth
    may go at once, and a send that starts late is made up by the next ones. A group's limit
    allows one send at a time, evenly spaced. A Telegram chat has two windows: at most
    `telegram_chat_burst` sends in any second, and `telegram_chat_per_second` on average over
    `CHAT_SUSTAINED_SECONDS`. So a turn of two or three messages ("Skipped." and the next
    question) leaves together even when the member answered the turn before a second ago,
    while a chat that is sent to steadily still gets about one a second."""

    telegram_per_second: float = 30.0
    telegram_chat_per_second: float = 1.0
    telegram_chat_burst: int = 3
    telegram_group_per_minute: float = 20.0
    whatsapp_per_second: float = 80.0
    sms_per_second: float = 1.0

    def buckets(self, channel: str, address: str) -> list[Bucket]:
        """The channel's buckets first, then the chat's own (Telegram), the sustained one last
        (the one a chat's `retry_after` pauses)."""
        if channel == "telegram":
            overall = _per_second("telegram", self.telegram_per_second)
            if address.startswith("-"):
                group = _spaced(f"telegram:group:{address}", self.telegram_group_per_minute / 60.0)
                return [*overall, group]
            burst = max(1, self.telegram_chat_burst)
            rate = self.telegram_chat_per_second
            return [
                *overall,
                Bucket(f"telegram:chat-burst:{address}", burst * HEADROOM, burst=burst),
                Bucket(
                    f"telegram:chat:{address}",
                    rate * HEADROOM,
                    burst=max(burst, min(round(rate * CHAT_SUSTAINED_SECONDS), 100)),
                ),
            ]
        if channel == "whatsapp":
            return _per_second("whatsapp", self.whatsapp_per_second)
        if channel == "sms":
            return _per_second("sms", self.sms_per_second)
        return []

    def pause_key(self, channel: str, address: str, scope: str) -> str:
        """The bucket a provider's retry_after stops: the whole channel's, or the chat's own
        where the channel has one."""
        if channel == "telegram" and scope != "channel":
            return self.buckets(channel, address)[-1].key
        return channel


def _per_second(key: str, rate: float) -> list[Bucket]:
    """`rate` sends in any second (a little under: `HEADROOM`)."""
    return [Bucket(key, rate * HEADROOM, burst=max(1, math.floor(rate)))]


def _spaced(key: str, rate: float) -> Bucket:
    """One send every 1 / `rate` seconds (a little more: `HEADROOM`)."""
    return Bucket(key, rate * HEADROOM, burst=1)


def backoff(attempts: int) -> float:
    """Seconds before the next try of a transiently failing send: 2, 4, 8 ... up to 5 minutes."""
    return float(min(300, 2 ** max(1, attempts)))


class Sender:
    def __init__(
        self,
        database: Database,
        coordination: Coordination,
        channels: Mapping[str, ChannelAdapter],
        limits: Limits,
        clock: Callable[[], datetime],
        batch: int = 200,
        templates: Templates | None = None,
        lanes: int = 2,
        interactive: InteractiveContents | None = None,
        idle_poll: float = IDLE_POLL,
    ) -> None:
        """`lanes`: rounds under way at once. A round waits for its slowest chat and then
        records and claims again; a second lane keeps sending meanwhile, so the channel's
        limit is used while the database is busy. `interactive`: WhatsApp questions go as
        buttons or a list to tap when set (else as numbered lists). `idle_poll`: seconds an
        idle lane waits for a wake-up before it looks at the outbox anyway."""
        self.database = database
        self.coordination = coordination
        self.channels = channels
        self.limits = limits
        self.clock = clock
        self.batch = batch
        self.sent = 0
        self.templates = templates or Templates()
        self.lanes = lanes
        self.interactive = interactive
        self.idle_poll = idle_poll
        self._receipts: asyncio.Queue[_Receipt | None] | None = None
        self._unrecorded: dict[int, tuple[MessageRecord, str]] = {}
        """Sends that went out while the database could not take their receipts."""
        self._journaled: dict[int, str] = {}
        """This round's leased messages that went out before (see `SentJournal`)."""
        self._stop: asyncio.Event | None = None

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; sends under way are finished, leased rows not yet sent are
        handed back at once."""
        if not self.channels:
            await stop.wait()  # nothing to send through (the console delivers its own lines)
            return
        self._stop = stop
        self._receipts = asyncio.Queue()
        recorder = asyncio.create_task(self._write_receipts())
        sweeper = asyncio.create_task(self._sweep_statuses(stop))
        lanes = asyncio.gather(*(self._lane(stop) for _ in range(self.lanes)))
        try:
            await stop.wait()
            try:
                await asyncio.wait_for(asyncio.shield(lanes), STOP_GRACE)
            except TimeoutError:
                # a provider that does not answer: the sends in flight are abandoned (their
                # lines stay leased until the lease ends), those not started go back at once
                log.warning("sends still under way %g s after the stop: abandoned", STOP_GRACE)
                lanes.cancel()
                await asyncio.gather(lanes, return_exceptions=True)
        finally:
            self._receipts.put_nowait(None)  # the lanes are done: write the rest, then stop
            await recorder
            self._receipts = None
            await sweeper

    async def _sweep_statuses(self, stop: asyncio.Event) -> None:
        """Every `STATUS_SWEEP`, apply the status callbacks that raced their receipt (see
        `statuses.apply_matched`), until `stop`."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), STATUS_SWEEP)
                return
            except TimeoutError:
                pass
            try:
                await self.sweep_statuses()
            except Exception:
                log.warning("could not apply early status callbacks", exc_info=True)

    async def sweep_statuses(self) -> int:
        """Apply the kept status callbacks whose receipts are recorded; how many."""
        async with self.database.transaction() as uow:
            return await statuses.apply_matched(uow, self.clock())

    async def _lane(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                # this round looks at everything due: wake-ups asked for until now are answered
                await self.coordination.outbox_wakeup.clear()
                claimed = await self.send_due()
            except Exception:
                log.exception("the sender failed a round; trying again")
                claimed = 0
            if claimed == 0:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Wait for a wake-up, `idle_poll` (retries come due), or the stop, whichever is first."""
        wakeup = asyncio.create_task(self.coordination.outbox_wakeup.pop(timeout=self.idle_poll))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({wakeup, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (wakeup, stopping):
            task.cancel()
        await asyncio.gather(wakeup, stopping, return_exceptions=True)

    async def send_due(self) -> int:
        """One round: lease what is due, send it, record the outcomes. Returns rows leased.

        Receipts the database could not take before are recorded first, and a leased message
        that went out before (its receipt lost to an outage, here or in another sender) is
        recorded as sent, not sent again."""
        await self._record_unrecorded()
        async with self.database.transaction() as uow:
            await uow.messages.fail_queued_to_blocked(self.clock())
            rows = await uow.messages.claim_due(
                self.clock(), LEASE, self.batch, channels=tuple(self.channels)
            )
            cancelled = await uow.messages.cancel_claimed_to_opted_out(
                [row.id for row in rows if _nudge(row)], self.clock()
            )
        rows = [row for row in rows if row.id not in cancelled]
        if not rows:
            return len(cancelled)
        await self._recall_sent(rows)
        proactive = [r.address_value for r in rows if r.channel == "whatsapp" and _nudge(r)]
        last_inbound: dict[str, datetime | None] = {}
        if proactive:
            async with self.database.transaction() as uow:
                last_inbound = await uow.members.last_inbound("whatsapp", proactive)
        by_chat: dict[tuple[str, str], list[MessageRecord]] = defaultdict(list)
        for row in rows:
            by_chat[(row.channel, row.address_value)].append(row)
        # the chats start in the order they were leased: replies book the limiter's slots first
        await asyncio.gather(
            *(self._send_chat(chat_rows, last_inbound) for chat_rows in by_chat.values())
        )
        return len(rows)

    async def _record_unrecorded(self) -> None:
        """Record the receipts an outage kept from the database. While it still cannot take
        them they are kept, and the round goes on (its claim tells whether the database is
        back; the sends the round makes meanwhile are kept the same way)."""
        if not self._unrecorded:
            return
        pending = dict(self._unrecorded)
        now = self.clock()
        try:
            async with self.database.transaction() as uow:
                await uow.messages.mark_sent_many(
                    [(i, sid) for i, (_, sid) in pending.items()], at=now
                )
                await statuses.apply_early(uow, pending.values(), now)
        except Exception:
            log.warning("%s receipts still wait for the database", len(pending), exc_info=True)
            return
        for message_id in pending:
            self._unrecorded.pop(message_id, None)
        log.info("recorded %s receipts kept through a database outage", len(pending))
        try:
            await self.coordination.sent.forget(list(pending))
        except Exception:  # an entry left behind only makes a later round record, not send
            log.warning("could not clear the sent journal", exc_info=True)

    async def _recall_sent(self, rows: list[MessageRecord]) -> None:
        """Note which leased rows went out before, here or in another sender."""
        ids = [row.id for row in rows]
        known = {i: self._unrecorded[i][1] for i in ids if i in self._unrecorded}
        try:
            known.update(await self.coordination.sent.recall(ids))
        except Exception:  # the journal is away too: such a row may be sent twice
            log.warning("could not read the sent journal", exc_info=True)
        self._journaled.update(known)

    async def _keep_unrecorded(self, outcomes: list[tuple[MessageRecord, SendResult]]) -> None:
        """The chat's receipts could not be written: keep its sends, here and in the journal,
        so that neither this sender nor another sends them again when their lease runs out."""
        sent = {
            row.id: (row, result.provider_id)
            for row, result in outcomes
            if isinstance(result, Sent)
        }
        if not sent:
            return
        self._unrecorded.update(sent)
        try:
            await self.coordination.sent.remember({i: sid for i, (_, sid) in sent.items()})
        except Exception:
            log.warning("could not journal %s sends whose receipts wait", len(sent), exc_info=True)

    async def _send_chat(
        self, rows: list[MessageRecord], last_inbound: Mapping[str, datetime | None]
    ) -> None:
        """One chat's messages strictly in order; the first that cannot go now holds the rest.
        The chat's outcomes are recorded together, in one transaction, when it is done."""
        outcomes: list[tuple[MessageRecord, SendResult]] = []
        held: list[MessageRecord] = []
        started = time.monotonic()
        try:
            for index, row in enumerate(rows):
                if time.monotonic() - started > LEASE.total_seconds() / 2 or self._stopping():
                    held = rows[index:]  # a slow chat, or the process stops: give the rest back
                    break
                result = await self._send_one(row, last_inbound)
                outcomes.append((row, result))
                if isinstance(result, RetryAfter | RecipientGone):
                    held = rows[index + 1 :]
                    break
        except asyncio.CancelledError:
            # stopped mid-send: the lines not tried go back to the queue at once; the one in
            # flight stays leased (it may have gone out) until its lease ends
            held = rows[len(outcomes) + 1 :]
            raise
        finally:
            try:
                await self._record(outcomes, held)
            except Exception:
                await self._keep_unrecorded(outcomes)
                raise

    async def _send_one(
        self, row: MessageRecord, last_inbound: Mapping[str, datetime | None]
    ) -> SendResult:
        provider_id = self._journaled.pop(row.id, None)
        if provider_id is not None:
            log.info(
                "message %s went out before its receipt was lost: recorded, not resent", row.id
            )
            return Sent(provider_id)
        adapter = self.channels[row.channel]
        outgoing = _outgoing(row, adapter)
        if document_kind(row) is not None:
            with_document = await self._with_document(row, outgoing, adapter)
            if not isinstance(with_document, OutgoingMessage):
                return with_document
            outgoing = with_document
        if row.channel == "whatsapp" and _nudge(row) and self._outside_window(row, last_inbound):
            # WhatsApp's rule: outside the 24-hour window only an approved template may go
            kind, payload = _nudge(row), row.payload or {}
            sid = self.templates.lookup(kind or "", payload.get("locale", "en"))
            if sid is None:
                return PermanentFailure(
                    "outside_window",
                    f"outside WhatsApp's 24-hour window and no template for {kind} "
                    f"in {payload.get('locale', 'en')}: not sent",
                )
            outgoing = replace(
                outgoing, content_sid=sid, content_variables=payload.get("template") or {}
            )
        elif row.channel == "whatsapp" and self.interactive is not None:
            outgoing = await self._to_tap(row, outgoing, self.interactive)
        buckets = self.limits.buckets(row.channel, row.address_value)
        booking = await self.coordination.limiter.acquire(buckets)
        if _nudge(row) and not await self._still_queued(row):
            # cancelled while it waited for its slot: the member opted out meanwhile
            await self.coordination.limiter.finish(buckets, booking)
            return PermanentFailure(OPTED_OUT, "cancelled before it went out")
        try:
            result = await adapter.send(outgoing)
        except Exception as error:  # an adapter bug must not kill the sender
            log.exception("sending message %s raised", row.id)
            result = RetryAfter(backoff(row.attempts + 1), "chat", repr(error))
        try:
            await self.coordination.limiter.finish(buckets, booking)
        except Exception:  # the send stays counted from its start: a little less safe, no more
            log.warning("could not count message %s as answered", row.id, exc_info=True)
        if isinstance(result, RetryAfter):
            key = self.limits.pause_key(row.channel, row.address_value, result.scope)
            await self.coordination.limiter.pause(key, result.seconds)
        return result

    async def _with_document(
        self, row: MessageRecord, outgoing: OutgoingMessage, adapter: ChannelAdapter
    ) -> OutgoingMessage | PermanentFailure | RetryAfter:
        """The line with its document made now, before it takes a slot of the channel."""
        if not adapter.capabilities.documents:
            return PermanentFailure("no_documents", f"{row.channel} does not send files")
        try:
            async with self.database.read() as uow:
                document = await make_document(uow, row)
        except Exception as error:  # the database is away: try again like a transient failure
            log.warning("could not make the document of message %s", row.id, exc_info=True)
            return RetryAfter(
                backoff(row.attempts + 1), "chat", f"document: {type(error).__name__}"
            )
        if document is None:
            return PermanentFailure("document_gone", "nothing to make the document from")
        return replace(outgoing, document=document)

    async def _to_tap(
        self, row: MessageRecord, outgoing: OutgoingMessage, interactive: InteractiveContents
    ) -> OutgoingMessage:
        """The question as buttons or a list to tap, when its choices fit and the content can
        be had; else unchanged (the numbered list in its text)."""
        payload = row.payload or {}
        question = payload.get("question")
        if not payload.get("one_tap") or not isinstance(question, str):
            return outgoing
        if len(question) > MAX_BODY:
            return outgoing
        choices = tuple(OutgoingChoice(str(c[0]), str(c[1])) for c in payload.get("choices", []))
        content = interactive.content_for(payload.get("step"), choices, payload.get("locale", "en"))
        if content is None:
            return outgoing
        sid = await interactive.sid(content)
        if sid is None:
            return outgoing
        return replace(outgoing, content_sid=sid, content_variables={QUESTION_VARIABLE: question})

    async def _still_queued(self, row: MessageRecord) -> bool:
        """Whether a proactive line is still queued just before it goes. A broadcast's lines
        are leased a round at a time and then wait for the channel's limit, seconds for the
        last of them; a member who says STOP meanwhile has them cancelled in the database,
        and this is where the sender learns it. A reply is never cancelled: not asked."""
        try:
            async with self.database.one_read() as uow:
                return bool(await uow.messages.still_queued([row.id]))
        except Exception:  # the database is away: the lease and the claim-time check stand
            log.warning("could not check message %s before sending it", row.id, exc_info=True)
            return True

    def _outside_window(
        self, row: MessageRecord, last_inbound: Mapping[str, datetime | None]
    ) -> bool:
        last = last_inbound.get(row.address_value)
        return last is None or self.clock() - last >= WHATSAPP_WINDOW

    async def _record(
        self, outcomes: list[tuple[MessageRecord, SendResult]], held: list[MessageRecord]
    ) -> None:
        """Record one chat's outcomes. While the sender runs, the chats that finish together
        are recorded together, in one transaction (see `_write_receipts`); this returns once
        the chat's are committed, and raises if they could not be."""
        if self._receipts is None:
            await self._write([(outcomes, held)])
            return
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._receipts.put_nowait((outcomes, held, written))
        await written

    async def _write_receipts(self) -> None:
        """Write what the chats report, as many at a time as have reported, until `None`.

        Hundreds of chats finish within moments of each other; a transaction each made them
        queue for the database's connections longer than they took to send. If a batch cannot
        be written, each chat's is tried alone, so one bad row fails only its own chat."""
        assert self._receipts is not None
        done = False
        while not done:
            first = await self._receipts.get()
            if first is None:
                return
            batch = [first]
            while not self._receipts.empty():
                item = self._receipts.get_nowait()
                if item is None:
                    done = True
                    break
                batch.append(item)
            try:
                await self._write([(outcomes, held) for outcomes, held, _ in batch])
                results: list[BaseException | None] = [None] * len(batch)
            except Exception:
                results = []
                for outcomes, held, _ in batch:
                    try:
                        await self._write([(outcomes, held)])
                        results.append(None)
                    except Exception as failure:
                        results.append(failure)
            for (_, _, written), outcome in zip(batch, results, strict=True):
                if written.done():
                    continue
                if outcome is None:
                    written.set_result(None)
                else:
                    written.set_exception(outcome)

    async def _write(
        self, chats: list[tuple[list[tuple[MessageRecord, SendResult]], list[MessageRecord]]]
    ) -> None:
        now = self.clock()
        async with self.database.transaction() as uow:
            sent = [
                (row, result.provider_id)
                for outcomes, _ in chats
                for row, result in outcomes
                if isinstance(result, Sent)
            ]
            await uow.messages.mark_sent_many([(row.id, sid) for row, sid in sent], at=now)
            await statuses.apply_early(uow, sent, now)  # callbacks that came before this
            for row, _ in sent:
                if document_kind(row) is not None:
                    await uow.audit.record(
                        None,
                        f"{document_kind(row)}_sent",
                        at=now,
                        member_id=row.member_id,
                        detail=f"as a file in the {row.channel} chat",
                    )
            self.sent += len(sent)
            for outcomes, held in chats:
                for row, result in outcomes:
                    if not isinstance(result, Sent):
                        await self._record_one(uow, row, result, now)
                for row in held:
                    # behind one that has to wait, or to a recipient who just went away
                    await uow.messages.postpone(row.id, not_before=now, at=now)

    async def _record_one(
        self, uow: UnitOfWork, row: MessageRecord, result: SendResult, now: datetime
    ) -> None:
        """Record a send that did not go (those that did are recorded together)."""
        match result:
            case RetryAfter():
                if row.attempts + 1 >= MAX_ATTEMPTS:
                    await uow.messages.mark_failed(row.id, "retries_exhausted", at=now)
                    log.warning("message %s failed after %s attempts", row.id, row.attempts + 1)
                else:
                    seconds = max(result.seconds, 0.0)
                    log.info(
                        "message %s not sent (%s): trying again in %g s",
                        row.id,
                        masked(result.reason[:200]),
                        seconds,
                    )
                    await uow.messages.retry_later(
                        row.id,
                        next_attempt_at=now + timedelta(seconds=seconds),
                        error_code=result.reason[:32] or None,
                        at=now,
                    )
            case PermanentFailure():
                await uow.messages.mark_failed(row.id, result.code, at=now)
                log.warning(
                    "message %s failed for good: %s %s", row.id, result.code, masked(result.reason)
                )
            case RecipientGone():
                await uow.messages.mark_failed(row.id, result.code, at=now)
                await uow.members.set_blocked(row.channel, row.address_value, True, at=now)
                if result.opted_out and row.member_id is not None:
                    await uow.members.update(row.member_id, at=now, opted_out=True)
                log.info("%s:%s is gone (%s)", row.channel, masked(row.address_value), result.code)


_Receipt = tuple[
    list[tuple[MessageRecord, SendResult]], list[MessageRecord], "asyncio.Future[None]"
]
"""One chat's outcomes, the rows it held back, and the future its sender waits on."""


def _nudge(row: MessageRecord) -> str | None:
    """The nudge kind of a proactive message; None for a reply to the member."""
    return (row.payload or {}).get("nudge")


def _outgoing(row: MessageRecord, adapter: ChannelAdapter) -> OutgoingMessage:
    payload = row.payload or {}
    choices: tuple[OutgoingChoice, ...] = ()
    if adapter.capabilities.buttons:
        choices = tuple(OutgoingChoice(str(c[0]), str(c[1])) for c in payload.get("choices", []))
    return OutgoingMessage(
        message_id=row.id,
        channel=row.channel,
        address=row.address_value,
        text=row.text,
        choices=choices,
        step_id=payload.get("step"),
        content_sid=payload.get("content_sid"),
        content_variables=payload.get("content_variables") or {},
        contact_button=payload.get("contact_button"),
        clear_keyboard=bool(payload.get("clear_keyboard")),
    )
