"""Broadcasts: staff messages to a group, a language and/or a segment, and their recipients.

A broadcast goes out in three steps, each safe to repeat after a crash:

1. `create` stores what to say and to whom (status `scheduled`, due at `scheduled_at`);
2. `plan` writes its audience into `broadcast_recipients` with ONE `INSERT … SELECT … ON
   CONFLICT DO NOTHING` (a recipient is unique per broadcast and member, so planning again adds
   only members who matched since). Members who opted out, or have no address a proactive
   message can reach, are written as `skipped` with the reason;
3. `enqueue_batch` turns up to `limit` planned recipients into outbox rows and marks them
   `queued` with their message id, in the caller's transaction: a batch is written whole or not
   at all, and a recipient with a message id is never queued again.

Where a broadcast stands (`progress`) is read from counts that triggers keep in step with every
change of its recipients and of their first lines (revision 0019): the console polls it every
second or two while the sender writes to the same rows, and counting 100,000 recipients and
their lines at each poll took seconds. Each change adds count rows; `compact_counts` replaces
them by their sums, after planning, after each queued batch and at the clock's sweeps.

The audience is a SQL query, never a loop over members in Python: `Audience` carries the group,
the language and the segment's conditions (`MemberCondition`, `AnswerCondition`, which
`bot.broadcasts.segments` parses from text), and they become SQLAlchemy expressions here.

Sending is the sender's job. Policies that belong to `bot` (quiet hours, how a channel cuts a
long text) are passed in as `DeliveryRules`, since storage may not import `bot`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, cast

from sqlalchemy import (
    ColumnElement,
    Numeric,
    Select,
    Table,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.errors import NotFound, StorageError
from storage.models import (
    Address,
    Answer,
    Broadcast,
    BroadcastLineCount,
    BroadcastRecipient,
    BroadcastRecipientCount,
    Group,
    Member,
    Membership,
    Message,
    Staff,
)
from storage.records import DEFAULT_QUIET_END, DEFAULT_QUIET_START
from storage.vocabulary import Channel

CANCELLED = "cancelled"
"""The error code of a broadcast's line (and the reason of a recipient) cancelled with it."""


@dataclass(frozen=True, slots=True)
class CancelledBroadcast:
    lines: int
    """Queued lines failed with error "cancelled"."""
    recipients: int
    """Recipients not queued yet, now skipped."""


BroadcastStatus = Literal["scheduled", "planning", "sending", "done", "cancelled"]
RecipientStatus = Literal["planned", "queued", "skipped"]
Comparison = Literal["=", "!=", ">", ">=", "<", "<="]

MAX_TEXT_LENGTH = 1600
"""The longest broadcast text: WhatsApp's limit through Twilio, and about 10 SMS segments."""
TEMPLATE_PREVIEW = 60
"""How much of the text a WhatsApp template (outside the 24-hour window) carries as {{1}}."""
PROACTIVE_CHANNELS: tuple[Channel, ...] = ("telegram", "whatsapp", "sms")
"""Channels a message can reach a member on unasked (not the terminal console)."""
OPTED_OUT = "opted_out"
NO_CONSENT = "no_consent"
"""Never said yes to the consent question (an imported member, or one who declined)."""
UNREACHABLE = "unreachable"
FINAL_MESSAGE_STATUSES = frozenset({"delivered", "read", "failed", "undelivered"})
NO_RECEIPT_CHANNELS = frozenset({"telegram"})
"""Channels with no delivery receipts: for them `sent` is as far as a message gets."""
COMPACT_LOCK = 0x62636E74
"""The first key of the PostgreSQL advisory lock taken while compacting a broadcast's counts
(the second is the broadcast's id)."""
_COUNTS: tuple[tuple[Table, tuple[str, ...], str], ...] = (
    (cast(Table, BroadcastRecipientCount.__table__), ("status", "reason"), "recipients"),
    (
        cast(Table, BroadcastLineCount.__table__),
        ("channel", "status", "next_attempt_at"),
        "lines",
    ),
)
"""Each count table, the columns of its key and the column of its number."""


class InvalidBroadcast(StorageError):
    """A broadcast cannot be created as asked; the message says why, fit for staff."""


# --- the audience ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemberCondition:
    """A condition on a member's own field: `business_type` or `language` (the locale)."""

    field: Literal["business_type", "language"]
    op: Comparison
    value: str


