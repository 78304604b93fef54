"""The inbox: provider events stored before they are acknowledged, processed exactly once.

A webhook adds its event here and only then answers 2xx. The (channel, provider id) pair is
unique, so a provider redelivering the same update adds nothing. A worker marks an entry
processed in the same transaction as everything the event caused, so a crash before the commit
leaves it pending (and it is processed again), and after the commit it is never processed twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.records import InboxRecord
from storage.repositories.mapping import inbox_record
from storage.repositories.tables import INBOX
from storage.vocabulary import Channel

_ADD = {
    "postgresql": postgresql.insert(INBOX)
    .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
    .returning(INBOX.c.id),
    "sqlite": sqlite.insert(INBOX)
    .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
    .returning(INBOX.c.id),
}
"""Per dialect: store events, skipping those stored before; the new ids."""
_ADD_KEYED = {
    dialect: statement.returning(INBOX.c.channel, INBOX.c.provider_id)
    for dialect, statement in _ADD.items()
}
"""`_ADD`, returning each new row's key with its id."""

_GET = select(INBOX).where(INBOX.c.id == bindparam("entry_id"))
_PENDING_FOR = (
    select(INBOX)
    .where(
        INBOX.c.channel == bindparam("channel"),
        INBOX.c.address == bindparam("address"),
        INBOX.c.processed_at.is_(None),
    )
    .order_by(INBOX.c.id)
    .limit(bindparam("limit"))
)

_ENTRY = INBOX.alias("entry")
_PENDING = INBOX.alias("pending")
_PENDING_FROM = (
    select(_PENDING)
    .join_from(
        _ENTRY,
        _PENDING,
        and_(_PENDING.c.channel == _ENTRY.c.channel, _PENDING.c.address == _ENTRY.c.address),
    )
    .where(
        _ENTRY.c.id == bindparam("entry_id"),
        _ENTRY.c.processed_at.is_(None),
        _PENDING.c.processed_at.is_(None),
    )
    .order_by(_PENDING.c.id)
    .limit(bindparam("limit"))
)

_WOKEN = INBOX.alias("woken")
_RANKED_PENDING = (
    select(
        INBOX,
        func.row_number()
        .over(partition_by=(INBOX.c.channel, INBOX.c.address), order_by=INBOX.c.id)
        .label("rank"),
    )
    .where(
        INBOX.c.processed_at.is_(None),
        exists().where(
            _WOKEN.c.id.in_(bindparam("entry_ids", expanding=True)),
            _WOKEN.c.processed_at.is_(None),
            _WOKEN.c.channel == INBOX.c.channel,
            _WOKEN.c.address == INBOX.c.address,
        ),
    )
    .subquery()
)
_PENDING_FROM_MANY = (
    select(_RANKED_PENDING)
    .where(_RANKED_PENDING.c.rank <= bindparam("limit"))
    .order_by(_RANKED_PENDING.c.id)
)

