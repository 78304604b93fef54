"""The weekly highlight's numbers, the stories it may quote, and the record of what was sent.

Every number is an SQL aggregate over the week's rows; nothing is loaded row by row. Amounts
stay exact: PostgreSQL sums `NUMERIC`; SQLite, which keeps `ExactDecimal` as text, sums the
whole and the fractional digits as two integers (a text-to-number `SUM` would go through a
float).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.column_types import DECIMAL_SCALE
from storage.models import (
    Answer,
    CheckinSession,
    Group,
    HelpRecord,
    Highlight,
    Member,
    Membership,
    Story,
)

WEEKLY_CHECKIN = "weekly_checkin"
SALES_STEP = "sales"
SAVED_STEP = "saved"


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    """The sum of one step's answers in one currency, and how many members it adds up."""

    step: str
    currency: str
    total: Decimal
    members: int


@dataclass(frozen=True, slots=True)
class WeekStats:
    """A group's week, [start, end) in UTC.

    `checked_in`: members who completed a weekly check-in that ended in the week while they
    belonged to the group. `members`: members whose membership overlapped the week (so
    `checked_in <= members`). `sales`/`saved`: the sums of those check-ins' `sales` and `saved`
    answers in the group's currency (skipped answers, and amounts in another currency, left
    out). A member who completed the check-in twice in the week counts once, with the later
    check-in; a step answered twice in a session counts with the later answer.
    `help_given`: help records of the group created in the week. `sales_members` and
    `saved_members`: how many members the two sums add up (a figure of fewer than 3 is one
    member's number in disguise, and is not shown to the group); `other_currencies`: the
    same sums in every other currency, which are never added to the group's.
    """

    checked_in: int
    members: int
    sales: Decimal
    saved: Decimal
    help_given: int
    sales_members: int = 0
    saved_members: int = 0
    other_currencies: tuple[CurrencyTotal, ...] = ()


@dataclass(frozen=True, slots=True)
class FeaturedStory:
    """A story the highlight may quote: `member_name` is None for a staff-written story (or a
    member who never gave a name)."""

    id: int
    text: str
    member_id: int | None
    member_name: str | None


@dataclass(frozen=True, slots=True)
class HighlightRecord:
    id: int
    group_id: int
    week: str
    text: str
    created_at: datetime


