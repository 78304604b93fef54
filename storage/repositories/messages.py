"""The message log: every line in and out, with its delivery status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import DuplicateMessage, NotFound
from storage.models import Message
from storage.records import MessageRecord
from storage.repositories.mapping import message_record
from storage.vocabulary import MESSAGE_STATUS_RANK, Channel, MessageStatus


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

    async def _insert(self, values: dict[str, Any]) -> MessageRecord:
        row = Message(**values)
        self._session.add(row)
        await self._session.flush()
        return message_record(row)
