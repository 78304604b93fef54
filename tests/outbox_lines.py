"""Outbound lines queued, and inbox entries counted, the way production does it.

Production queues what the bot says through `MessageRepository.log_many` (a turn's writes, a
broadcast's batch); the tests that need one line in the outbox, or the number of inbox entries
still waiting, use these rather than repository methods nothing else would call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from storage.records import MessageRecord
from storage.repositories.messages import message_values
from storage.repositories.tables import INBOX
from storage.unit_of_work import UnitOfWork
from storage.vocabulary import Channel, MessageStatus


async def log_outbound(
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
    """One line the bot says, written as a turn writes it; its record."""
    values = message_values(
        member_id, channel, address_value, "out", text, payload, status, provider_message_id, at
    )
    [message_id] = await uow.messages.log_many([values])
    return MessageRecord(id=message_id, attempts=0, **values)


async def count_pending(uow: UnitOfWork) -> int:
    """How many inbox entries are not processed yet."""
    waiting = select(func.count()).select_from(INBOX).where(INBOX.c.processed_at.is_(None))
    return int(await uow.session.scalar(waiting) or 0)
