"""The audit log: one line per staff action on a member's data (a read of their conversation in
the console, a reply, a take-over, an export, an erasure), with who, when and what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, Member, Staff


@dataclass(frozen=True, slots=True)
class AuditLine:
    id: int
    at: datetime
    staff_id: int | None
    staff_name: str | None
    action: str
    member_id: int | None
    member_name: str | None
    detail: str | None


_LINES = (
    select(
        AuditEntry.id,
        AuditEntry.at,
        AuditEntry.staff_id,
        Staff.name,
        AuditEntry.action,
        AuditEntry.member_id,
        Member.name,
        AuditEntry.detail,
    )
    .outerjoin(Staff, Staff.id == AuditEntry.staff_id)
    .outerjoin(Member, Member.id == AuditEntry.member_id)
)


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

    async def page(self, offset: int, limit: int) -> list[AuditLine]:
        """The newest lines first."""
        rows = await self._session.execute(
            _LINES.order_by(AuditEntry.id.desc()).offset(offset).limit(limit)
        )
        return [AuditLine(*row) for row in rows]

    async def for_member(self, member_id: int) -> list[AuditLine]:
        """The member's lines, oldest first."""
        rows = await self._session.execute(
            _LINES.where(AuditEntry.member_id == member_id).order_by(AuditEntry.id)
        )
        return [AuditLine(*row) for row in rows]

    async def count(self) -> int:
        return int(await self._session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
