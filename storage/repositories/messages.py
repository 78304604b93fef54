"""The message log: every line in and out, with its delivery status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, case, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import DuplicateMessage, NotFound
from storage.models import COUNTED_NUDGES
from storage.records import MessageRecord
from storage.repositories.mapping import message_record
from storage.repositories.tables import ADDRESSES, GROUPS, MEMBERS, MEMBERSHIPS, MESSAGES
from storage.vocabulary import MESSAGE_STATUS_RANK, Channel, MessageDirection, MessageStatus
from storage.weeks import local_week

CLAIM_LOCK = 0x6D757475  # the advisory lock taken while claiming outbox rows

_INSERT = insert(MESSAGES).returning(MESSAGES.c.id, MESSAGES.c.attempts)
_INSERT_IN_ORDER = insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True)
_GROUP_ZONE_THEN = (
    select(GROUPS.c.timezone)
    .join(MEMBERSHIPS, MEMBERSHIPS.c.group_id == GROUPS.c.id)
    .where(
        MEMBERSHIPS.c.member_id == MESSAGES.c.member_id,
        MEMBERSHIPS.c.joined_at <= MESSAGES.c.created_at,
        or_(MEMBERSHIPS.c.left_at.is_(None), MEMBERSHIPS.c.left_at > MESSAGES.c.created_at),
    )
    .limit(1)
    .scalar_subquery()
)
"""The time zone of the group a line's member belonged to when it was written (memberships of
a member never overlap); NULL for none, which `local_week` counts in UTC."""


def rewrite_nudge_weeks(group_id: int, timezone: str, dialect: str) -> Any:
    """The UPDATE that moves the counted nudges of a group's members, while they belonged to
    it, to the weeks of the group's new time zone (found from the members' lines, by index)."""
    belonged = (
        select(MEMBERSHIPS.c.member_id)
        .where(
            MEMBERSHIPS.c.group_id == group_id,
            MEMBERSHIPS.c.member_id == MESSAGES.c.member_id,
            MEMBERSHIPS.c.joined_at <= MESSAGES.c.created_at,
            or_(MEMBERSHIPS.c.left_at.is_(None), MEMBERSHIPS.c.left_at > MESSAGES.c.created_at),
        )
        .exists()
    )
    members = select(MEMBERSHIPS.c.member_id).where(MEMBERSHIPS.c.group_id == group_id)
    return (
        update(MESSAGES)
        .where(MESSAGES.c.member_id.in_(members), MESSAGES.c.week.is_not(None), belonged)
        .values(week=local_week(MESSAGES.c.created_at, literal(timezone), dialect))
    )


def _counted(values: dict[str, Any]) -> bool:
    """Whether a new line is one of the nudges the evidence report counts per week."""
    payload = values.get("payload")
    return (
        values.get("direction") == "out"
        and values.get("member_id") is not None
        and isinstance(payload, dict)
        and payload.get("nudge") in COUNTED_NUDGES
    )


_LOG_INBOUND = {
    "postgresql": postgresql.insert(MESSAGES)
    .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
    .returning(MESSAGES.c.id, MESSAGES.c.attempts),
    "sqlite": sqlite.insert(MESSAGES)
    .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
    .returning(MESSAGES.c.id, MESSAGES.c.attempts),
}
"""Per dialect: `_INSERT`, writing nothing (and returning no row) for a provider message id
the channel logged before."""

_SET_STATUS = (
    update(MESSAGES)
    .where(
        MESSAGES.c.id == bindparam("message_id"),
        MESSAGES.c.status.in_(bindparam("allowed_statuses", expanding=True)),
    )
    .returning(MESSAGES.c.id)
)
"""Sets the columns named in the parameters (besides `message_id` and `allowed_statuses`);
SQLAlchemy compiles it once per set of names."""
_EXISTS = select(MESSAGES.c.id).where(MESSAGES.c.id == bindparam("message_id"))
_BY_PROVIDER_ID = select(MESSAGES).where(
    MESSAGES.c.channel == bindparam("channel"),
    MESSAGES.c.provider_message_id == bindparam("provider_message_id"),
)
_LATEST_FOR_MEMBER = (
    select(MESSAGES)
    .where(MESSAGES.c.member_id == bindparam("member_id"))
    .order_by(MESSAGES.c.created_at.desc(), MESSAGES.c.id.desc())
    .limit(bindparam("limit"))
)

_OUTBOX = (MESSAGES.c.direction == "out", MESSAGES.c.status == "queued")
"""Outbound messages in status `queued`."""

_TAKE_CLAIM_LOCK = select(func.pg_advisory_xact_lock(CLAIM_LOCK))
_HELD_UP = case(
    (
        or_(
            MESSAGES.c.next_attempt_at > bindparam("now"),
            MESSAGES.c.lease_until >= bindparam("now"),
        ),
        1,
    ),
    else_=0,
)
"""1 for a queued message that is waiting: leased, or due later than `now`."""
_PROACTIVE = case((MESSAGES.c.payload["nudge"].as_string().is_(None), 0), else_=1)
"""0 for a reply to a member, 1 for a line the bot sends of itself (its payload names the
nudge: a reminder, an invitation, a highlight, a broadcast)."""
_CHAT = (MESSAGES.c.channel, MESSAGES.c.address_value)
_QUEUED = (
    select(
        MESSAGES.c.id,
        MESSAGES.c.channel,
        MESSAGES.c.next_attempt_at,
        MESSAGES.c.lease_until,
        func.max(_HELD_UP)
        .over(partition_by=_CHAT, order_by=MESSAGES.c.id, rows=(None, -1))
        .label("behind_waiting"),
        func.min(_PROACTIVE).over(partition_by=_CHAT).label("proactive_only"),
    )
    .where(*_OUTBOX)
    .subquery()
)
"""Every queued message, with 1 in `behind_waiting` when an earlier one of its chat waits, and
1 in `proactive_only` when every queued line of its chat is proactive.

