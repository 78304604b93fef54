"""The evidence report's queries: narrow rows the database has already cut down to what a figure
needs, so no table is ever read whole into memory.

Weeks are numbers (weeks since Monday 5 January 1970) counted on each group's calendar
(`storage.weeks`); `bot.reports.evidence` turns a number into an ISO week label. Every query
takes an optional group (a check-in, an answer or a help record belongs to the group its
answers were given in, which is the member's group at the time: a member who left a group keeps
what they said while in it there) and an optional start (`since`: only what was said from then
on).

Completed check-ins are read from `checkin_results`, one narrow row per completed session with
its group and amounts, which the turn that completed it wrote: never from the answers.

Medians: SQLite has no median, so there the queries hand over only what the caller's medians
need, for a chunk of members at a time: each member's first and last few completed check-ins
with their amounts (`session_ends`). PostgreSQL goes further (`weekly_ends`): the same selection
of check-ins, then each end's middle values picked in `numeric`, exact, one row per member and
measure. Invitations and reminders are counted from partial indexes of their own lines, never
from the JSON of the message log.

The bulkiest queries run on the session's connection without the ORM and fetch their rows at
once (`_rows`): at a hundred thousand rows the ORM's result machinery, or fetching row by row,
costs more than the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Integer,
    Numeric,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import CTE, CompoundSelect, Subquery
from sqlalchemy.sql.sqltypes import NullType

from storage.column_types import ExactDecimal
from storage.models import (
    COUNTED_NUDGES,
    NUDGE_POSTGRESQL,
    NUDGE_SQLITE,
    Answer,
    CheckinResult,
    Group,
    HelpRecord,
    Member,
    Membership,
    Message,
    nudge_lines,
)
from storage.weeks import local_week

WEEKLY_CHECKIN = "weekly_checkin"
MONTHLY_JOURNAL = "monthly_journal"
WEEKLY_STEPS = ("sales", "costs", "saved")
"""The weekly check-in's amounts the business figures read: profit is sales minus costs, and
savings the amount saved."""

WORK_MEM = "32MB"
"""PostgreSQL's working memory for each sort or hash of the report's queries (see `prepare`)."""

Valued = tuple[Decimal, str]
"""An amount and its currency."""


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
    number, on its group's calendar), `from_start` (counted from the first; else from the
    last) and its amounts by step."""

    member_id: int
    session_id: int
    week: int
    from_start: bool
    amounts: dict[str, Valued]


def _valued(steps: tuple[str, ...], columns: Sequence[Any]) -> dict[str, Valued]:
    """A row's amounts by step, from its (value, currency) columns of each step in turn."""
    pairs = iter(columns)
    return {
        step: (value, currency)
        for step, value, currency in zip(steps, pairs, pairs, strict=False)
        if value is not None and currency is not None
    }


class EndsTally(NamedTuple):
    """The ends of one measure (or journal answer) in one currency over a chunk of members,
    tallied in SQL with the same verdicts as `bot.reports.evidence._Tallies.add`: the members
    counted apart as too few (the ends share check-ins, or one end has no value) or as mixed
    currency, and for each member counted a pair (baseline, now). A member counts in the
    currency of their latest value at the ends. For the weekly measures each side of a pair is
    the sum of that end's middle values (twice the median: the value in the middle counted
    twice for an odd number of values, the two middle values for an even one), which the
    caller halves; for the monthly journal, the first and latest values themselves. Tallies
    rather than a row per member: 10,000 members' rows cost the caller more in Python than the
    database takes to tally them."""

    measure: str
    currency: str
    too_few: int
    mixed: int
    pairs: list[list[Decimal]]


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


class HelpEdge(NamedTuple):
    """Who helped whom in a group (named), how often, and in which ways (kinds, sorted). The
    report shows these as they come (`bot.reports.evidence.NetworkEdge`): a large program has
    tens of thousands, each built once, and a named tuple is built in a fraction of a frozen
    dataclass's time."""

    group: str | None
    giver_id: int
    giver: str | None
    receiver_id: int
    receiver: str | None
    records: int
    kinds: tuple[str, ...]


