"""Completed check-ins as the evidence report reads them (`checkin_results`): one row per
completed session, written in the transaction of the turn that completed it, so the report
reads a member's check-ins and their amounts from one narrow row each instead of from the
answers and the sessions.

A row's group is the group of the session's last answer (a session with no answers has none),
its week is the week it ended in on that group's calendar (`storage.weeks`, computed by the
database from the group's time zone as the row is written, as the migration that added weeks
and a group's change of time zone compute it), and its amounts are, for each step, the last
answer that carries an amount in a currency (a correction is a new answer; a skipped step has
none), as the answers table holds them.
`summaries` is the one definition of that, shared by the writes and by the migration that
back-filled the rows of check-ins completed before the table existed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.column_types import UTCDateTime
from storage.repositories.tables import ANSWERS, CHECKIN_RESULTS, GROUPS, SESSIONS
from storage.weeks import local_week

_COMPLETED = select(
    SESSIONS.c.id, SESSIONS.c.member_id, SESSIONS.c.checkin_id, SESSIONS.c.ended_at
).where(
    SESSIONS.c.id.in_(bindparam("ids", expanding=True)),
    SESSIONS.c.status == "completed",
    SESSIONS.c.ended_at.is_not(None),
)
_ANSWERS = (
    select(
        ANSWERS.c.session_id,
        ANSWERS.c.group_id,
        ANSWERS.c.step_id,
        ANSWERS.c.value_number,
        ANSWERS.c.currency,
        ANSWERS.c.skipped,
    )
    .where(ANSWERS.c.session_id.in_(bindparam("ids", expanding=True)))
    .order_by(ANSWERS.c.session_id, ANSWERS.c.id)
)
_ROW_GROUP_ZONE = (
    select(GROUPS.c.timezone).where(GROUPS.c.id == bindparam("row_group")).scalar_subquery()
)


def _insert(dialect: str) -> Any:
    """The INSERT of summaries, each row's week computed from its end and its group's time
    zone by the database (the `moment` and `row_group` parameters repeat the row's own: the
    column names themselves are reserved for the VALUES)."""
    moment = bindparam("moment", type_=UTCDateTime)
    return insert(CHECKIN_RESULTS).values(week=local_week(moment, _ROW_GROUP_ZONE, dialect))


def rewrite_weeks(group_id: int, timezone: str, dialect: str) -> Any:
    """The UPDATE that moves a group's check-ins to the weeks of its new time zone."""
    return (
        update(CHECKIN_RESULTS)
        .where(CHECKIN_RESULTS.c.group_id == group_id)
        .values(week=local_week(CHECKIN_RESULTS.c.ended_at, literal(timezone), dialect))
    )


@dataclass(frozen=True, slots=True)
class CompletedSession:
    id: int
    member_id: int
    checkin_id: str
    ended_at: datetime


@dataclass(frozen=True, slots=True)
class SessionAnswer:
    """What a summary needs of one answer, in the order the answers were given."""

    session_id: int
    group_id: int | None
    step_id: str
    value: Decimal | None
    currency: str | None
    skipped: bool


def summaries(
    sessions: Iterable[CompletedSession], answers: Iterable[SessionAnswer]
) -> list[dict[str, Any]]:
    """The `checkin_results` rows of completed sessions, from their answers in the order given
    (see the module's docstring)."""
    groups: dict[int, int | None] = {}
    amounts: dict[int, dict[str, list[str]]] = {}
    for answer in answers:
        groups[answer.session_id] = answer.group_id
        if answer.skipped or answer.value is None or answer.currency is None:
            continue
        amounts.setdefault(answer.session_id, {})[answer.step_id] = [
            str(answer.value),
            answer.currency,
        ]
    return [
        {
            "session_id": session.id,
            "member_id": session.member_id,
            "group_id": groups.get(session.id),
            "checkin_id": session.checkin_id,
            "ended_at": session.ended_at,
            "amounts": amounts.get(session.id, {}),
        }
        for session in sessions
    ]


class CheckinResultRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, session_ids: Sequence[int]) -> None:
        """Write the rows of sessions that have just been completed, after their last answers
        (in the same transaction). Ids of sessions that are not completed are passed over."""
        if not session_ids:
            return
        ids = sorted(set(session_ids))
        sessions = [
            CompletedSession(*row) for row in await self._session.execute(_COMPLETED, {"ids": ids})
        ]
        if not sessions:
            return
        answers = [
            SessionAnswer(*row)
            for row in await self._session.execute(_ANSWERS, {"ids": [s.id for s in sessions]})
        ]
        rows = [
            row | {"moment": row["ended_at"], "row_group": row["group_id"]}
            for row in summaries(sessions, answers)
        ]
        dialect = self._session.get_bind().dialect.name
        await self._session.execute(_insert(dialect), rows)
