"""The audit log: one line per staff action on a member's data (a read of their conversation,
an export, an erasure), with who, when and what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    staff_id: int | None
    action: str
    member_id: int | None
    detail: str | None


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self,
        staff_id: int | None,
        action: str,
        *,
        at: datetime,
        member_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        """Append a line; `detail` must hold no personal data (it outlives an erasure)."""
        await self._session.execute(
            insert(AuditEntry).values(
                staff_id=staff_id, action=action, member_id=member_id, detail=detail, at=at
            )
        )

    async def for_member(self, member_id: int) -> list[AuditRecord]:
        """The member's lines, oldest first."""
        rows = await self._session.scalars(
            select(AuditEntry).where(AuditEntry.member_id == member_id).order_by(AuditEntry.id)
        )
        return [
            AuditRecord(row.id, row.at, row.staff_id, row.action, row.member_id, row.detail)
            for row in rows
        ]