@dataclass(frozen=True, slots=True)
class AnswerCondition:
    """A condition on the member's latest non-skipped answer to `step_id` of `checkin_id`.

    Money and number answers compare `number` (any currency: an amount is an amount); yes/no
    and single-choice answers compare `choice` ("yes"/"no", or a choice id) with = or !=. A
    member who never answered the step matches no condition on it, not even !=.
    """

    checkin_id: str
    step_id: str
    op: Comparison
    number: Decimal | None = None
    choice: str | None = None

    def __post_init__(self) -> None:
        if (self.number is None) == (self.choice is None):
            raise ValueError("an answer condition compares either a number or a choice")
        if self.choice is not None and self.op not in ("=", "!="):
            raise ValueError(f"a choice is compared with = or !=, not {self.op}")


SegmentCondition = MemberCondition | AnswerCondition


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a broadcast is for: the current members of `group_id` (of any group when None)
    whose locale is `language` (any when None) and who meet every condition."""

    group_id: int | None = None
    language: str | None = None
    conditions: tuple[SegmentCondition, ...] = ()


@dataclass(frozen=True, slots=True)
class AudienceCounts:
    """A dry run. `channels` counts the members who would receive the broadcast by the channel
    they would get it on; `skipped` counts the others by reason (`opted_out`, `no_consent`:
    no recorded consent, `unreachable`: no address a proactive message can reach, shown as
    channel "none"); `locales` counts the members who would receive it by their language."""

    total: int
    channels: dict[str, int]
    skipped: dict[str, int]
    locales: dict[str, int]

    @property
    def receiving(self) -> int:
        return sum(self.channels.values())


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BroadcastRecord:
    id: int
    created_by_id: int | None
    group_id: int | None
    language: str | None
    segment: str | None
    texts: dict[str, str]
    status: BroadcastStatus
    scheduled_at: datetime
    created_at: datetime
    planned_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class BroadcastProgress:
    """Where a broadcast is: recipients by status (`planned`, `queued`, `skipped`), skipped ones
    by reason, and the outbox messages of queued recipients by their delivery status (and by
    channel too). `unsettled` counts messages that may still change: queued ones, and sent
    ones on channels that report delivery. `deferred` counts queued messages not due before
    the `now` given to `progress` (quiet hours, a retry), the last of them due at
    `deferred_until`."""

    broadcast: BroadcastRecord
    recipients: dict[str, int]
    skipped: dict[str, int]
    messages: dict[str, int]
    messages_by_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    deferred: int = 0
    deferred_until: datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.recipients.values())

    @property
    def unqueued(self) -> int:
        return self.recipients.get("planned", 0)

    @property
    def unsettled(self) -> int:
        waiting = 0
        for channel, counts in self.messages_by_channel.items():
            waiting += counts.get("queued", 0)
            if channel not in NO_RECEIPT_CHANNELS:
                waiting += counts.get("sent", 0)
        return waiting


@dataclass(frozen=True, slots=True)
class RecipientLine:
    """One recipient as the progress page lists them: the member, where the broadcast goes,
    the recipient's status (and why it was skipped), and its first message's delivery status
    and provider error, once queued."""

    member_id: int
    name: str | None
    channel: str | None
    status: RecipientStatus
    reason: str | None
    delivery: str | None
    error_code: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRules:
    """The sending policies `enqueue_batch` applies, provided by `bot`.

    `not_before(now, zone, quiet_start, quiet_end)` is `now` outside quiet hours in `zone`, else
    the aware moment they end (`bot.calendar.quiet_hours.next_allowed`); `split(channel, text)`
    cuts a text into the messages the channel accepts (`bot.channels.splitting`)."""

    not_before: Callable[[datetime, str, str, str], datetime]
    split: Callable[[str, str], list[str]]


def validate_texts(texts: Mapping[str, str]) -> dict[str, str]:
    """The texts as stored (language code → text, stripped), or `InvalidBroadcast`: at least one
    text, none empty, none over 1,600 characters."""
    if not texts:
        raise InvalidBroadcast("a broadcast needs a text")
    clean: dict[str, str] = {}
    for language, text in texts.items():
        code = language.strip()
        if not code or len(code) > 35:
            raise InvalidBroadcast(f"{language!r} is not a language code")
        body = text.strip()
        if not body:
            raise InvalidBroadcast(f"the [{code}] text is empty")
        if len(body) > MAX_TEXT_LENGTH:
            raise InvalidBroadcast(
                f"the [{code}] text has {len(body):,} characters; a broadcast may have at most "
                f"{MAX_TEXT_LENGTH:,} (WhatsApp's limit, about 10 SMS): shorten it"
            )
        clean[code] = body
    return clean


def text_language(texts: Mapping[str, str], locale: str) -> str:
    """Which of the texts a member with `locale` gets: theirs, their base language's (`sw` for
    `sw-KE`), else the broadcast's first text."""
    if locale in texts:
        return locale
    base = locale.replace("_", "-").split("-")[0]
    if base in texts:
        return base
    return next(iter(texts))