One pass over the outbox in the order of the (channel, chat, id) index. A correlated NOT
EXISTS said the same, but its plan depends on the planner's estimates: with thousands of
queued rows it was seen scanning the whole outbox for each row (4.7 s for a claim)."""
_DUE = (
    select(_QUEUED.c.id)
    .where(
        func.coalesce(_QUEUED.c.behind_waiting, 0) == 0,
        or_(_QUEUED.c.next_attempt_at.is_(None), _QUEUED.c.next_attempt_at <= bindparam("now")),
        or_(_QUEUED.c.lease_until.is_(None), _QUEUED.c.lease_until < bindparam("now")),
    )
    .order_by(_QUEUED.c.proactive_only, _QUEUED.c.id)
    .limit(bindparam("limit"))
)
"""The due messages to lease: replies first, so a member in a conversation is not kept waiting
behind a broadcast or the week's invitations. A chat with a reply queued counts as a reply
with all its lines (a broadcast line ahead of the reply has to go first), so a chat's lines
still go in order. A whole-chat window, not "this line and the later ones": PostgreSQL would
aggregate such a frame again for every line (min has no inverse), quadratic in a long chat."""
_DUE_ON_CHANNELS = _DUE.where(_QUEUED.c.channel.in_(bindparam("channels", expanding=True)))
_LEASE = (
    update(MESSAGES)
    .where(MESSAGES.c.id.in_(bindparam("leased_ids", expanding=True)))
    .values(lease_until=bindparam("lease_ends"))
    .returning(*MESSAGES.c)
)

_MARK_SENT = (
    update(MESSAGES)
    .where(MESSAGES.c.id == bindparam("sent_id"), MESSAGES.c.status == "queued")
    .values(
        status="sent",
        provider_message_id=bindparam("sent_provider_id"),
        attempts=MESSAGES.c.attempts + 1,
        lease_until=None,
        updated_at=bindparam("sent_at"),
    )
)
_RETRY_LATER = (
    update(MESSAGES)
    .where(MESSAGES.c.id == bindparam("message_id"))
    .values(
        attempts=MESSAGES.c.attempts + 1,
        next_attempt_at=bindparam("retry_at"),
        lease_until=None,
        error_code=bindparam("retry_error_code"),
        updated_at=bindparam("at"),
    )
    .returning(MESSAGES.c.attempts)
)
_TO_BLOCKED_ADDRESS = (
    select(ADDRESSES.c.id)
    .where(
        ADDRESSES.c.channel == MESSAGES.c.channel,
        ADDRESSES.c.value == MESSAGES.c.address_value,
        ADDRESSES.c.blocked_at.is_not(None),
    )
    .exists()
)
_FAIL_QUEUED_TO_BLOCKED = (
    update(MESSAGES)
    .where(*_OUTBOX, _TO_BLOCKED_ADDRESS)
    .values(status="failed", error_code="blocked", lease_until=None, updated_at=bindparam("now"))
)
_IS_PROACTIVE = MESSAGES.c.payload["nudge"].as_string().is_not(None)
_TO_OPTED_OUT_MEMBER = (
    select(MEMBERS.c.id)
    .where(MEMBERS.c.id == MESSAGES.c.member_id, MEMBERS.c.opted_out.is_(True))
    .exists()
)
OPTED_OUT = "opted_out"
"""The error code of a proactive line cancelled because its member opted out."""
_CANCEL_CLAIMED_TO_OPTED_OUT = (
    update(MESSAGES)
    .where(
        MESSAGES.c.id.in_(bindparam("claimed_ids", expanding=True)),
        *_OUTBOX,
        _IS_PROACTIVE,
        _TO_OPTED_OUT_MEMBER,
    )
    .values(status="failed", error_code=OPTED_OUT, lease_until=None, updated_at=bindparam("now"))
    .returning(MESSAGES.c.id)
)
_CANCEL_PROACTIVE_FOR_MEMBER = (
    update(MESSAGES)
    .where(*_OUTBOX, _IS_PROACTIVE, MESSAGES.c.member_id == bindparam("opted_out_member"))
    .values(status="failed", error_code=OPTED_OUT, lease_until=None, updated_at=bindparam("now"))
)
_POSTPONE = (
    update(MESSAGES)
    .where(MESSAGES.c.id == bindparam("message_id"), MESSAGES.c.status == "queued")
    .values(next_attempt_at=bindparam("not_before"), lease_until=None, updated_at=bindparam("at"))
)
_MARK_FAILED = (
    update(MESSAGES)
    .where(MESSAGES.c.id == bindparam("message_id"))
    .values(
        status="failed",
        error_code=bindparam("failure_code"),
        attempts=MESSAGES.c.attempts + 1,
        lease_until=None,
        updated_at=bindparam("at"),
    )
)
_STILL_QUEUED = select(MESSAGES.c.id).where(
    MESSAGES.c.id.in_(bindparam("queued_ids", expanding=True)), *_OUTBOX
)


async def cancel_proactive(session: AsyncSession, member_id: int, at: datetime) -> int:
    """Fail the member's queued proactive lines (reminders, invitations, highlights,
    broadcasts) with error "opted_out"; how many. What opting out does at once, in the
    opt-out's own transaction: a line leased already and on its way cannot be called back,
    but nothing still queued goes. Replies (the answer to the STOP itself) stay queued."""
    result = await session.execute(
        _CANCEL_PROACTIVE_FOR_MEMBER, {"opted_out_member": member_id, "now": at}
    )
    return int(getattr(result, "rowcount", 0) or 0)


class MessageRepository:
    """Inbound and outbound messages. A provider's message id is stored once per channel."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def log_inbound(
        self,
        *,
        member_id: int | None,
        channel: Channel,
        address_value: str,
        text: str,
        payload: Any | None,
        provider_message_id: str | None,
        at: datetime,
    ) -> MessageRecord:
        """Log a message a member sent, in status `received`.

        When this channel already logged `provider_message_id` (a provider delivering the same
        webhook twice), nothing is written and `DuplicateMessage` is raised; the transaction
        stays usable, so the caller can acknowledge the duplicate and stop there.
        """
        values = message_values(
            member_id,
            channel,
            address_value,
            "in",
            text,
            payload,
            "received",
            provider_message_id,
            at,
        )
        if provider_message_id is None:
            return await self._insert(values)
        statement = _LOG_INBOUND[self._session.get_bind().dialect.name]
        inserted = (await self._session.execute(statement, values)).one_or_none()
        if inserted is None:
            existing = await self.by_provider_id(channel, provider_message_id)
            existing_id = existing.id if existing is not None else 0
            raise DuplicateMessage(channel, provider_message_id, existing_id)
        return _logged(inserted, values)

    async def log_many(self, messages: list[dict[str, Any]]) -> list[int]:
        """Log several new messages (each the columns `message_values` gives); their ids, in
        the order given. One statement on PostgreSQL; on SQLite one INSERT per row (SQLAlchemy
        cannot match a multi-row INSERT's ids to its rows there). A provider message id the
        channel logged before raises IntegrityError: on SQLite the rows before it are written,
        so the caller rolls the transaction back (the unit of work does when it propagates)."""
        if not messages:
            return []
        rows = await self._session.execute(_INSERT_IN_ORDER, messages)
        ids = [int(message_id) for (message_id,) in rows]
        nudges = [
            message_id for message_id, values in zip(ids, messages, strict=True) if _counted(values)
        ]
        if nudges:
            dialect = self._session.get_bind().dialect.name
            await self._session.execute(
                update(MESSAGES)
                .where(MESSAGES.c.id.in_(nudges))
                .values(week=local_week(MESSAGES.c.created_at, _GROUP_ZONE_THEN, dialect))
            )
        return ids

    async def set_status(
        self,
        message_id: int,
        status: MessageStatus,
        *,
        at: datetime,
        error_code: str | None = None,
        provider_message_id: str | None = None,
    ) -> bool:
        """Move a message to `status` at `at`, with the provider's error code if any, and the
        provider's message id when the send receipt brings it.

        Status callbacks arrive out of order, so a message never moves back along
        queued → sent → delivered/failed/undelivered → read: such an update is ignored and
        False returned. Raises `NotFound` for an unknown message.
        """
        rank = MESSAGE_STATUS_RANK[status]
        allowed = [name for name, other in MESSAGE_STATUS_RANK.items() if other <= rank]
        parameters: dict[str, Any] = {
            "message_id": message_id,
            "allowed_statuses": allowed,
            "status": status,
            "updated_at": at,
        }
        if error_code is not None:
            parameters["error_code"] = error_code
        if provider_message_id is not None:
            parameters["provider_message_id"] = provider_message_id
        if await self._session.scalar(_SET_STATUS, parameters) is not None:
            return True
        if await self._session.scalar(_EXISTS, {"message_id": message_id}):
            return False
        raise NotFound(f"no message #{message_id}")

    async def by_provider_id(
        self, channel: Channel, provider_message_id: str
    ) -> MessageRecord | None:
        """The message this channel's provider knows as `provider_message_id`."""
        result = await self._session.execute(
            _BY_PROVIDER_ID, {"channel": channel, "provider_message_id": provider_message_id}
        )
        row = result.first()
        return None if row is None else message_record(row)

    async def for_member(self, member_id: int, limit: int = 50) -> list[MessageRecord]:
        """The member's latest `limit` messages, oldest first (a conversation as it reads)."""
        rows = list(
            await self._session.execute(
                _LATEST_FOR_MEMBER, {"member_id": member_id, "limit": limit}
            )
        )
        rows.reverse()
        return [message_record(row) for row in rows]

    # --- the outbox: outbound messages in status `queued` ------------------------------------

    async def claim_due(
        self,
        now: datetime,
        lease: timedelta,
        limit: int = 100,
        channels: tuple[str, ...] | None = None,
    ) -> list[MessageRecord]:
        """Lease up to `limit` queued outbound messages that are due: replies to members
        first, then the lines the bot sends of itself (reminders, invitations, highlights,
        broadcasts), each oldest first; returned in that order.

        A leased message is not handed to another sender until the lease runs out, so a sender
        that dies mid-send gives its messages back by itself. A message whose chat has an
        earlier one still waiting (leased, or due later) is not due: a chat's messages go out
        in order. `channels` limits the lease to the channels this sender can send on. On
        PostgreSQL one sender claims at a time (an advisory lock held to the end of the
        transaction); SQLite serialises writers anyway.
        """
        if self._session.get_bind().dialect.name == "postgresql":
            # One claimer at a time: a concurrent sender's uncommitted lease would be invisible
            # to the per-chat order check and let two senders send one chat's lines at once.
            await self._session.execute(_TAKE_CLAIM_LOCK)
        if channels is None:
            due = await self._session.scalars(_DUE, {"now": now, "limit": limit})
        else:
            due = await self._session.scalars(
                _DUE_ON_CHANNELS, {"now": now, "limit": limit, "channels": channels}
            )
        ids = list(due)
        if not ids:
            return []
        rows = await self._session.execute(_LEASE, {"leased_ids": ids, "lease_ends": now + lease})
        position = {message_id: index for index, message_id in enumerate(ids)}
        return sorted((message_record(row) for row in rows), key=lambda row: position[row.id])

    async def mark_sent(self, message_id: int, provider_message_id: str, *, at: datetime) -> None:
        await self.mark_sent_many([(message_id, provider_message_id)], at=at)

    async def mark_sent_many(self, receipts: Sequence[tuple[int, str]], *, at: datetime) -> None:
        """`mark_sent` for many messages at once, (message id, provider id) each: one statement
        executed for all of them (a driver's executemany), not one round trip each."""
        if not receipts:
            return
        await self._session.execute(
            _MARK_SENT,
            [
                {"sent_id": message, "sent_provider_id": provider, "sent_at": at}
                for message, provider in receipts
            ],
        )

    async def retry_later(
        self, message_id: int, *, next_attempt_at: datetime, error_code: str | None, at: datetime
    ) -> int:
        """Back to the queue, due again at `next_attempt_at`; returns the attempts so far."""
        attempts = await self._session.scalar(
            _RETRY_LATER,
            {
                "message_id": message_id,
                "retry_at": next_attempt_at,
                "retry_error_code": error_code,
                "at": at,
            },
        )
        return int(attempts or 0)

    async def fail_queued_to_blocked(self, now: datetime) -> int:
        """Queued messages to addresses that are gone fail at once, with error "blocked"."""
        result = await self._session.execute(_FAIL_QUEUED_TO_BLOCKED, {"now": now})
        return int(getattr(result, "rowcount", 0) or 0)

    async def cancel_claimed_to_opted_out(self, claimed: Sequence[int], now: datetime) -> set[int]:
        """Of the messages just claimed, fail the proactive lines of members who opted out
        (error "opted_out"); their ids. Opting out cancels what is queued at that moment
        (`cancel_proactive`); this catches a line queued after it by a writer that read the
        member before the opt-out (a broadcast planned a moment before the STOP). Run in the
        claim's transaction, over the claimed rows only, not the whole outbox."""
        if not claimed:
            return set()
        rows = await self._session.scalars(
            _CANCEL_CLAIMED_TO_OPTED_OUT, {"claimed_ids": list(claimed), "now": now}
        )
        return set(rows)

    async def postpone(self, message_id: int, *, not_before: datetime, at: datetime) -> None:
        """Back to the queue without counting an attempt (it waits behind an earlier one)."""
        await self._session.execute(
            _POSTPONE, {"message_id": message_id, "not_before": not_before, "at": at}
        )

    async def mark_failed(self, message_id: int, error_code: str, *, at: datetime) -> None:
        """A permanent failure: recorded, never retried."""
        await self._session.execute(
            _MARK_FAILED, {"message_id": message_id, "failure_code": error_code[:32], "at": at}
        )

    async def still_queued(self, message_ids: Sequence[int]) -> set[int]:
        """Which of these outbound messages are still queued (not cancelled meanwhile)."""
        if not message_ids:
            return set()
        rows = await self._session.scalars(_STILL_QUEUED, {"queued_ids": list(message_ids)})
        return set(rows)

    async def _insert(self, values: dict[str, Any]) -> MessageRecord:
        inserted = (await self._session.execute(_INSERT, values)).one()
        return _logged(inserted, values)


def message_values(
    member_id: int | None,
    channel: Channel,
    address_value: str,
    direction: MessageDirection,
    text: str,
    payload: Any | None,
    status: MessageStatus,
    provider_message_id: str | None,
    at: datetime,
) -> dict[str, Any]:
    """The columns of a new message (every field of its record but those the database
    fills in), as `log_many` takes them."""
    return {
        "member_id": member_id,
        "channel": channel,
        "address_value": address_value,
        "direction": direction,
        "text": text,
        "payload": payload,
        "status": status,
        "provider_message_id": provider_message_id,
        "error_code": None,
        "created_at": at,
        "updated_at": at,
    }


def _logged(inserted: Row[Any], values: dict[str, Any]) -> MessageRecord:
    """The record of a message just inserted with `values`; `inserted` has the columns the
    database filled in (its id, and `attempts`)."""
    return MessageRecord(id=inserted.id, attempts=inserted.attempts, **values)