class HighlightRepository:
    """Highlights: one per group and ISO week (`"2026-W48"`), written once."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def week_stats(
        self,
        group_id: int,
        week_start_utc: datetime,
        week_end_utc: datetime,
        *,
        checkin_id: str = WEEKLY_CHECKIN,
        sales_step: str = SALES_STEP,
        saved_step: str = SAVED_STEP,
    ) -> WeekStats:
        """The group's numbers for the week [`week_start_utc`, `week_end_utc`) (see
        `WeekStats`). Call it again with the previous week's bounds for the trend."""
        start, end = week_start_utc, week_end_utc
        # A member's memberships of one group never overlap, so this join adds no duplicates;
        # it lets the database start from the group's memberships (indexed by group).
        in_group_when_done = and_(
            Membership.member_id == CheckinSession.member_id,
            Membership.group_id == group_id,
            Membership.joined_at <= CheckinSession.ended_at,
            or_(Membership.left_at.is_(None), Membership.left_at > CheckinSession.ended_at),
        )
        later = aliased(CheckinSession)
        superseded = exists().where(
            later.member_id == CheckinSession.member_id,
            later.checkin_id == checkin_id,
            later.status == "completed",
            later.ended_at < end,
            or_(
                later.ended_at > CheckinSession.ended_at,
                and_(later.ended_at == CheckinSession.ended_at, later.id > CheckinSession.id),
            ),
        )
        checkins = (
            select(CheckinSession.id, CheckinSession.member_id)
            .join(Membership, in_group_when_done)
            .where(
                CheckinSession.checkin_id == checkin_id,
                CheckinSession.status == "completed",
                CheckinSession.ended_at >= start,
                CheckinSession.ended_at < end,
                ~superseded,
            )
            .subquery("checkins")
        )
        checked_in = select(func.count(func.distinct(checkins.c.member_id))).scalar_subquery()
        members = (
            select(func.count(func.distinct(Membership.member_id)))
            .where(
                Membership.group_id == group_id,
                Membership.joined_at < end,
                or_(Membership.left_at.is_(None), Membership.left_at > start),
            )
            .scalar_subquery()
        )
        help_given = (
            select(func.count(HelpRecord.id))
            .where(
                HelpRecord.group_id == group_id,
                HelpRecord.created_at >= start,
                HelpRecord.created_at < end,
            )
            .scalar_subquery()
        )
        counts = (await self._session.execute(select(checked_in, members, help_given))).one()

        steps = (sales_step, saved_step)
        latest = (
            select(func.max(Answer.id))
            .where(Answer.session_id.in_(select(checkins.c.id)), Answer.step_id.in_(steps))
            .group_by(Answer.session_id, Answer.step_id)
        )
        group_currency = await self._session.scalar(
            select(Group.currency).where(Group.id == group_id)
        )
        sums = self._decimal_sums()
        statement = (
            select(
                Answer.step_id, Answer.currency, func.count(func.distinct(Answer.member_id)), *sums
            )
            .where(
                Answer.id.in_(latest),
                Answer.skipped.is_(False),
                Answer.value_number.is_not(None),
                Answer.currency.is_not(None),
            )
            .group_by(Answer.step_id, Answer.currency)
        )
        totals = [
            CurrencyTotal(step, currency, self._decimal_total(values), int(members))
            for step, currency, members, *values in await self._session.execute(statement)
        ]
        own = {total.step: total for total in totals if total.currency == group_currency}
        others = sorted(
            (total for total in totals if total.currency != group_currency),
            key=lambda total: (total.currency, steps.index(total.step)),
        )
        nothing = CurrencyTotal("", group_currency or "", Decimal(0), 0)
        return WeekStats(
            checked_in=int(counts[0] or 0),
            members=int(counts[1] or 0),
            sales=own.get(sales_step, nothing).total,
            saved=own.get(saved_step, nothing).total,
            help_given=int(counts[2] or 0),
            sales_members=own.get(sales_step, nothing).members,
            saved_members=own.get(saved_step, nothing).members,
            other_currencies=tuple(others),
        )

    async def featured_stories(self, group_id: int, limit: int = 2) -> list[FeaturedStory]:
        """The group's approved, not yet published stories, oldest approval first (a story
        never moderated counts from its creation), with the member's name when a member's."""
        approved_at = func.coalesce(Story.moderated_at, Story.created_at)
        statement = (
            select(Story.id, Story.text, Story.member_id, Member.name)
            .outerjoin(Member, Member.id == Story.member_id)
            .where(
                Story.group_id == group_id,
                Story.status == "approved",
                Story.published_at.is_(None),
            )
            .order_by(approved_at, Story.created_at, Story.id)
            .limit(limit)
        )
        rows = await self._session.execute(statement)
        return [FeaturedStory(row[0], row[1], row[2], row[3]) for row in rows]

    async def record(self, group_id: int, week: str, text: str, at: datetime) -> bool:
        """Store the highlight of `week` for the group; False (and nothing written) when that
        group and week already have one, including one a concurrent transaction just wrote."""
        insert = (
            postgresql.insert
            if self._session.get_bind().dialect.name == "postgresql"
            else sqlite.insert
        )
        statement = (
            insert(Highlight)
            .values(group_id=group_id, week=week, text=text, created_at=at)
            .on_conflict_do_nothing(index_elements=["group_id", "week"])
            .returning(Highlight.id)
        )
        return (await self._session.execute(statement)).scalar_one_or_none() is not None

    async def get(self, group_id: int, week: str) -> HighlightRecord | None:
        row = await self._session.scalar(
            select(Highlight).where(Highlight.group_id == group_id, Highlight.week == week)
        )
        if row is None:
            return None
        return HighlightRecord(row.id, row.group_id, row.week, row.text, row.created_at)

    def _decimal_sums(self) -> list[ColumnElement[Any]]:
        if self._session.get_bind().dialect.name != "sqlite":
            return [func.sum(Answer.value_number)]
        # Stored as text with exactly DECIMAL_SCALE decimals ("-3.500000"): sum the whole part
        # and the (signed) fractional digits separately, both as integers.
        raw = type_coerce(Answer.value_number, String)
        dot = func.instr(raw, ".")
        whole = cast(func.substr(raw, 1, dot - 1), Integer)
        digits = cast(func.substr(raw, dot + 1), Integer)
        fraction = case((raw.like("-%"), -digits), else_=digits)
        return [func.sum(whole), func.sum(fraction)]

    def _decimal_total(self, values: Sequence[Any]) -> Decimal:
        if len(values) == 1:
            return Decimal(values[0] or 0)
        whole, fraction = values
        return Decimal(whole or 0) + Decimal(fraction or 0).scaleb(-DECIMAL_SCALE)
