"""Help records: the mutuality ledger of who helped whom, how and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.repositories.tables import HELP_RECORDS

_INSERT = insert(HELP_RECORDS).returning(HELP_RECORDS.c.id)


class HelpRepository:
    """Help records, written as members report them; `group_id` is the group at the time."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        *,
        giver_id: int,
        receiver_id: int,
        group_id: int | None,
        kind: str,
        session_id: int | None,
        reported_by_id: int,
        at: datetime,
    ) -> int:
        """Record that `giver_id` helped `receiver_id` in the way `kind` names ("advice",
        "lent_money", …), as `reported_by_id` told it; returns the record's id."""
        columns = {
            "giver_id": giver_id,
            "receiver_id": receiver_id,
            "group_id": group_id,
            "kind": kind,
            "session_id": session_id,
            "reported_by_id": reported_by_id,
            "created_at": at,
        }
        record_id: int = (await self._session.execute(_INSERT, columns)).scalar_one()
        return record_id
