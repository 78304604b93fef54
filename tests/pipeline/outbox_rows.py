"""Rows the pipeline tests put in the outbox and count in the inbox directly, the way the
production code writes them (`message_values` and `log_many`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from storage.models import InboxEntry, Message
from storage.records import MessageRecord
from storage.repositories.mapping import message_record
from storage.repositories.messages import message_values
from storage.unit_of_work import UnitOfWork
from storage.vocabulary import Channel, MessageStatus


async def queued_line(
    uow: UnitOfWork,
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
    """An outbound line logged as the bot logs what it says (queued unless told otherwise)."""
    values = message_values(
        member_id, channel, address_value, "out", text, payload, status, provider_message_id, at
    )
    [message_id] = await uow.messages.log_many([values])
    row = await uow.session.get(Message, message_id)
    assert row is not None
    return message_record(row)


async def pending_inbox(uow: UnitOfWork) -> int:
    """Inbox entries not handled yet."""
    query = select(func.count()).select_from(InboxEntry).where(InboxEntry.processed_at.is_(None))
    return int(await uow.session.scalar(query) or 0)
