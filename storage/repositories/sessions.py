"""Check-in sessions: at most one active per member, saved after every turn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound
from storage.records import SessionRecord
from storage.repositories.mapping import session_record
from storage.repositories.tables import SESSIONS
from storage.vocabulary import ACTIVE, SessionStatus

_ACTIVE_FOR = select(SESSIONS).where(
    SESSIONS.c.member_id == bindparam("member_id"), SESSIONS.c.status == ACTIVE
)
_ACTIVE_FOR_MANY = select(SESSIONS).where(
    SESSIONS.c.member_id.in_(bindparam("member_ids", expanding=True)), SESSIONS.c.status == ACTIVE
)
_DUE_NUDGES = (
    select(SESSIONS)
    .where(SESSIONS.c.status == ACTIVE, SESSIONS.c.next_nudge_at <= bindparam("now"))
    .order_by(SESSIONS.c.next_nudge_at)
    .limit(bindparam("limit"))
)
_SET_NEXT_NUDGE = (
    update(SESSIONS)
    .where(SESSIONS.c.id.in_(bindparam("session_ids", expanding=True)))
    .values(next_nudge_at=bindparam("next_nudge_at"))
)
_REPLACE_ACTIVE = (
    update(SESSIONS)
    .where(SESSIONS.c.member_id == bindparam("active_member_id"), SESSIONS.c.status == ACTIVE)
    .values(
        status="replaced",
        ended_at=bindparam("at"),
        updated_at=bindparam("at"),
        end_reason="replaced",
    )
)
_INSERT = insert(SESSIONS).returning(*SESSIONS.c)
_SAVE = update(SESSIONS).where(SESSIONS.c.id == bindparam("session_id")).returning(SESSIONS.c.id)
"""Sets the columns named in the parameters (besides `session_id`)."""
_SAVE_EACH = update(SESSIONS).where(SESSIONS.c.id == bindparam("session_id"))
"""`_SAVE` without RETURNING, which an UPDATE run for many parameter sets cannot have."""


@dataclass(frozen=True, slots=True)
class SessionSave:
    """A session as a turn leaves it (see `SessionRepository.save`)."""

    session_id: int
    step_id: str | None
    status: SessionStatus
    state: dict[str, Any]
    at: datetime
    end_reason: str | None = None
    next_nudge_at: datetime | None = None
    expires_at: datetime | None = None

    def columns(self) -> dict[str, Any]:
        ended = self.status != ACTIVE
        return {
            "session_id": self.session_id,
            "step_id": self.step_id,
            "status": self.status,
            "state": self.state,
            "updated_at": self.at,
            "ended_at": self.at if ended else None,
            "end_reason": self.end_reason,
            "next_nudge_at": None if ended else self.next_nudge_at,
            "expires_at": self.expires_at,
        }


class SessionRepository:
    """Sessions. `state` is whatever dict the engine's serializer made; storage keeps it as
    JSON and hands it back unchanged."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def active_for(self, member_id: int) -> SessionRecord | None:
        """The member's active session, if there is one (there is never more than one)."""
        result = await self._session.execute(_ACTIVE_FOR, {"member_id": member_id})
        row = result.one_or_none()
        return None if row is None else session_record(row)

    async def active_for_many(self, member_ids: list[int]) -> dict[int, SessionRecord]:
        """`active_for` several members in one query, by member id (members with no active
        session are left out)."""
        if not member_ids:
            return {}
        rows = await self._session.execute(_ACTIVE_FOR_MANY, {"member_ids": member_ids})
        return {row.member_id: session_record(row) for row in rows}

    async def due_nudges(self, now: datetime, limit: int = 1000) -> list[SessionRecord]:
        """Active sessions whose next reminder or expiry has come, most overdue first (an index
        on `next_nudge_at` over active sessions makes this a range scan, whatever the count)."""
        rows = await self._session.execute(_DUE_NUDGES, {"now": now, "limit": limit})
        return [session_record(row) for row in rows]

    async def set_next_nudges(self, moments: dict[int, datetime | None]) -> None:
        """Set `next_nudge_at` of many sessions, one statement per distinct moment."""
        by_moment: dict[datetime | None, list[int]] = {}
        for session_id, at in moments.items():
            by_moment.setdefault(at, []).append(session_id)
        for at, session_ids in by_moment.items():
            await self._session.execute(
                _SET_NEXT_NUDGE, {"session_ids": session_ids, "next_nudge_at": at}
            )

    async def start(
        self,
        member_id: int,
        checkin_id: str,
        checkin_version: int,
        step_id: str | None,
        state: dict[str, Any],
        at: datetime,
    ) -> SessionRecord:
        """A new active session. A session still active for the member is first ended as
        `replaced` (end_reason "replaced") at `at`, so the one-active-session rule holds."""
        await self._session.execute(_REPLACE_ACTIVE, {"active_member_id": member_id, "at": at})
        result = await self._session.execute(
            _INSERT,
            {
                "member_id": member_id,
                "checkin_id": checkin_id,
                "checkin_version": checkin_version,
                "status": ACTIVE,
                "step_id": step_id,
                "state": state,
                "started_at": at,
                "updated_at": at,
            },
        )
        return session_record(result.one())

    async def save(
        self,
        session_id: int,
        step_id: str | None,
        status: SessionStatus,
        state: dict[str, Any],
        at: datetime,
        end_reason: str | None = None,
        *,
        next_nudge_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        """Store the session after a turn. Any status but `active` ends it: `ended_at` becomes
        `at` and no nudge is due any more. `next_nudge_at` is when the clock should look at an
        active session again (its next reminder or its expiry). Raises `NotFound` for an
        unknown session."""
        save = SessionSave(
            session_id, step_id, status, state, at, end_reason, next_nudge_at, expires_at
        )
        if await self._session.scalar(_SAVE, save.columns()) is None:
            raise NotFound(f"no session #{session_id}")

    async def save_many(self, saves: list[SessionSave]) -> None:
        """`save` several sessions in one round trip. An unknown session is skipped without
        telling: read the sessions in the same transaction first."""
        if saves:
            await self._session.execute(_SAVE_EACH, [save.columns() for save in saves])