_PENDING_ADDRESSES = (
    select(func.min(INBOX.c.id))
    .where(INBOX.c.processed_at.is_(None), INBOX.c.received_at < bindparam("received_before"))
    .group_by(INBOX.c.channel, INBOX.c.address)
    .order_by(func.min(INBOX.c.id))
    .limit(bindparam("limit"))
)
_MARK_PROCESSED = (
    update(INBOX)
    .where(INBOX.c.id == bindparam("entry_id"), INBOX.c.processed_at.is_(None))
    .values(processed_at=bindparam("at"))
)
_MARK_MANY_PROCESSED = (
    update(INBOX)
    .where(INBOX.c.id.in_(bindparam("entry_ids", expanding=True)), INBOX.c.processed_at.is_(None))
    .values(processed_at=bindparam("at"))
    .returning(INBOX.c.id)
)
_RECORD_FAILURE = (
    update(INBOX)
    .where(INBOX.c.id == bindparam("entry_id"))
    .values(attempts=INBOX.c.attempts + 1, last_error=bindparam("error"))
    .returning(INBOX.c.attempts)
)


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
        result = await self._session.execute(
            _ADD[self._dialect()],
            {
                "channel": channel,
                "provider_id": provider_id,
                "address": address,
                "event": event,
                "received_at": at,
                "attempts": 0,
            },
        )
        entry_id: int | None = result.scalar_one_or_none()
        return entry_id

    async def add_many(self, entries: list[dict[str, Any]], at: datetime) -> list[int]:
        """Store many events in one statement (each a dict of channel, provider_id, address,
        event); those stored before are skipped. Returns the new ids in the entries' order,
        which is the ids' own: rows are numbered as they are inserted."""
        if not entries:
            return []
        # one compiled statement, sent in batches ("insertmanyvalues"), not one per row
        rows = [{**entry, "received_at": at, "attempts": 0} for entry in entries]
        result = await self._session.execute(_ADD[self._dialect()], rows)
        return sorted(int(entry_id) for entry_id in result.scalars())

    async def add_keyed(self, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
        """Store events given as whole rows (channel, provider_id, address, event, received_at)
        in one statement, skipping those stored before; the new ids by (channel, provider id).
        """
        if not rows:
            return {}
        entries = [{**row, "attempts": 0} for row in rows]
        result = await self._session.execute(_ADD_KEYED[self._dialect()], entries)
        return {(channel, provider_id): int(entry_id) for entry_id, channel, provider_id in result}

    async def get(self, entry_id: int) -> InboxRecord | None:
        row = (await self._session.execute(_GET, {"entry_id": entry_id})).one_or_none()
        return None if row is None else inbox_record(row)

    async def pending_for(
        self, channel: Channel, address: str, limit: int = 50
    ) -> list[InboxRecord]:
        """One address's unprocessed events, oldest first: the order they must be handled in."""
        rows = await self._session.execute(
            _PENDING_FOR, {"channel": channel, "address": address, "limit": limit}
        )
        return [inbox_record(row) for row in rows]

    async def pending_from(self, entry_id: int, limit: int = 50) -> list[InboxRecord]:
        """The unprocessed events of entry `entry_id`'s channel and address, oldest first (as
        `pending_for`), in one query; none when that entry is unknown or processed already."""
        rows = await self._session.execute(_PENDING_FROM, {"entry_id": entry_id, "limit": limit})
        return [inbox_record(row) for row in rows]

    async def pending_from_many(
        self, entry_ids: list[int], limit: int = 50
    ) -> dict[tuple[Channel, str], list[InboxRecord]]:
        """`pending_from` for several entries in one query: each address with an unprocessed
        entry among `entry_ids`, with its first `limit` unprocessed events, oldest first.
        Addresses are in the order of their oldest pending event."""
        if not entry_ids:
            return {}
        rows = await self._session.execute(
            _PENDING_FROM_MANY, {"entry_ids": entry_ids, "limit": limit}
        )
        pending: dict[tuple[Channel, str], list[InboxRecord]] = {}
        for row in rows:
            record = inbox_record(row)
            pending.setdefault((record.channel, record.address), []).append(record)
        return pending

    async def pending_addresses(self, received_before: datetime, limit: int = 500) -> list[int]:
        """The oldest pending entry id of each address with events received before the given
        time: what a sweep hands back to the workers after a crash or a lost wake-up."""
        rows = await self._session.execute(
            _PENDING_ADDRESSES, {"received_before": received_before, "limit": limit}
        )
        return [int(entry_id) for (entry_id,) in rows]

    async def mark_processed(self, entry_id: int, at: datetime) -> bool:
        """Mark processed; False when it already was (another worker got there first)."""
        result = await self._session.execute(_MARK_PROCESSED, {"entry_id": entry_id, "at": at})
        return bool(getattr(result, "rowcount", 0))

    async def mark_many_processed(self, entry_ids: list[int], at: datetime) -> set[int]:
        """`mark_processed` for several entries in one statement; the ids it marked (an entry
        missing from them was processed already)."""
        if not entry_ids:
            return set()
        rows = await self._session.execute(_MARK_MANY_PROCESSED, {"entry_ids": entry_ids, "at": at})
        return {int(entry_id) for (entry_id,) in rows}

    async def record_failure(self, entry_id: int, error: str) -> int:
        """Count a failed attempt at processing; returns the number of attempts so far."""
        attempts = await self._session.scalar(
            _RECORD_FAILURE, {"entry_id": entry_id, "error": error[:2000]}
        )
        return int(attempts or 0)

    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name
