"""Status callbacks kept until their message's send receipt is recorded (see `EarlyStatus`).

A provider reports on a message by its own id; a report can arrive in the moment between the
send and the receipt being written, when no message has that id yet. Dropping it would leave
the message at "sent" for good and, for Twilio's 21610, lose an opt-out. Kept here, it is
taken (deleted and returned, so it is applied once) by whoever records the receipt.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Result, Row, and_, bindparam, delete, exists, insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.records import EarlyStatusRecord
from storage.repositories.tables import EARLY_STATUSES, MESSAGES
from storage.vocabulary import Channel, MessageStatus

_KEEP = insert(EARLY_STATUSES)
_COLUMNS = (
    EARLY_STATUSES.c.channel,
    EARLY_STATUSES.c.provider_message_id,
    EARLY_STATUSES.c.status,
    EARLY_STATUSES.c.error_code,
    EARLY_STATUSES.c.opted_out,
    EARLY_STATUSES.c.received_at,
)
_TAKE_FOR = (
    delete(EARLY_STATUSES)
    .where(
        EARLY_STATUSES.c.channel == bindparam("status_channel"),
        EARLY_STATUSES.c.provider_message_id.in_(bindparam("provider_ids", expanding=True)),
    )
    .returning(*_COLUMNS)
)
_TAKE_MATCHED = (
    delete(EARLY_STATUSES)
    .where(
        exists().where(
            and_(
                MESSAGES.c.channel == EARLY_STATUSES.c.channel,
                MESSAGES.c.provider_message_id == EARLY_STATUSES.c.provider_message_id,
            )
        )
    )
    .returning(*_COLUMNS)
)
_FORGET_BEFORE = delete(EARLY_STATUSES).where(EARLY_STATUSES.c.received_at < bindparam("before"))


class EarlyStatusRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def keep(
        self,
        *,
        channel: Channel,
        provider_message_id: str,
        status: MessageStatus,
        error_code: str | None,
        opted_out: bool,
        at: datetime,
    ) -> None:
        """Keep a callback for a message no row knows by this provider id yet."""
        await self._session.execute(
            _KEEP,
            {
                "channel": channel,
                "provider_message_id": provider_message_id,
                "status": status,
                "error_code": error_code,
                "opted_out": opted_out,
                "received_at": at,
            },
        )

    async def take_for(
        self, channel: Channel, provider_message_ids: list[str]
    ) -> list[EarlyStatusRecord]:
        """Delete and return the callbacks kept for these provider ids, oldest first."""
        if not provider_message_ids:
            return []
        rows = await self._session.execute(
            _TAKE_FOR, {"status_channel": channel, "provider_ids": provider_message_ids}
        )
        return _records(rows)

    async def take_matched(self) -> list[EarlyStatusRecord]:
        """Delete and return every kept callback whose message now has its provider id: those
        a receipt recorded at the same moment as the callback was kept did not take."""
        return _records(await self._session.execute(_TAKE_MATCHED))

    async def forget_before(self, before: datetime) -> int:
        """Drop callbacks kept since before `before` (no receipt ever matched them: a message
        sent by another system on the same account); how many."""
        result = await self._session.execute(_FORGET_BEFORE, {"before": before})
        return int(getattr(result, "rowcount", 0) or 0)


def _records(rows: Result[Any] | Iterable[Row[Any]]) -> list[EarlyStatusRecord]:
    records = [
        EarlyStatusRecord(
            channel=row.channel,
            provider_message_id=row.provider_message_id,
            status=row.status,
            error_code=row.error_code,
            opted_out=bool(row.opted_out),
            received_at=row.received_at,
        )
        for row in rows
    ]
    return sorted(records, key=lambda record: record.received_at)
