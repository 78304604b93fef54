"""The evidence report's queries: narrow rows the database has already cut down to what a figure
needs, so no table is ever read whole into memory.

Weeks are numbered from Monday 5 January 1970 (UTC), `week_index`; `bot.reports.evidence` turns
a number into an ISO week label. Every query takes an optional group (a check-in, an answer or a
help record belongs to the group its answers were given in, which is the member's group at the
time: a member who left a group keeps what they said while in it there) and an optional start
(`since`: only what was said from then on).

Medians are left to the caller: PostgreSQL has `percentile_cont` but SQLite has no median, and
one method on both backends gives the same figure to the cent. The queries instead hand over
only what the medians need, for a chunk of members at a time: each member's first and last few
completed sessions (`session_ends`: a lateral walk of an index from both ends on PostgreSQL,
window functions on SQLite), then the amounts of those sessions (`amounts`).

The bulkiest queries run on the session's connection without the ORM and fetch their rows at
once (`_rows`): at a hundred thousand rows the ORM's result machinery, or fetching row by row,
costs more than the query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    any_,
    bindparam,
    cast,
    distinct,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (
    NUDGE_POSTGRESQL,
    NUDGE_SQLITE,
    Answer,
    CheckinSession,
    Group,
    HelpRecord,
    Member,
    Membership,
    Message,
)

WEEKLY_CHECKIN = "weekly_checkin"
MONTHLY_JOURNAL = "monthly_journal"
_EPOCH_MONDAY_SECONDS = 4 * 86400
"""1970-01-05, the first Monday after the Unix epoch, in seconds since the epoch."""
_WEEK_SECONDS = 7 * 86400
_IDS_AT_ONCE = 5000
"""Session ids in one query's IN list."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What a report covers: one group (None: the whole program), from `since` (None: always)
    up to `until` (the moment the report is made)."""

    group_id: int | None
    since: datetime | None
    until: datetime


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """A completed session at one end of a member's series: the week it ended in (a week
    index) and `from_start` (counted from the first; else from the last)."""

    member_id: int
    session_id: int
    week: int
    from_start: bool


@dataclass(frozen=True, slots=True)
class Amount:
    session_id: int
    step_id: str
    value: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class WeekCount:
    week: int
    count: int


@dataclass(frozen=True, slots=True)
class NudgeCount:
    """Nudges of one kind in a week: the members who got one, and how many were sent."""

    week: int
    kind: str
    members: int
    nudges: int


@dataclass(frozen=True, slots=True)
class Enrolment:
    """Members with a membership in scope: `current` still belong, `left` no longer do."""

    enrolled: int
    current: int
    left: int


@dataclass(frozen=True, slots=True)
class HelpCount:
    """Help records of a week and kind: all of them, those the giver reported and those the
    receiver reported."""

    week: int
    kind: str
    records: int
    reported_by_giver: int
    reported_by_receiver: int


@dataclass(frozen=True, slots=True)
class Reciprocity:
    gave: int
    received: int
    both: int
    involved: int


@dataclass(frozen=True, slots=True)
class HelpEdge:
    """Who helped whom in a group, how often, and in which ways (kinds, sorted)."""

    group_id: int | None
    group_name: str | None
    giver_id: int
    giver_name: str | None
    receiver_id: int
    receiver_name: str | None
    records: int
    kinds: tuple[str, ...]


def week_index(moment: Any, dialect: str) -> ColumnElement[int]:
    """The week (Monday to Sunday, UTC) of a timestamp column, as a number of weeks since
    1970-01-05. Written with literal numbers, so the same expression can be grouped and
    partitioned by on PostgreSQL (bound parameters would make each use a different one)."""
    monday: ColumnElement[int] = literal_column(str(_EPOCH_MONDAY_SECONDS), Integer)
    week: ColumnElement[int] = literal_column(str(_WEEK_SECONDS), Integer)
    if dialect == "sqlite":
        # integer seconds (exact: no julian-day float at a Monday's midnight), integer division
        seconds = cast(func.strftime(literal_column("'%s'"), moment), Integer)
        return (seconds - monday).self_group().op("/", return_type=Integer)(week)
    # days as integers (a date difference), not EXTRACT's numeric: several times cheaper per row
    day = cast(func.timezone(literal_column("'UTC'"), moment), Date)
    days = day.op("-", return_type=Integer)(literal_column("DATE '1970-01-05'"))
    return days.self_group().op("/", return_type=Integer)(literal_column("7"))


class EvidenceRepository:
    """Read-only queries for the evidence report (see the module's docstring)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    async def _core(self, statement: Any) -> Any:
        """Run a read on the session's connection, without the ORM: these queries return plain
        rows by the hundred thousand, and the ORM's result machinery costs more than the
        query."""
        connection = await self._session.connection()
        return await connection.execute(statement)

    async def _rows(self, statement: Any) -> list[Any]:
        """`_core`, all rows fetched at once (row by row costs more than the query here)."""
        return list((await self._core(statement)).all())

    def _among(self, column: Any, ids: list[int]) -> ColumnElement[bool]:
        """`column` is one of `ids`: on PostgreSQL one array parameter (`= ANY`), which is
        prepared once whatever the number of ids; elsewhere an IN list."""
        if self._dialect == "postgresql":
            return column == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
        return column.in_(ids)

    def _week(self, moment: Any) -> ColumnElement[int]:
        return week_index(moment, self._dialect)

    def _completed(self, checkin_id: str, scope: Scope) -> list[ColumnElement[bool]]:
        """Completed sessions of a check-in in scope (a session is in a group when it holds
        an answer given in that group)."""
        where: list[ColumnElement[bool]] = [
            CheckinSession.checkin_id == checkin_id,
            CheckinSession.status == "completed",
            CheckinSession.ended_at <= scope.until,
        ]
        if scope.since is not None:
            where.append(CheckinSession.ended_at >= scope.since)
        if scope.group_id is not None:
            where.append(
                exists().where(
                    Answer.session_id == CheckinSession.id, Answer.group_id == scope.group_id
                )
            )
        return where

    async def members(self, scope: Scope) -> list[int]:
        """The ids of the members a report covers: every member, or those who ever belonged
        to the group; in id order."""
        statement = select(Member.id).order_by(Member.id)
        if scope.group_id is not None:
            statement = statement.where(
                exists().where(
                    Membership.member_id == Member.id, Membership.group_id == scope.group_id
                )
            )
        return list((await self._session.scalars(statement)).all())

    async def session_ends(
        self, scope: Scope, checkin_id: str, fetch: int, member_ids: list[int]
    ) -> list[SessionEnd]:
        """The first `fetch` and last `fetch` completed sessions of a check-in in scope of each
        of `member_ids`, by member and then in the order they ended (a session may come twice,
        once from each end). On PostgreSQL a lateral join per member walks the (member,
        check-in, end) index from both ends; SQLite numbers each member's sessions with window
        functions."""
        completed = self._completed(checkin_id, scope)
        week = self._week(CheckinSession.ended_at)
        if self._dialect == "postgresql":
            people = (
                select(Member.id.label("member_id"))
                .where(self._among(Member.id, member_ids))
                .subquery("people")
            )
            parts = []
            for from_start in (True, False):
                ordering = (
                    (CheckinSession.ended_at, CheckinSession.id)
                    if from_start
                    else (CheckinSession.ended_at.desc(), CheckinSession.id.desc())
                )
                side = (
                    select(CheckinSession.id, CheckinSession.ended_at, week.label("week"))
                    .where(CheckinSession.member_id == people.c.member_id, *completed)
                    .order_by(*ordering)
                    .limit(fetch)
                    .lateral("first" if from_start else "last")
                )
                parts.append(
                    select(
                        people.c.member_id,
                        side.c.id,
                        side.c.ended_at,
                        side.c.week,
                        literal_column("true" if from_start else "false").label("from_start"),
                    ).select_from(people.join(side, literal_column("true")))
                )
            ends = parts[0].union_all(parts[1]).subquery("ends")
            statement = select(ends.c.member_id, ends.c.id, ends.c.week, ends.c.from_start)
            statement = statement.order_by(ends.c.member_id, ends.c.ended_at, ends.c.id)
            return [
                SessionEnd(member_id, session_id, int(w), bool(from_start))
                for member_id, session_id, w, from_start in await self._rows(statement)
            ]
        member = CheckinSession.member_id
        first = func.row_number().over(
            partition_by=member, order_by=(CheckinSession.ended_at, CheckinSession.id)
        )
        last = func.row_number().over(
            partition_by=member,
            order_by=(CheckinSession.ended_at.desc(), CheckinSession.id.desc()),
        )
        ranked = (
            select(
                member.label("member_id"),
                CheckinSession.id,
                CheckinSession.ended_at,
                week.label("week"),
                first.label("first"),
                last.label("last"),
            )
            .where(member.in_(member_ids), *completed)
            .subquery("ranked")
        )
        statement = (
            select(ranked.c.member_id, ranked.c.id, ranked.c.week, ranked.c.first, ranked.c.last)
            .where(or_(ranked.c.first <= fetch, ranked.c.last <= fetch))
            .order_by(ranked.c.member_id, ranked.c.ended_at, ranked.c.id)
        )
        found = []
        for row in await self._rows(statement):
            if row.first <= fetch:
                found.append(SessionEnd(row.member_id, row.id, int(row.week), True))
            if row.last <= fetch:
                found.append(SessionEnd(row.member_id, row.id, int(row.week), False))
        return found

    async def member_sessions(
        self, scope: Scope, checkin_id: str, member_id: int
    ) -> list[SessionEnd]:
        """All of one member's completed sessions of a check-in in scope, in the order they
        ended (for a member whose ends `session_ends` could not settle: many sessions in few
        weeks)."""
        week = self._week(CheckinSession.ended_at)
        statement = (
            select(CheckinSession.id, week)
            .where(CheckinSession.member_id == member_id, *self._completed(checkin_id, scope))
            .order_by(CheckinSession.ended_at, CheckinSession.id)
        )
        rows = await self._rows(statement)
        return [SessionEnd(member_id, session_id, int(w), True) for session_id, w in rows]

    async def amounts(
        self, session_ids: list[int], steps: tuple[str, ...], scope: Scope
    ) -> dict[int, dict[str, Amount]]:
        """The amounts answered at `steps` in these sessions, by session and step: the last
        answer of each session and step (a correction is a new answer); skipped ones and those
        without a currency left out."""
        found: dict[int, dict[str, Amount]] = {}
        for start in range(0, len(session_ids), _IDS_AT_ONCE):
            chunk = session_ids[start : start + _IDS_AT_ONCE]
            statement = (
                select(Answer.session_id, Answer.step_id, Answer.value_number, Answer.currency)
                .where(
                    self._among(Answer.session_id, chunk),
                    Answer.step_id.in_(steps),
                    Answer.skipped.is_(False),
                    Answer.value_number.is_not(None),
                    Answer.currency.is_not(None),
                )
                .order_by(Answer.session_id, Answer.id)
            )
            if scope.group_id is not None:
                statement = statement.where(Answer.group_id == scope.group_id)
            for session_id, step_id, value, currency in await self._rows(statement):
                if value is not None and currency is not None:  # as the query asks
                    amount = Amount(session_id, step_id, value, currency)
                    found.setdefault(session_id, {})[step_id] = amount
        return found

    async def enrolment(self, scope: Scope) -> Enrolment:
        """Members with a membership (of the group, or of any group) that lasted into the
        scope's time; `current`: of them, those with a membership not ended."""
        where: list[ColumnElement[bool]] = [Membership.joined_at <= scope.until]
        if scope.group_id is not None:
            where.append(Membership.group_id == scope.group_id)
        if scope.since is not None:
            where.append(or_(Membership.left_at.is_(None), Membership.left_at >= scope.since))
        current = func.max(func.coalesce(cast(Membership.left_at.is_(None), Integer), 0))
        per_member = (
            select(Membership.member_id, current.label("current"))
            .where(*where)
            .group_by(Membership.member_id)
            .subquery("enrolled")
        )
        row = (
            await self._session.execute(
                select(func.count(), func.coalesce(func.sum(per_member.c.current), 0))
            )
        ).one()
        enrolled, still = int(row[0]), int(row[1])
        return Enrolment(enrolled, still, enrolled - still)

    async def active_members(self, scope: Scope, since: datetime) -> int:
        """Members who gave at least one answer in scope from `since` on."""
        statement = select(func.count(distinct(Answer.member_id))).where(
            Answer.created_at >= since, Answer.created_at <= scope.until
        )
        if scope.group_id is not None:
            statement = statement.where(Answer.group_id == scope.group_id)
        return int((await self._core(statement)).scalar_one())

    async def completed_per_week(self, scope: Scope) -> list[WeekCount]:
        """Members who completed a weekly check-in, per week (a member counts once a week)."""
        week = self._week(CheckinSession.ended_at)
        per_member = (
            select(week.label("week"), CheckinSession.member_id)
            .where(*self._completed(WEEKLY_CHECKIN, scope))
            .group_by(week, CheckinSession.member_id)
            .subquery("per_member")
        )
        return await self._week_counts(
            select(per_member.c.week, func.count())
            .group_by(per_member.c.week)
            .order_by(per_member.c.week)
        )

    async def nudges_per_week(self, scope: Scope, kinds: tuple[str, ...]) -> list[NudgeCount]:
        """Proactive lines of the nudge kinds (`checkin_invitation`, `reminder`…) the bot wrote
        to the outbox, per week and kind: the members who got one, and the nudges (a nudge cut
        into several parts for its channel counts once). Failed sends are left out. In a group:
        lines to members who belonged to it at the time. One pass over the partial index of
        proactive lines (`ix_messages_nudges`), whose expression this query repeats."""
        nudge: ColumnElement[str] = literal_column(
            NUDGE_SQLITE if self._dialect == "sqlite" else NUDGE_POSTGRESQL, String
        )
        week = self._week(Message.created_at)
        where: list[ColumnElement[bool]] = [
            Message.direction == "out",
            nudge.in_(kinds),
            Message.member_id.is_not(None),
            Message.status.not_in(("failed", "undelivered")),
            Message.created_at <= scope.until,
        ]
        if scope.since is not None:
            where.append(Message.created_at >= scope.since)
        if scope.group_id is not None:
            where.append(
                exists().where(
                    Membership.member_id == Message.member_id,
                    Membership.group_id == scope.group_id,
                    Membership.joined_at <= Message.created_at,
                    or_(Membership.left_at.is_(None), Membership.left_at > Message.created_at),
                )
            )
        # the parts of one nudge share their member and moment
        nudges = (
            select(
                week.label("week"),
                nudge.label("kind"),
                Message.member_id.label("member_id"),
            )
            .where(*where)
            .group_by(week, nudge, Message.member_id, Message.created_at)
            .subquery("nudges")
        )
        statement = (
            select(
                nudges.c.week,
                nudges.c.kind,
                func.count(distinct(nudges.c.member_id)),
                func.count(),
            )
            .group_by(nudges.c.week, nudges.c.kind)
            .order_by(nudges.c.week, nudges.c.kind)
        )
        return [
            NudgeCount(int(w), str(kind), int(members), int(count))
            for w, kind, members, count in await self._rows(statement)
        ]

    async def _week_counts(self, statement: Select[Any]) -> list[WeekCount]:
        rows = await self._rows(statement)
        return [WeekCount(int(week), int(count)) for week, count in rows]

    def _help_where(self, scope: Scope) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [HelpRecord.created_at <= scope.until]
        if scope.group_id is not None:
            where.append(HelpRecord.group_id == scope.group_id)
        if scope.since is not None:
            where.append(HelpRecord.created_at >= scope.since)
        return where

    async def help_per_week(self, scope: Scope) -> list[HelpCount]:
        """Help records per week and kind, with who reported them."""
        week = self._week(HelpRecord.created_at)
        by_giver = func.sum(cast(HelpRecord.reported_by_id == HelpRecord.giver_id, Integer))
        by_receiver = func.sum(cast(HelpRecord.reported_by_id == HelpRecord.receiver_id, Integer))
        statement = (
            select(week, HelpRecord.kind, func.count(), by_giver, by_receiver)
            .where(*self._help_where(scope))
            .group_by(week, HelpRecord.kind)
            .order_by(week, HelpRecord.kind)
        )
        return [
            HelpCount(int(w), kind, int(n), int(g or 0), int(r or 0))
            for w, kind, n, g, r in await self._rows(statement)
        ]

    async def reciprocity(self, scope: Scope) -> Reciprocity:
        """Members who gave help, who received it, both, and either."""
        where = self._help_where(scope)
        givers = select(HelpRecord.giver_id.label("member_id")).where(*where).distinct()
        receivers = select(HelpRecord.receiver_id.label("member_id")).where(*where).distinct()
        gave = givers.subquery("gave")
        received = receivers.subquery("received")
        both = select(func.count()).select_from(
            gave.join(received, gave.c.member_id == received.c.member_id)
        )
        involved = select(func.count()).select_from(givers.union(receivers).subquery("involved"))
        row = (
            await self._session.execute(
                select(
                    select(func.count()).select_from(gave).scalar_subquery(),
                    select(func.count()).select_from(received).scalar_subquery(),
                    both.scalar_subquery(),
                    involved.scalar_subquery(),
                )
            )
        ).one()
        return Reciprocity(*(int(value) for value in row))

    async def help_edges(self, scope: Scope) -> AsyncIterator[HelpEdge]:
        """Who helped whom, per group, with the number of records and their kinds, ordered by
        group, giver and receiver."""
        # count first, over ids only; then name the (far fewer) pairs
        counted = (
            select(
                HelpRecord.group_id,
                HelpRecord.giver_id,
                HelpRecord.receiver_id,
                HelpRecord.kind,
                func.count().label("records"),
            )
            .where(*self._help_where(scope))
            .group_by(
                HelpRecord.group_id, HelpRecord.giver_id, HelpRecord.receiver_id, HelpRecord.kind
            )
            .subquery("counted")
        )
        giver = aliased(Member, name="giver")
        receiver = aliased(Member, name="receiver")
        statement = (
            select(
                counted.c.group_id,
                Group.name,
                counted.c.giver_id,
                giver.name,
                counted.c.receiver_id,
                receiver.name,
                counted.c.kind,
                counted.c.records,
            )
            .join(giver, giver.id == counted.c.giver_id)
            .join(receiver, receiver.id == counted.c.receiver_id)
            .outerjoin(Group, Group.id == counted.c.group_id)
            .order_by(counted.c.group_id, counted.c.giver_id, counted.c.receiver_id, counted.c.kind)
        )
        pending: HelpEdge | None = None
        for row in await self._rows(statement):
            group_id, group_name, giver_id, giver_name, receiver_id, receiver_name, kind, n = row
            if pending is not None and (
                pending.group_id,
                pending.giver_id,
                pending.receiver_id,
            ) == (
                group_id,
                giver_id,
                receiver_id,
            ):
                pending = replace(
                    pending, records=pending.records + int(n), kinds=(*pending.kinds, kind)
                )
                continue
            if pending is not None:
                yield pending
            pending = HelpEdge(
                group_id,
                group_name,
                giver_id,
                giver_name,
                receiver_id,
                receiver_name,
                int(n),
                (kind,),
            )
        if pending is not None:
            yield pending