KINDS_SEPARATOR = "\x1f"
"""Between the kinds of help of one pair, as `help_edges`' query lists them."""

COUNTED, TOO_FEW, MIXED = 0, 1, 2
"""A member's verdict on one measure in `EndsTally`'s query: counted, too few, mixed currency."""

MIDDLES_OF = 4
"""The most values `_middles` picks the middle of (an end of a member's series)."""


def _middles(value: ColumnElement[Any], where: ColumnElement[bool]) -> ColumnElement[Any]:
    """Over the rows `where` holds (at most four values of `value`), the sum of the middle
    values: both middle ones of four or two, the middle one twice of three, the one twice of
    one; None without values. Picked with sums, least and greatest, which are exact on
    `numeric`: the middle two of four are all four less the least and the greatest."""
    count = func.count(value).filter(where)
    total = func.sum(value).filter(where)
    inner = total - func.min(value).filter(where) - func.max(value).filter(where)
    return case(
        (count == 4, inner),
        (count == 3, 2 * inner),
        (count == 2, total),
        (count == 1, 2 * total),
    )


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

    async def prepare(self) -> None:
        """Set up the caller's transaction for the report's queries. On PostgreSQL: no JIT
        compilation (the report's plans are large and their estimated costs high, so the
        server would compile them, which takes longer than running them: 0.1-0.2 s a
        statement at this program's size), and room in memory for the sorts and hash tables
        of a large program (`WORK_MEM`, instead of spilling them to disk). Both end with the
        transaction."""
        if self._dialect == "postgresql":
            await self._core(text("SET LOCAL jit = off"))
            await self._core(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))

    def _among(self, column: Any, ids: list[int]) -> ColumnElement[bool]:
        """`column` is one of `ids`: on PostgreSQL one array parameter (`= ANY`), which is
        prepared once whatever the number of ids; elsewhere an IN list."""
        if self._dialect == "postgresql":
            return column == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
        return column.in_(ids)

    def _week(self, moment: Any, zone: Any) -> ColumnElement[int]:
        return local_week(moment, zone, self._dialect)

    def _amount_columns(
        self, amounts: Any, steps: tuple[str, ...], prefix: str = ""
    ) -> list[ColumnElement[Any]]:
        """The value and currency of each step in a `checkin_results.amounts` column, taken
        out in SQL (labelled `{prefix}{step}_value` and `..._currency`): the database picks
        the few amounts a figure needs from the JSON, and hands over exact decimals."""
        columns: list[ColumnElement[Any]] = []
        for step in steps:
            value: ColumnElement[Any]
            if self._dialect == "sqlite":
                value = type_coerce(func.json_extract(amounts, f'$."{step}"[0]'), ExactDecimal)
                currency = func.json_extract(amounts, f'$."{step}"[1]', type_=String)
            else:
                pair = amounts.op("->", return_type=JSON)(literal(step))
                # the driver reads NUMERIC as an exact Decimal itself
                value = cast(pair.op("->>", return_type=String)(literal(0)), Numeric)
                currency = pair.op("->>", return_type=String)(literal(1))
            columns += [
                value.label(f"{prefix}{step}_value"),
                currency.label(f"{prefix}{step}_currency"),
            ]
        return columns

    def _completed(self, checkin_id: str, scope: Scope) -> list[ColumnElement[bool]]:
        """Completed check-ins in scope (in a group: those whose answers were given in it)."""
        where: list[ColumnElement[bool]] = [
            CheckinResult.checkin_id == checkin_id,
            CheckinResult.ended_at <= scope.until,
        ]
        if scope.since is not None:
            where.append(CheckinResult.ended_at >= scope.since)
        if scope.group_id is not None:
            where.append(CheckinResult.group_id == scope.group_id)
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
        return list((await self._core(statement)).scalars().all())

    async def session_ends(
        self,
        scope: Scope,
        checkin_id: str,
        fetch: int,
        member_ids: list[int],
        steps: tuple[str, ...],
    ) -> list[SessionEnd]:
        """The first `fetch` and last `fetch` completed check-ins in scope of each of
        `member_ids`, with their amounts at `steps`, by member and then in the order they
        ended (one may come twice, once from each end). On PostgreSQL a lateral join per member
        walks the (member, check-in, end) index from both ends; SQLite numbers each member's
        check-ins with window functions."""
        completed = self._completed(checkin_id, scope)
        result = CheckinResult
        if self._dialect == "postgresql":
            people = (
                select(Member.id.label("member_id"))
                .where(self._among(Member.id, member_ids))
                .subquery("people")
            )
            ends = _from_both_ends(people, completed, fetch).subquery("ends")
            statement = select(
                ends.c.member_id,
                ends.c.session_id,
                ends.c.week,
                ends.c.from_start,
                *self._amount_columns(ends.c.amounts, steps),
            ).order_by(ends.c.member_id, ends.c.ended_at, ends.c.session_id)
            return [
                SessionEnd(row[0], row[1], int(row[2]), bool(row[3]), _valued(steps, row[4:]))
                for row in await self._rows(statement)
            ]
        member = result.member_id
        first = func.row_number().over(
            partition_by=member, order_by=(result.ended_at, result.session_id)
        )
        last = func.row_number().over(
            partition_by=member, order_by=(result.ended_at.desc(), result.session_id.desc())
        )
        ranked = (
            select(
                member.label("member_id"),
                result.session_id,
                result.ended_at,
                result.week,
                result.amounts,
                first.label("first"),
                last.label("last"),
            )
            .where(member.in_(member_ids), *completed)
            .subquery("ranked")
        )
        statement = (
            select(
                ranked.c.member_id,
                ranked.c.session_id,
                ranked.c.week,
                ranked.c.first,
                ranked.c.last,
                *self._amount_columns(ranked.c.amounts, steps),
            )
            .where(or_(ranked.c.first <= fetch, ranked.c.last <= fetch))
            .order_by(ranked.c.member_id, ranked.c.ended_at, ranked.c.session_id)
        )
        found = []
        for row in await self._rows(statement):
            member_id, session_id, week, first_rank, last_rank = row[:5]
            valued = _valued(steps, row[5:])
            if first_rank <= fetch:
                found.append(SessionEnd(member_id, session_id, week, True, valued))
            if last_rank <= fetch:
                found.append(SessionEnd(member_id, session_id, week, False, valued))
        return found

    @property
    def ends_in_sql(self) -> bool:
        """Whether `weekly_ends` and `journal_ends` are available: on PostgreSQL the database
        sums up each member's ends itself; SQLite hands the caller the check-ins at the ends
        (`session_ends`) to do it."""
        return self._dialect == "postgresql"

    async def journal_ends(
        self, scope: Scope, member_ids: list[int], steps: tuple[str, ...]
    ) -> list[EndsTally]:
        """`member_ids`' first and latest completed monthly journals in scope, tallied per
        answer at `steps` and currency (PostgreSQL only, see `ends_in_sql`): the same two
        check-ins `session_ends` gives with one from each end, side by side per member, then
        each member's verdict (`EndsTally`). A member with one journal has too few; members
        without a journal, or without the answer in either, are not in the tally."""
        result = CheckinResult
        completed = self._completed(MONTHLY_JOURNAL, scope)
        people = (
            select(Member.id.label("member_id"))
            .where(self._among(Member.id, member_ids))
            .cte("people")
        )
        sides = []
        for from_start in (True, False):
            ordering = (
                (result.ended_at, result.session_id)
                if from_start
                else (result.ended_at.desc(), result.session_id.desc())
            )
            sides.append(
                select(result.session_id, result.amounts)
                .where(result.member_id == people.c.member_id, *completed)
                .order_by(*ordering)
                .limit(1)
                .lateral("first_journal" if from_start else "last_journal")
            )
        first, last = sides
        per_member = (
            select(
                (first.c.session_id != last.c.session_id).label("two"),
                *self._amount_columns(first.c.amounts, steps, "first_"),
                *self._amount_columns(last.c.amounts, steps, "last_"),
            )
            .select_from(
                people.join(first, literal_column("true")).join(last, literal_column("true"))
            )
            .cte("journals")
        )
        j = per_member.c
        verdicts = []
        for step in steps:
            first_value, first_currency = j[f"first_{step}_value"], j[f"first_{step}_currency"]
            last_value, last_currency = j[f"last_{step}_value"], j[f"last_{step}_currency"]
            has_first = and_(first_value.is_not(None), first_currency.is_not(None))
            has_last = and_(last_value.is_not(None), last_currency.is_not(None))
            verdicts.append(
                select(
                    literal(step).label("measure"),
                    case((has_last, last_currency), else_=first_currency).label("currency"),
                    case(
                        (or_(~j.two, ~has_first, ~has_last), TOO_FEW),
                        (first_currency != last_currency, MIXED),
                        else_=COUNTED,
                    ).label("verdict"),
                    first_value.label("baseline"),
                    last_value.label("now"),
                ).where(or_(has_first, has_last))
            )
        return await self._tallies(verdicts)

    async def _tallies(self, verdicts: list[Select[Any]]) -> list[EndsTally]:
        """`EndsTally`s from per-member verdicts (`measure`, `currency`, `verdict`, `baseline`,
        `now` columns; one select per measure, each a row per member): the counts of each
        verdict and the pairs of the members counted, per measure and currency."""
        each = union_all(*verdicts).subquery("verdicts")
        e = each.c
        pair = postgresql.array([e.baseline, e.now])
        statement = select(
            e.measure,
            e.currency,
            func.count().filter(e.verdict == TOO_FEW),
            func.count().filter(e.verdict == MIXED),
            # untyped: the driver hands over the nested lists of exact decimals as they are
            type_coerce(func.array_agg(pair).filter(e.verdict == COUNTED), NullType()),
        ).group_by(e.measure, e.currency)
        return [
            EndsTally(measure, currency, int(too_few), int(mixed), pairs or [])
            for measure, currency, too_few, mixed, pairs in await self._rows(statement)
        ]

    async def weekly_ends(self, scope: Scope, member_ids: list[int], ends: int) -> list[EndsTally]:
        """`member_ids`' weekly figures at the two ends of their series, tallied in SQL per
        measure (sales, costs, profit, savings) and currency (PostgreSQL only, see
        `ends_in_sql`): each member's ends summed up in a row of their own, then their verdict
        and pair of middle-value sums (`EndsTally`).

        The same selection as the caller makes from `session_ends`: the last completed
        check-in of each week (on the group's calendar); the first `ends` and the last `ends`
        of those weeks; profit only from sales and costs in one currency. Each member's first
        and last `ends + 1` check-ins come from a walk of the (member, check-in, end) index
        from both ends; a member whose walk cannot settle the end weeks (several check-ins in
        one week) has all their check-ins read instead. The middle values are picked by
        numbering each end's values: the caller halves their sum, exactly as
        `statistics.median` does."""
        if not 1 <= ends <= MIDDLES_OF:
            raise ValueError(f"middle values are picked among at most {MIDDLES_OF}, not {ends}")
        fetch = ends + 1
        result = CheckinResult
        completed = self._completed(WEEKLY_CHECKIN, scope)
        people = (
            select(Member.id.label("member_id"))
            .where(self._among(Member.id, member_ids))
            .cte("people")
        )
        weeks = _from_both_ends(people, completed, fetch).cte("weeks")
        # an end is settled when the walk met fewer check-ins than it fetched (there are no
        # more) or enough distinct weeks that none of the end weeks can have been cut
        # (counted per week first: two hash aggregates instead of a sort for each member)
        per_week = (
            select(weeks.c.member_id, weeks.c.from_start, func.count().label("n"))
            .group_by(weeks.c.member_id, weeks.c.from_start, weeks.c.week)
            .subquery("per_week")
        )
        needed = case((per_week.c.from_start, fetch), else_=ends)
        unsettled = (
            select(per_week.c.member_id)
            .group_by(per_week.c.member_id, per_week.c.from_start)
            .having(func.sum(per_week.c.n) == fetch, func.count() < needed)
            .cte("unsettled")
        )
        whole = select(
            result.member_id,
            result.session_id,
            result.ended_at,
            result.week,
            result.amounts,
        ).where(result.member_id.in_(select(unsettled.c.member_id)), *completed)
        series = (
            select(
                weeks.c.member_id,
                weeks.c.session_id,
                weeks.c.ended_at,
                weeks.c.week,
                weeks.c.amounts,
            )
            .where(weeks.c.member_id.not_in(select(unsettled.c.member_id)))
            .union_all(whole)
            .subquery("series")
        )
        # the last check-in of each week
        latest = (
            select(series.c.member_id, series.c.week, series.c.amounts)
            .ext(distinct_on(series.c.member_id, series.c.week))
            .order_by(
                series.c.member_id,
                series.c.week,
                series.c.ended_at.desc(),
                series.c.session_id.desc(),
            )
            .subquery("latest")
        )
        # numbered in the order DISTINCT ON left them in (member, week): no further sort
        member = latest.c.member_id
        ranked = select(
            latest.c.member_id,
            latest.c.week,
            func.row_number().over(partition_by=member, order_by=latest.c.week).label("place"),
            func.count().over(partition_by=member).label("weeks"),
            *self._amount_columns(latest.c.amounts, WEEKLY_STEPS),
        ).subquery("ranked")
        r = ranked.c
        same = r.sales_currency == r.costs_currency
        picked: list[tuple[str, ColumnElement[Any], ColumnElement[Any]]] = [
            ("sales", r.sales_value, r.sales_currency),
            ("costs", r.costs_value, r.costs_currency),
            ("profit", case((same, r.sales_value - r.costs_value)), case((same, r.sales_currency))),
            ("savings", r.saved_value, r.saved_currency),
        ]
        at_first = r.place <= ends
        at_last = r.place > r.weeks - ends
        ends_columns: list[ColumnElement[Any]] = []
        for measure, value, currency in picked:
            valued = and_(value.is_not(None), currency.is_not(None))
            ends_columns += [
                value.label(f"{measure}_value"),
                currency.label(f"{measure}_currency"),
                # the week of the member's latest value at the ends (windows run after WHERE)
                func.max(r.week)
                .filter(valued)
                .over(partition_by=r.member_id)
                .label(f"{measure}_newest"),
            ]
        at_ends = (
            select(
                r.member_id,
                r.week,
                at_first.label("at_first"),
                at_last.label("at_last"),
                (r.weeks >= 2 * ends).label("enough"),
                *ends_columns,
            )
            .where(or_(at_first, at_last))
            .subquery("at_ends")
        )
        c = at_ends.c
        columns: list[ColumnElement[Any]] = []
        for measure, _, _ in picked:
            value, currency = c[f"{measure}_value"], c[f"{measure}_currency"]
            valued = and_(value.is_not(None), currency.is_not(None))
            columns += [
                func.max(currency)
                .filter(valued, c.week == c[f"{measure}_newest"])
                .label(f"{measure}_currency"),
                func.count().filter(valued, c.at_first).label(f"{measure}_first"),
                func.count().filter(valued, c.at_last).label(f"{measure}_last"),
                (func.min(currency).filter(valued) == func.max(currency).filter(valued)).label(
                    f"{measure}_one_currency"
                ),
                _middles(value, and_(valued, c.at_first)).label(f"{measure}_first_middles"),
                _middles(value, and_(valued, c.at_last)).label(f"{measure}_last_middles"),
            ]
        per_member = (
            select(func.bool_and(c.enough).label("enough"), *columns)
            .group_by(c.member_id)
            .cte("members_ends")
        )
        m = per_member.c
        verdicts = []
        for measure, _, _ in picked:
            currency = m[f"{measure}_currency"]
            verdicts.append(
                select(
                    literal(measure).label("measure"),
                    currency.label("currency"),
                    case(
                        (
                            or_(~m.enough, m[f"{measure}_first"] == 0, m[f"{measure}_last"] == 0),
                            TOO_FEW,
                        ),
                        (~m[f"{measure}_one_currency"], MIXED),
                        else_=COUNTED,
                    ).label("verdict"),
                    m[f"{measure}_first_middles"].label("baseline"),
                    m[f"{measure}_last_middles"].label("now"),
                ).where(currency.is_not(None))
            )
        return await self._tallies(verdicts)

    async def member_sessions(
        self, scope: Scope, checkin_id: str, member_id: int, steps: tuple[str, ...]
    ) -> list[SessionEnd]:
        """All of one member's completed check-ins in scope with their amounts at `steps`, in
        the order they ended (for a member whose ends `session_ends` could not settle: many
        check-ins in few weeks)."""
        result = CheckinResult
        statement = (
            select(
                result.session_id,
                result.week,
                *self._amount_columns(result.amounts, steps),
            )
            .where(result.member_id == member_id, *self._completed(checkin_id, scope))
            .order_by(result.ended_at, result.session_id)
        )
        return [
            SessionEnd(member_id, row[0], int(row[1]), True, _valued(steps, row[2:]))
            for row in await self._rows(statement)
        ]

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
        """Members who completed a weekly check-in, per week (a member counts once a week).
        Counted from the stored weeks along the index of weeks
        (`ix_checkin_results_checkin_id_week`, read alone for the whole program): a distinct
        count of members within each week, which sorts each week's few thousand members apart
        instead of hashing every (week, member) pair of the year at once (a fifth of the time
        for a year of 10,000 members)."""
        result = CheckinResult
        statement = (
            select(result.week, func.count(distinct(result.member_id)))
            .where(*self._completed(WEEKLY_CHECKIN, scope))
            .group_by(result.week)
            .order_by(result.week)
        )
        return [WeekCount(int(week), int(count)) for week, count in await self._rows(statement)]

    async def nudges_per_week(self, scope: Scope, kinds: tuple[str, ...]) -> list[NudgeCount]:
        """Proactive lines of the counted nudge kinds (`COUNTED_NUDGES`: `checkin_invitation`,
        `reminder`) the bot wrote to the outbox, per week and kind: the members who got one,
        and the nudges (a nudge cut into several parts for its channel counts once: its parts
        share their member and moment). Failed sends are left out. In a group: lines to
        members who belonged to it at the time. A line's week is on the calendar of the group
        its member belonged to when it was written (UTC for a member in none).

        Each kind is counted from partial indexes of its own lines, whose condition the query
        repeats word for word so that the database sees the index serves it: the lines' JSON
        payloads are never read. For the whole program, the week stored with each line
        (`messages.week`) along `ix_messages_invitations_weeks` (`..._reminders_weeks`), in
        index order with nothing to sort; for a group, its members' lines by member and moment
        (`ix_messages_invitations`), each matched to the membership of its time."""
        found: list[NudgeCount] = []
        for kind in kinds:
            if kind not in COUNTED_NUDGES:
                raise ValueError(f"no index counts {kind!r} nudges")
            found += await self._nudges_of(scope, kind)
        return sorted(found, key=lambda count: (count.week, count.kind))

    async def _nudges_of(self, scope: Scope, kind: str) -> list[NudgeCount]:
        nudge = NUDGE_SQLITE if self._dialect == "sqlite" else NUDGE_POSTGRESQL
        where: list[ColumnElement[bool]] = [
            literal_column(nudge_lines(kind, nudge), Boolean).self_group(),
            Message.member_id.is_not(None),
            Message.status.not_in(("failed", "undelivered")),
            Message.created_at <= scope.until,
        ]
        if scope.since is not None:
            where.append(Message.created_at >= scope.since)
        if scope.group_id is None:
            # the whole program: along the index of weeks (`ix_messages_invitations_weeks`,
            # ...), each line's week stored with it: the distinct moments first, in index order
            # (the parts of one nudge are neighbours there), then per week the nudges and a
            # distinct count of their members (a sort of each week's members, never one per
            # (week, member) pair)
            moments = (
                select(Message.week, Message.member_id, Message.created_at)
                .where(*where)
                .distinct()
                .subquery("moments")
            )
            statement = (
                select(moments.c.week, func.count(distinct(moments.c.member_id)), func.count())
                .group_by(moments.c.week)
                .order_by(moments.c.week)
            )
            return [
                NudgeCount(int(w), kind, int(members), int(count))
                for w, members, count in await self._rows(statement)
            ]
        # a group: its members' lines while they belonged to it. The parts of one nudge share
        # their member and moment: one row each, straight from the index's order, before
        # anything is joined to them
        nudges = (
            select(Message.member_id, Message.created_at)
            .where(*where)
            .distinct()
            .subquery("nudges")
        )
        # memberships of a member never overlap (a move ends one where the next begins), so
        # each nudge meets at most one
        belonged: list[ColumnElement[bool]] = [
            Membership.member_id == nudges.c.member_id,
            Membership.joined_at <= nudges.c.created_at,
            or_(Membership.left_at.is_(None), Membership.left_at > nudges.c.created_at),
        ]
        belonged.append(Membership.group_id == scope.group_id)
        weeks = (
            select(
                nudges.c.member_id,
                self._week(nudges.c.created_at, Group.timezone).label("week"),
            )
            .select_from(nudges)
            .join(Membership, and_(*belonged))
            .join(Group, Group.id == Membership.group_id)
            .subquery("weeks")
        )
        statement = (
            select(weeks.c.week, func.count(distinct(weeks.c.member_id)), func.count())
            .group_by(weeks.c.week)
            .order_by(weeks.c.week)
        )
        return [
            NudgeCount(int(w), kind, int(members), int(count))
            for w, members, count in await self._rows(statement)
        ]

    def _help_where(self, scope: Scope) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [HelpRecord.created_at <= scope.until]
        if scope.group_id is not None:
            where.append(HelpRecord.group_id == scope.group_id)
        if scope.since is not None:
            where.append(HelpRecord.created_at >= scope.since)
        return where

    async def help_per_week(self, scope: Scope) -> list[HelpCount]:
        """Help records per week and kind, with who reported them."""
        week = self._week(HelpRecord.created_at, Group.timezone)
        by_giver = func.sum(cast(HelpRecord.reported_by_id == HelpRecord.giver_id, Integer))
        by_receiver = func.sum(cast(HelpRecord.reported_by_id == HelpRecord.receiver_id, Integer))
        statement = (
            select(week, HelpRecord.kind, func.count(), by_giver, by_receiver)
            .select_from(HelpRecord)
            .outerjoin(Group, Group.id == HelpRecord.group_id)
            .where(*self._help_where(scope))
            .group_by(week, HelpRecord.kind)
            .order_by(week, HelpRecord.kind)
        )
        return [
            HelpCount(int(w), kind, int(n), int(g or 0), int(r or 0))
            for w, kind, n, g, r in await self._rows(statement)
        ]

    async def reciprocity(self, scope: Scope) -> Reciprocity:
        """Members who gave help, who received it, both, and either: one pass over the
        records' two sides, one row per member."""
        where = self._help_where(scope)
        sides = union_all(
            select(
                HelpRecord.giver_id.label("member_id"),
                literal_column("1").label("gave"),
                literal_column("0").label("received"),
            ).where(*where),
            select(
                HelpRecord.receiver_id.label("member_id"),
                literal_column("0").label("gave"),
                literal_column("1").label("received"),
            ).where(*where),
        ).subquery("sides")
        members = (
            select(
                func.max(sides.c.gave).label("gave"), func.max(sides.c.received).label("received")
            )
            .group_by(sides.c.member_id)
            .subquery("members")
        )
        gave, received = members.c.gave, members.c.received
        row = (
            await self._core(
                select(
                    func.coalesce(func.sum(gave), 0),
                    func.coalesce(func.sum(received), 0),
                    func.coalesce(func.sum(gave * received), 0),
                    func.count(),
                )
            )
        ).one()
        return Reciprocity(*(int(value) for value in row))

    async def help_edges(self, scope: Scope) -> list[HelpEdge]:
        """Who helped whom, per group, with the number of records and their kinds, ordered by
        group, giver and receiver."""
        # count first, over ids only, one row per pair with its kinds; then name the pairs
        where = self._help_where(scope)
        pair = (HelpRecord.group_id, HelpRecord.giver_id, HelpRecord.receiver_id)
        kinds = (
            select(*pair, HelpRecord.kind, func.count().label("records"))
            .where(*where)
            .group_by(*pair, HelpRecord.kind)
            .subquery("kinds")
        )
        # the kinds as one string, split here (kinds are a check-in's choice values: never a
        # control character); decoding an array per row would cost more than the query
        listed: ColumnElement[str]
        in_order = self._dialect == "postgresql"
        if in_order:
            # in order (the separator takes the ORDER BY: `string_agg(kind, sep ORDER BY kind)`)
            listed = func.string_agg(
                kinds.c.kind,
                aggregate_order_by(literal_column("E'\\x1f'"), kinds.c.kind),
                type_=String,
            )
        else:
            # in no promised order: sorted here
            listed = func.group_concat(kinds.c.kind, literal_column("char(31)"), type_=String)
        counted = (
            select(
                kinds.c.group_id,
                kinds.c.giver_id,
                kinds.c.receiver_id,
                func.sum(kinds.c.records).label("records"),
                listed.label("kinds"),
            )
            .group_by(kinds.c.group_id, kinds.c.giver_id, kinds.c.receiver_id)
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
                counted.c.records,
                counted.c.kinds,
            )
            .join(giver, giver.id == counted.c.giver_id)
            .join(receiver, receiver.id == counted.c.receiver_id)
            .outerjoin(Group, Group.id == counted.c.group_id)
            .order_by(counted.c.group_id, counted.c.giver_id, counted.c.receiver_id)
        )
        return [
            HelpEdge(
                group_name,
                giver_id,
                giver_name,
                receiver_id,
                receiver_name,
                int(records),
                _kinds(listed, in_order),
            )
            for (
                _,
                group_name,
                giver_id,
                giver_name,
                receiver_id,
                receiver_name,
                records,
                listed,
            ) in await self._rows(statement)
        ]