# --- the repository ---------------------------------------------------------------------------


class BroadcastRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(
        self,
        *,
        created_by_id: int | None,
        group_id: int | None,
        language: str | None,
        segment: str | None,
        texts: Mapping[str, str],
        scheduled_at: datetime,
        at: datetime,
    ) -> BroadcastRecord:
        """Store a broadcast in status `scheduled`, due at `scheduled_at`.

        `segment` is the expression as staff wrote it (`bot.broadcasts.segments` parses and checks
        it; it is parsed again when the broadcast is planned). Raises `InvalidBroadcast` for texts
        `validate_texts` refuses, an unknown group or an unknown staff member.
        """
        clean = validate_texts(texts)
        if group_id is not None and await self._session.get(Group, group_id) is None:
            raise InvalidBroadcast(f"no group #{group_id}")
        if created_by_id is not None:
            author = await self._session.get(Staff, created_by_id)
            if author is None:
                raise InvalidBroadcast(f"no staff member #{created_by_id}")
            if author.removed_at is not None:
                raise InvalidBroadcast(f"staff member #{created_by_id} was removed")
        row = Broadcast(
            created_by_id=created_by_id,
            group_id=group_id,
            language=language,
            segment=segment or None,
            texts=clean,
            status="scheduled",
            scheduled_at=scheduled_at,
            created_at=at,
        )
        self._session.add(row)
        await self._session.flush()
        return _record(row)

    async def get(self, broadcast_id: int) -> BroadcastRecord | None:
        row = await self._session.get(Broadcast, broadcast_id)
        return None if row is None else _record(row)

    async def list(self, limit: int = 50) -> builtins.list[BroadcastRecord]:
        """The latest broadcasts, newest first."""
        rows = await self._session.scalars(
            select(Broadcast)
            .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
            .limit(limit)
        )
        return [_record(row) for row in rows]

    async def page(
        self, group_ids: Collection[int] | None, *, offset: int, limit: int
    ) -> builtins.list[BroadcastRecord]:
        """One page of broadcasts, newest first: those to the groups `group_ids` (every
        broadcast, including those to every group, when None)."""
        statement = select(Broadcast).order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
        if group_ids is not None:
            statement = statement.where(Broadcast.group_id.in_(tuple(group_ids)))
        rows = await self._session.scalars(statement.offset(offset).limit(limit))
        return [_record(row) for row in rows]

    async def due(self, now: datetime) -> builtins.list[BroadcastRecord]:
        """Scheduled broadcasts whose time has come, the earliest first."""
        rows = await self._session.scalars(
            select(Broadcast)
            .where(Broadcast.status == "scheduled", Broadcast.scheduled_at <= now)
            .order_by(Broadcast.scheduled_at, Broadcast.id)
        )
        return [_record(row) for row in rows]

    async def unfinished(self, started_before: datetime) -> builtins.list[BroadcastRecord]:
        """Broadcasts planning or sending, due before `started_before`, not done: ones a
        stopped process left half way, to resume."""
        rows = await self._session.scalars(
            select(Broadcast)
            .where(
                Broadcast.status.in_(("planning", "sending")),
                Broadcast.scheduled_at < started_before,
            )
            .order_by(Broadcast.scheduled_at, Broadcast.id)
        )
        return [_record(row) for row in rows]

    async def set_status(
        self,
        broadcast_id: int,
        status: BroadcastStatus,
        *,
        at: datetime,
        expected: Sequence[BroadcastStatus] | None = None,
    ) -> bool:
        """Move the broadcast to `status`; with `expected`, only from one of those statuses
        (an atomic claim: of two callers, one wins). `done` and `cancelled` set `finished_at`.
        Returns whether it moved; `NotFound` for an unknown broadcast."""
        values: dict[str, Any] = {"status": status}
        if status in ("done", "cancelled"):
            values["finished_at"] = at
        statement = update(Broadcast).where(Broadcast.id == broadcast_id)
        if expected is not None:
            statement = statement.where(Broadcast.status.in_(tuple(expected)))
        moved = await self._session.scalar(
            statement.values(**values)
            .returning(Broadcast.id)
            .execution_options(synchronize_session=False)
        )
        if moved is not None:
            return True
        if await self._session.scalar(select(Broadcast.id).where(Broadcast.id == broadcast_id)):
            return False
        raise NotFound(f"no broadcast #{broadcast_id}")

    async def cancel(self, broadcast_id: int, at: datetime) -> CancelledBroadcast:
        """Cancel a broadcast that is not finished sending: it queues nobody more, its queued
        lines fail with error "cancelled", and recipients not yet queued are skipped. Lines a
        sender has already taken (leased) are on their way and cannot be called back.
        `NotFound` for an unknown broadcast; `InvalidBroadcast` when it was cancelled already."""
        broadcast = await self.get(broadcast_id)
        if broadcast is None:
            raise NotFound(f"no broadcast #{broadcast_id}")
        if broadcast.status == "cancelled":
            raise InvalidBroadcast(f"broadcast #{broadcast_id} is cancelled already")
        await self.set_status(broadcast_id, "cancelled", at=at)
        lines = await self._session.execute(
            update(Message)
            .where(
                Message.direction == "out",
                Message.status == "queued",
                or_(Message.lease_until.is_(None), Message.lease_until < at),
                Message.payload["broadcast"].as_integer() == broadcast_id,
            )
            .values(status="failed", error_code=CANCELLED, lease_until=None, updated_at=at)
            .execution_options(synchronize_session=False)
        )
        skipped = await self._session.execute(
            update(BroadcastRecipient)
            .where(
                BroadcastRecipient.broadcast_id == broadcast_id,
                BroadcastRecipient.message_id.is_(None),
                BroadcastRecipient.status == "planned",
            )
            .values(status="skipped", reason=CANCELLED)
            .execution_options(synchronize_session=False)
        )
        await self.compact_counts(broadcast_id)
        return CancelledBroadcast(
            int(getattr(lines, "rowcount", 0) or 0), int(getattr(skipped, "rowcount", 0) or 0)
        )

    # --- the audience -------------------------------------------------------------------------

    async def audience_counts(self, audience: Audience) -> AudienceCounts:
        """Who a broadcast to `audience` would reach now, on which channels; writes nothing."""
        rows = _audience_rows(audience, self._dialect).subquery()
        counted = await self._session.execute(
            select(
                rows.c.status, rows.c.reason, rows.c.channel, rows.c.locale, func.count()
            ).group_by(rows.c.status, rows.c.reason, rows.c.channel, rows.c.locale)
        )
        total = 0
        channels: dict[str, int] = {}
        skipped: dict[str, int] = {}
        locales: dict[str, int] = {}
        for status, reason, channel, locale, count in counted:
            total += count
            if status == "planned":
                channels[channel] = channels.get(channel, 0) + count
                locales[locale] = locales.get(locale, 0) + count
            else:
                skipped[reason] = skipped.get(reason, 0) + count
        return AudienceCounts(total, channels, skipped, locales)

    async def plan(
        self, broadcast_id: int, at: datetime, conditions: Sequence[SegmentCondition] = ()
    ) -> int:
        """Write the broadcast's audience as recipients (one INSERT … SELECT), skipping members
        already planned; returns how many were added. `conditions` are the parsed segment.
        Sets `planned_at` and moves a `scheduled` or `planning` broadcast to `sending`."""
        broadcast = await self._session.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise NotFound(f"no broadcast #{broadcast_id}")
        audience = Audience(broadcast.group_id, broadcast.language, tuple(conditions))
        rows = _audience_rows(audience, self._dialect).subquery()
        source = select(
            literal(broadcast_id).label("broadcast_id"),
            rows.c.member_id,
            rows.c.channel_or_null,
            rows.c.address,
            rows.c.status,
            rows.c.reason,
        ).where(true())  # SQLite needs a WHERE before an upsert's ON CONFLICT (parser ambiguity)
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = (
            dialect_insert(BroadcastRecipient)
            .from_select(
                ["broadcast_id", "member_id", "channel", "address", "status", "reason"], source
            )
            .on_conflict_do_nothing(index_elements=["broadcast_id", "member_id"])
        )
        result = await self._session.execute(statement)
        added = int(getattr(result, "rowcount", 0) or 0)
        await self._session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id)
            .values(
                planned_at=func.coalesce(Broadcast.planned_at, at),
                status=case(
                    (Broadcast.status.in_(("scheduled", "planning")), "sending"),
                    else_=Broadcast.status,
                ),
            )
            .execution_options(synchronize_session=False)
        )
        if added:
            await self.compact_counts(broadcast_id)
        return max(added, 0)

    async def enqueue_batch(
        self, broadcast_id: int, limit: int, now: datetime, rules: DeliveryRules
    ) -> int:
        """Queue up to `limit` planned recipients: one outbox row per part of their text (in
        their language), `next_attempt_at` at the end of quiet hours in the member's (or else
        their group's) zone when `now` is inside them, and the recipient `queued` with the
        first part's message id, all in the caller's transaction.

        Opt-out and consent are checked again here: a member who opted out (or has no recorded
        consent), or whose planned address was blocked, since planning is `skipped`. Returns
        how many recipients were handled (queued or skipped); 0 means none is left. On
        PostgreSQL concurrent callers skip each other's rows (FOR UPDATE SKIP LOCKED); SQLite
        serialises writers.
        """
        found = (
            await self._session.execute(
                select(Broadcast.texts, Broadcast.status).where(Broadcast.id == broadcast_id)
            )
        ).one_or_none()
        if found is None:
            raise NotFound(f"no broadcast #{broadcast_id}")
        texts, status = found
        if status == "cancelled":
            return 0  # a cancelled broadcast queues nobody more
        recipient = BroadcastRecipient
        membership = aliased(Membership)
        pending = (
            select(
                recipient.id,
                recipient.member_id,
                recipient.channel,
                recipient.address,
                Member.locale,
                Member.opted_out,
                Member.consent,
                Member.timezone,
                Address.blocked_at,
                Address.member_id.label("address_owner"),
                Group.timezone.label("group_timezone"),
                Group.quiet_start,
                Group.quiet_end,
            )
            .join(Member, Member.id == recipient.member_id)
            .outerjoin(
                Address,
                and_(Address.channel == recipient.channel, Address.value == recipient.address),
            )
            .outerjoin(
                membership,
                and_(membership.member_id == recipient.member_id, membership.left_at.is_(None)),
            )
            .outerjoin(Group, Group.id == membership.group_id)
            .where(
                recipient.broadcast_id == broadcast_id,
                recipient.status == "planned",
                recipient.message_id.is_(None),
            )
            .order_by(recipient.id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            pending = pending.with_for_update(of=recipient, skip_locked=True)
        rows = (await self._session.execute(pending)).all()
        if not rows:
            return 0
        messages: list[dict[str, Any]] = []
        firsts: list[tuple[int, int]] = []  # (recipient id, index of its first message)
        skips: list[dict[str, Any]] = []
        for row in rows:
            if row.opted_out:
                skips.append({"id": row.id, "status": "skipped", "reason": OPTED_OUT})
                continue
            if row.consent is not True:
                skips.append({"id": row.id, "status": "skipped", "reason": NO_CONSENT})
                continue
            if row.blocked_at is not None or row.address_owner != row.member_id:
                skips.append({"id": row.id, "status": "skipped", "reason": UNREACHABLE})
                continue
            language = text_language(texts, row.locale or "")
            text = texts[language]
            zone = row.timezone or row.group_timezone or "UTC"
            wake = rules.not_before(
                now,
                zone,
                row.quiet_start or DEFAULT_QUIET_START,
                row.quiet_end or DEFAULT_QUIET_END,
            )
            payload = {
                "nudge": "broadcast",
                "broadcast": broadcast_id,
                "locale": language,  # the WhatsApp template's language: the text's
                "template": {"1": text[:TEMPLATE_PREVIEW]},
            }
            firsts.append((row.id, len(messages)))
            for part in rules.split(row.channel, text):
                messages.append(
                    {
                        "member_id": row.member_id,
                        "channel": row.channel,
                        "address_value": row.address,
                        "direction": "out",
                        "text": part,
                        "payload": payload,
                        "status": "queued",
                        "provider_message_id": None,
                        "error_code": None,
                        "created_at": now,
                        "updated_at": now,
                        "attempts": 0,
                        "next_attempt_at": wake if wake > now else None,
                    }
                )
        if messages:
            ids = list(
                await self._session.scalars(
                    insert(Message).returning(Message.id, sort_by_parameter_order=True),
                    messages,
                )
            )
            await self._session.execute(
                update(recipient),
                [
                    {"id": recipient_id, "message_id": ids[index], "status": "queued"}
                    for recipient_id, index in firsts
                ],
            )
        if skips:
            await self._session.execute(update(recipient), skips)
        await self.compact_counts(broadcast_id)
        return len(rows)

    async def progress(self, broadcast_id: int, now: datetime | None = None) -> BroadcastProgress:
        """Recipients by status and reason, and their first lines by delivery status (and,
        with `now`, how many queued ones wait for a later time).

        Read from the counts the triggers of revision 0019 keep in step with every change
        (`BroadcastRecipientCount`, `BroadcastLineCount`): a few rows per broadcast once
        compacted, whatever its size, so a page polling it stays fast at 100,000 recipients;
        the same numbers as counting the recipients and their lines themselves."""
        broadcast = await self.get(broadcast_id)
        if broadcast is None:
            raise NotFound(f"no broadcast #{broadcast_id}")
        recipients: dict[str, int] = {}
        skipped: dict[str, int] = {}
        counted = await self._session.execute(
            select(
                BroadcastRecipientCount.status,
                BroadcastRecipientCount.reason,
                func.sum(BroadcastRecipientCount.recipients),
            )
            .where(BroadcastRecipientCount.broadcast_id == broadcast_id)
            .group_by(BroadcastRecipientCount.status, BroadcastRecipientCount.reason)
        )
        for status, reason, total in counted:
            count = int(total or 0)
            if not count:
                continue
            recipients[status] = recipients.get(status, 0) + count
            if status == "skipped":
                key = reason or "other"
                skipped[key] = skipped.get(key, 0) + count
        messages: dict[str, int] = {}
        by_channel: dict[str, dict[str, int]] = {}
        deferred, until = 0, None
        lines = await self._session.execute(
            select(
                BroadcastLineCount.channel,
                BroadcastLineCount.status,
                BroadcastLineCount.next_attempt_at,
                func.sum(BroadcastLineCount.lines),
            )
            .where(BroadcastLineCount.broadcast_id == broadcast_id)
            .group_by(
                BroadcastLineCount.channel,
                BroadcastLineCount.status,
                BroadcastLineCount.next_attempt_at,
            )
        )
        for channel, status, due, total in lines:
            count = int(total or 0)
            if not count:
                continue
            messages[status] = messages.get(status, 0) + count
            of_channel = by_channel.setdefault(channel, {})
            of_channel[status] = of_channel.get(status, 0) + count
            if now is not None and status == "queued" and due is not None and due > now:
                deferred += count
                until = due if until is None else max(until, due)
        return BroadcastProgress(
            broadcast, recipients, skipped, messages, by_channel, deferred, until
        )

    async def compact_counts(self, broadcast_id: int) -> bool:
        """Replace the broadcast's count rows by one per key holding their sum (none for a sum
        of 0), in the caller's transaction; the counts read the same before and after.

        Each change adds rows (a sender's 100,000 sends add 200,000), and `progress` reads them
        all: planning, every queued batch and the clock's sweeps compact them. On PostgreSQL
        the rows summed are exactly those one DELETE … RETURNING removes, so rows concurrent
        writers add meanwhile are left for the next time, never lost or counted twice, and one
        transaction compacts a broadcast at a time: another returns False at once. SQLite has
        one writer at a time: the rows summed are those up to the highest id before."""
        if self._dialect == "postgresql":
            locked = await self._session.scalar(
                select(func.pg_try_advisory_xact_lock(COMPACT_LOCK, broadcast_id))
            )
            if not locked:
                return False
        for table, keys, number in _COUNTS:
            await self._compact(table, keys, number, broadcast_id)
        return True

    async def _compact(
        self, table: Table, keys: tuple[str, ...], number: str, broadcast_id: int
    ) -> None:
        columns = ["broadcast_id", *keys, number]
        if self._dialect == "postgresql":
            gone = (
                delete(table)
                .where(table.c.broadcast_id == broadcast_id)
                .returning(*(table.c[key] for key in keys), table.c[number])
                .cte("gone")
            )
            grouped: tuple[Any, ...] = tuple(gone.c[key] for key in keys)
            total = func.sum(gone.c[number])
            sums = select(literal(broadcast_id), *grouped, total).group_by(*grouped)
            await self._session.execute(
                insert(table).from_select(columns, sums.having(total != 0)).add_cte(gone)
            )
            return
        top = await self._session.scalar(
            select(func.max(table.c.id)).where(table.c.broadcast_id == broadcast_id)
        )
        if top is None:
            return
        taken = and_(table.c.broadcast_id == broadcast_id, table.c.id <= top)
        grouped = tuple(table.c[key] for key in keys)
        total = func.sum(table.c[number])
        sums = select(literal(broadcast_id), *grouped, total).where(taken).group_by(*grouped)
        await self._session.execute(insert(table).from_select(columns, sums.having(total != 0)))
        await self._session.execute(delete(table).where(taken))

    async def scattered_counts(self, more_than: int) -> builtins.list[int]:
        """The broadcasts with more than `more_than` count rows of either kind: those worth
        compacting (`compact_counts`), the lowest id first."""
        rows = (
            select(BroadcastRecipientCount.broadcast_id.label("broadcast_id"))
            .union_all(select(BroadcastLineCount.broadcast_id))
            .subquery()
        )
        found = await self._session.scalars(
            select(rows.c.broadcast_id)
            .group_by(rows.c.broadcast_id)
            .having(func.count() > more_than)
            .order_by(rows.c.broadcast_id)
        )
        return [int(broadcast_id) for broadcast_id in found]

    async def recipient_lines(
        self, broadcast_id: int, *, after_member_id: int = 0, limit: int = 50
    ) -> builtins.list[RecipientLine]:
        """Up to `limit` recipients of the broadcast in member order, after `after_member_id`
        (a keyset page on the unique (broadcast, member) index)."""
        rows = await self._session.execute(
            select(
                BroadcastRecipient.member_id,
                Member.name,
                BroadcastRecipient.channel,
                BroadcastRecipient.status,
                BroadcastRecipient.reason,
                Message.status,
                Message.error_code,
            )
            .join(Member, Member.id == BroadcastRecipient.member_id)
            .outerjoin(Message, Message.id == BroadcastRecipient.message_id)
            .where(
                BroadcastRecipient.broadcast_id == broadcast_id,
                BroadcastRecipient.member_id > after_member_id,
            )
            .order_by(BroadcastRecipient.member_id)
            .limit(limit)
        )
        return [
            RecipientLine(
                member_id, name, channel, cast(RecipientStatus, status), reason, delivery, error
            )
            for member_id, name, channel, status, reason, delivery, error in rows
        ]

    async def refresh_statistics(self) -> bool:
        """On PostgreSQL, ANALYZE the outbox and the recipients; elsewhere do nothing.

        A broadcast grows the queued part of `messages` by orders of magnitude within seconds,
        long before autovacuum's analyze notices. With statistics that still say "a handful
        queued", the planner picks plans for the sender's outbox query (and for queuing) that
        are quadratic in the queued rows: measured, one sender round over 97,000 fresh rows took
        19 minutes instead of a millisecond. Waits at most 2 s for the lock (an autovacuum may
        hold it); returns whether it ran."""
        if self._dialect != "postgresql":
            return False
        await self._session.execute(sql_text("SET LOCAL lock_timeout = '2s'"))
        await self._session.execute(sql_text("ANALYZE messages, broadcast_recipients"))
        return True

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name


# --- SQL ----------------------------------------------------------------------------------------


def _audience_rows(audience: Audience, dialect: str) -> Select[Any]:
    """One row per member of the audience: member_id, locale, the channel and address they
    would be reached on (their most recently active reachable address), the recipient status
    (`planned` or `skipped`) and the reason for a skip."""
    best = aliased(Address)
    reachable = (
        select(best.id)
        .where(
            best.member_id == Member.id,
            best.blocked_at.is_(None),
            best.channel.in_(PROACTIVE_CHANNELS),
            # a Telegram group chat (negative id) is not a way to reach one member
            not_(and_(best.channel == "telegram", best.value.startswith("-"))),
        )
        .order_by(best.last_inbound_at.is_(None), best.last_inbound_at.desc(), best.id.desc())
        .limit(1)
        .correlate(Member)
        .scalar_subquery()
    )
    membership = and_(Membership.member_id == Member.id, Membership.left_at.is_(None))
    if audience.group_id is not None:
        membership = and_(membership, Membership.group_id == audience.group_id)
    reason = case(
        (Member.opted_out.is_(True), OPTED_OUT),
        (Member.consent.is_not(True), NO_CONSENT),
        (Address.id.is_(None), UNREACHABLE),
        else_=None,
    )
    statement = (
        select(
            Member.id.label("member_id"),
            Member.locale.label("locale"),
            func.coalesce(Address.channel, "none").label("channel"),
            Address.channel.label("channel_or_null"),
            Address.value.label("address"),
            case((reason.is_(None), "planned"), else_="skipped").label("status"),
            reason.label("reason"),
        )
        .select_from(Member)
        .join(Membership, membership)
        .outerjoin(Address, Address.id == reachable)
    )
    if audience.language is not None:
        statement = statement.where(Member.locale == audience.language)
    for condition in audience.conditions:
        statement = statement.where(_condition(condition, dialect))
    return statement


def _compare(left: Any, op: Comparison, right: Any) -> ColumnElement[bool]:
    match op:
        case "=":
            return cast(ColumnElement[bool], left == right)
        case "!=":
            return cast(ColumnElement[bool], left != right)
        case ">":
            return cast(ColumnElement[bool], left > right)
        case ">=":
            return cast(ColumnElement[bool], left >= right)
        case "<":
            return cast(ColumnElement[bool], left < right)
        case "<=":
            return cast(ColumnElement[bool], left <= right)
    raise ValueError(f"unknown comparison {op!r}")


def _condition(condition: SegmentCondition, dialect: str) -> ColumnElement[bool]:
    if isinstance(condition, MemberCondition):
        column = Member.business_type if condition.field == "business_type" else Member.locale
        if condition.op not in ("=", "!="):
            raise ValueError(f"{condition.field} is compared with = or !=, not {condition.op}")
        compared = _compare(column, condition.op, condition.value)
        # SQL's NULL != 'food' is not true; a member with no business type is not a food one
        return or_(compared, column.is_(None)) if condition.op == "!=" else compared
    latest = aliased(Answer)
    base = (
        select()
        .where(
            latest.member_id == Member.id,
            latest.checkin_id == condition.checkin_id,
            latest.step_id == condition.step_id,
            latest.skipped.is_(False),
        )
        .order_by(latest.created_at.desc(), latest.id.desc())
        .limit(1)
        .correlate(Member)
    )
    if condition.number is not None:
        # SQLite stores exact decimals as text (see ExactDecimal): compare them as numbers
        numeric = Numeric(24, 6)
        value = base.add_columns(
            latest.value_number.cast(numeric) if dialect == "sqlite" else latest.value_number
        ).scalar_subquery()
        if dialect == "sqlite":
            return _compare(value, condition.op, literal(float(condition.number)))
        return _compare(value, condition.op, literal(condition.number, numeric))
    if condition.choice is None:  # pragma: no cover - refused by AnswerCondition itself
        return false()
    value = base.add_columns(latest.value_choice).scalar_subquery()
    return _compare(value, condition.op, condition.choice)


def _record(row: Broadcast) -> BroadcastRecord:
    return BroadcastRecord(
        id=row.id,
        created_by_id=row.created_by_id,
        group_id=row.group_id,
        language=row.language,
        segment=row.segment,
        texts=dict(row.texts),
        status=cast(BroadcastStatus, row.status),
        scheduled_at=row.scheduled_at,
        created_at=row.created_at,
        planned_at=row.planned_at,
        finished_at=row.finished_at,
    )
