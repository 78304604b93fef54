"""The inbox: provider events stored before they are acknowledged, processed exactly once.

A webhook adds its event here and only then answers 2xx. The (channel, provider id) pair is
unique, so a provider redelivering the same update adds nothing. A worker marks an entry
processed in the same transaction as everything the event caused, so a crash before the commit
leaves it pending (and it is processed again), and after the commit it is never processed twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboxEntry
from storage.records import InboxRecord
from storage.repositories.mapping import inbox_record
from storage.vocabulary import Channel


class InboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        *,
        channel: Channel,
        provider_id: str,
        address: str,
        event: dict[str, Any],
        at: datetime,
    ) -> int | None:
        """Store an event; its id, or None when this provider id was stored before."""
        insert = (
            postgresql.insert
            if self._session.get_bind().dialect.name == "postgresql"
            else sqlite.insert
        )
        statement = (
            insert(InboxEntry)
            .values(
                channel=channel,
                provider_id=provider_id,
                address=address,
                event=event,
                received_at=at,
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
            .returning(InboxEntry.id)
        )
        result: int | None = (await self._session.execute(statement)).scalar_one_or_none()
        return result

    async def add_many(self, entries: list[dict[str, Any]], at: datetime) -> list[int]:
        """Store many events in one statement (each a dict of channel, provider_id, address,
        event); those stored before are skipped. Returns the new ids."""
        if not entries:
            return []
        insert = (
            postgresql.insert
            if self._session.get_bind().dialect.name == "postgresql"
            else sqlite.insert
        )
        statement = (
            insert(InboxEntry)
            .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
            .returning(InboxEntry.id)
        )
        # one compiled statement, sent in batches ("insertmanyvalues"), not one per row
        rows = [{**entry, "received_at": at, "attempts": 0} for entry in entries]
        result = await self._session.execute(statement, rows)
        return [int(entry_id) for entry_id in result.scalars()]

    async def get(self, entry_id: int) -> InboxRecord | None:
        row = await self._session.get(InboxEntry, entry_id)
        return None if row is None else inbox_record(row)

    async def pending_for(
        self, channel: Channel, address: str, limit: int = 50
    ) -> list[InboxRecord]:
        """One address's unprocessed events, oldest first: the order they must be handled in."""
        rows = await self._session.scalars(
            select(InboxEntry)
            .where(
                InboxEntry.channel == channel,
                InboxEntry.address == address,
                InboxEntry.processed_at.is_(None),
            )
            .order_by(InboxEntry.id)
            .limit(limit)
        )
        return [inbox_record(row) for row in rows]

    async def pending_addresses(self, received_before: datetime, limit: int = 500) -> list[int]:
        """The oldest pending entry id of each address with events received before the given
        time: what a sweep hands back to the workers after a crash or a lost wake-up."""
        rows = await self._session.execute(
            select(func.min(InboxEntry.id))
            .where(InboxEntry.processed_at.is_(None), InboxEntry.received_at < received_before)
            .group_by(InboxEntry.channel, InboxEntry.address)
            .order_by(func.min(InboxEntry.id))
            .limit(limit)
        )
        return [int(entry_id) for (entry_id,) in rows]

    async def mark_processed(self, entry_id: int, at: datetime) -> bool:
        """Mark processed; False when it already was (another worker got there first)."""
        result = await self._session.execute(
            update(InboxEntry)
            .where(InboxEntry.id == entry_id, InboxEntry.processed_at.is_(None))
            .values(processed_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def record_failure(self, entry_id: int, error: str) -> int:
        """Count a failed attempt at processing; returns the number of attempts so far."""
        await self._session.execute(
            update(InboxEntry)
            .where(InboxEntry.id == entry_id)
            .values(attempts=InboxEntry.attempts + 1, last_error=error[:2000])
            .execution_options(synchronize_session=False)
        )
        attempts = await self._session.scalar(
            select(InboxEntry.attempts).where(InboxEntry.id == entry_id)
        )
        return int(attempts or 0)

    async def count_pending(self) -> int:
        return int(
            await self._session.scalar(
                select(func.count())
                .select_from(InboxEntry)
                .where(InboxEntry.processed_at.is_(None))
            )
            or 0
        )
