"""The message log: every line in and out, with its delivery status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.errors import DuplicateMessage, NotFound
from storage.models import Address, Message
from storage.records import MessageRecord
from storage.repositories.mapping import message_record
from storage.vocabulary import MESSAGE_STATUS_RANK, Channel, MessageStatus

CLAIM_LOCK = 0x6D757475  # the advisory lock taken while claiming outbox rows


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
        values: dict[str, Any] = {
            "member_id": member_id,
            "channel": channel,
            "address_value": address_value,
            "direction": "in",
            "text": text,
            "payload": payload,
            "status": "received",
            "provider_message_id": provider_message_id,
            "error_code": None,
            "created_at": at,
            "updated_at": at,
        }
        if provider_message_id is None:
            return await self._insert(values)
        insert = (
            postgresql.insert
            if self._session.get_bind().dialect.name == "postgresql"
            else sqlite.insert
        )
        statement = (
            insert(Message)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
            .returning(Message.id)
        )
        new_id = (await self._session.execute(statement)).scalar_one_or_none()
        if new_id is None:
            existing = await self.by_provider_id(channel, provider_message_id)
            existing_id = existing.id if existing is not None else 0
            raise DuplicateMessage(channel, provider_message_id, existing_id)
        return message_record(Message(id=new_id, **values))

    async def log_outbound(
        self,
        *,
        member_id: int | None,
        channel: Channel,
        address_value: str,
        text: str,
        payload: Any | None,
        at: datetime,
        status: MessageStatus = "queued",
        provider_message_id: str | None = None,
    ) -> MessageRecord:
        """Log a message the bot says, normally `queued` before it is sent."""
        return await self._insert(
            {
                "member_id": member_id,
                "channel": channel,
                "address_value": address_value,
                "direction": "out",
                "text": text,
                "payload": payload,
                "status": status,
                "provider_message_id": provider_message_id,
                "error_code": None,
                "created_at": at,
                "updated_at": at,
            }
        )

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
        values: dict[str, Any] = {"status": status, "updated_at": at}
        if error_code is not None:
            values["error_code"] = error_code
        if provider_message_id is not None:
            values["provider_message_id"] = provider_message_id
        updated = await self._session.scalar(
            update(Message)
            .where(Message.id == message_id, Message.status.in_(allowed))
            .values(**values)
            .returning(Message.id)
        )
        if updated is not None:
            return True
        if await self._session.scalar(select(Message.id).where(Message.id == message_id)):
            return False
        raise NotFound(f"no message #{message_id}")

    async def by_provider_id(
        self, channel: Channel, provider_message_id: str
    ) -> MessageRecord | None:
        """The message this channel's provider knows as `provider_message_id`."""
        row = await self._session.scalar(
            select(Message).where(
                Message.channel == channel, Message.provider_message_id == provider_message_id
            )
        )
        return None if row is None else message_record(row)

    async def for_member(self, member_id: int, limit: int = 50) -> list[MessageRecord]:
        """The member's latest `limit` messages, oldest first (a conversation as it reads)."""
        latest = (
            select(Message)
            .where(Message.member_id == member_id)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(limit)
        )
        rows = list(await self._session.scalars(latest))
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
        """Lease up to `limit` queued outbound messages that are due, oldest first.

        A leased message is not handed to another sender until the lease runs out, so a sender
        that dies mid-send gives its messages back by itself. A message whose chat has an
        earlier one still waiting (leased, or due later) is not due: a chat's messages go out
        in order. `channels` limits the lease to the channels this sender can send on. On
        PostgreSQL concurrent senders skip each other's rows (FOR UPDATE SKIP LOCKED); SQLite
        serialises writers anyway.
        """
        earlier = aliased(Message)
        waiting_before = (
            select(earlier.id)
            .where(
                earlier.direction == "out",
                earlier.status == "queued",
                earlier.channel == Message.channel,
                earlier.address_value == Message.address_value,
                earlier.id < Message.id,
                or_(earlier.next_attempt_at > now, earlier.lease_until >= now),
            )
            .exists()
        )
        due = (
            select(Message.id)
            .where(
                Message.direction == "out",
                Message.status == "queued",
                or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
                or_(Message.lease_until.is_(None), Message.lease_until < now),
                ~waiting_before,
            )
            .order_by(Message.id)
            .limit(limit)
        )
        if channels is not None:
            due = due.where(Message.channel.in_(channels))
        if self._session.get_bind().dialect.name == "postgresql":
            # One claimer at a time: a concurrent sender's uncommitted lease would be invisible
            # to the per-chat order check above and let two senders send one chat's lines at
            # once. The claim is one short transaction; SQLite serialises writers anyway.
            await self._session.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
        ids = list(await self._session.scalars(due))
        if not ids:
            return []
        rows = await self._session.scalars(
            update(Message)
            .where(Message.id.in_(ids))
            .values(lease_until=now + lease)
            .returning(Message)
            .execution_options(synchronize_session=False)
        )
        return sorted((message_record(row) for row in rows), key=lambda record: record.id)

    async def mark_sent(self, message_id: int, provider_message_id: str, *, at: datetime) -> None:
        await self._session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == "queued")
            .values(
                status="sent",
                provider_message_id=provider_message_id,
                attempts=Message.attempts + 1,
                lease_until=None,
                updated_at=at,
            )
            .execution_options(synchronize_session=False)
        )

    async def mark_sent_many(self, receipts: Sequence[tuple[int, str]], *, at: datetime) -> None:
        """`mark_sent` for many messages at once, (message id, provider id) each: one statement
        executed for all of them (a driver's executemany), not one round trip each."""
        if not receipts:
            return
        statement = (
            update(Message)
            .where(Message.id == bindparam("sent_id"), Message.status == "queued")
            .values(
                status="sent",
                provider_message_id=bindparam("sent_provider_id"),
                attempts=Message.attempts + 1,
                lease_until=None,
                updated_at=at,
            )
        )
        connection = await self._session.connection()
        await connection.execute(
            statement,
            [{"sent_id": message, "sent_provider_id": provider} for message, provider in receipts],
        )

    async def retry_later(
        self, message_id: int, *, next_attempt_at: datetime, error_code: str | None, at: datetime
    ) -> int:
        """Back to the queue, due again at `next_attempt_at`; returns the attempts so far."""
        await self._session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(
                attempts=Message.attempts + 1,
                next_attempt_at=next_attempt_at,
                lease_until=None,
                error_code=error_code,
                updated_at=at,
            )
            .execution_options(synchronize_session=False)
        )
        attempts = await self._session.scalar(
            select(Message.attempts).where(Message.id == message_id)
        )
        return int(attempts or 0)

    async def fail_queued_to_blocked(self, now: datetime) -> int:
        """Queued messages to addresses that are gone fail at once, with error "blocked"."""
        blocked = (
            select(Address.id)
            .where(
                Address.channel == Message.channel,
                Address.value == Message.address_value,
                Address.blocked_at.is_not(None),
            )
            .exists()
        )
        result = await self._session.execute(
            update(Message)
            .where(Message.direction == "out", Message.status == "queued", blocked)
            .values(status="failed", error_code="blocked", lease_until=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def postpone(self, message_id: int, *, not_before: datetime, at: datetime) -> None:
        """Back to the queue without counting an attempt (it waits behind an earlier one)."""
        await self._session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == "queued")
            .values(next_attempt_at=not_before, lease_until=None, updated_at=at)
            .execution_options(synchronize_session=False)
        )

    async def mark_failed(self, message_id: int, error_code: str, *, at: datetime) -> None:
        """A permanent failure: recorded, never retried."""
        await self._session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(
                status="failed",
                error_code=error_code[:32],
                attempts=Message.attempts + 1,
                lease_until=None,
                updated_at=at,
            )
            .execution_options(synchronize_session=False)
        )

    async def count_queued(self) -> int:
        return int(
            await self._session.scalar(
                select(func.count())
                .select_from(Message)
                .where(and_(Message.direction == "out", Message.status == "queued"))
            )
            or 0
        )

    async def _insert(self, values: dict[str, Any]) -> MessageRecord:
        row = Message(**values)
        self._session.add(row)
        await self._session.flush()
        return message_record(row)