def _kinds(listed: str, in_order: bool) -> tuple[str, ...]:
    """The kinds of help of one pair from `help_edges`' list of them, sorted."""
    if KINDS_SEPARATOR not in listed:
        return (listed,)
    kinds = listed.split(KINDS_SEPARATOR)
    return tuple(kinds if in_order else sorted(kinds))


def _from_both_ends(
    people: Subquery | CTE, completed: list[ColumnElement[bool]], fetch: int
) -> CompoundSelect:
    """For each of `people` (a `member_id` column), their first `fetch` and last `fetch`
    completed check-ins (`completed`), each walked along the (member, check-in, end) index by a
    lateral join on PostgreSQL; `from_start` says which end a row came from."""
    result = CheckinResult
    walks = []
    for from_start in (True, False):
        ordering = (
            (result.ended_at, result.session_id)
            if from_start
            else (result.ended_at.desc(), result.session_id.desc())
        )
        side = (
            select(result.session_id, result.ended_at, result.week, result.amounts)
            .where(result.member_id == people.c.member_id, *completed)
            .order_by(*ordering)
            .limit(fetch)
            .lateral("first" if from_start else "last")
        )
        walks.append(
            select(
                people.c.member_id,
                side.c.session_id,
                side.c.ended_at,
                side.c.week,
                side.c.amounts,
                literal_column("true" if from_start else "false").label("from_start"),
            ).select_from(people.join(side, literal_column("true")))
        )
    return walks[0].union_all(walks[1])
