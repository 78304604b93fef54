"""Exports: answers and help records flattened into rows of plain values, one query each."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Address, Answer, Group, HelpRecord, Member
from storage.records import AnswerRow, HelpRow


def render_decimal(value: Decimal, min_places: int = 0) -> str:
    """`value` in plain notation, without trailing zeros beyond `min_places` decimals and
    without losing a single significant digit (`1500.500000` with 2 places is `1500.50`)."""
    exponent = value.normalize().as_tuple().exponent
    significant = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    places = max(significant, min_places)
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


def render_json(value: Any) -> str:
    """Compact, key-sorted JSON with non-ASCII text kept readable."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def render_value(
    *,
    number: Decimal | None,
    currency: str | None,
    value_date: date | None,
    choice: str | None,
    json_value: Any | None,
    text: str | None,
    skipped: bool,
) -> str:
    """The one value an answer holds, as text; "" for a skipped answer. Text wins over JSON:
    a member or group answer keeps its id in JSON and its name, for people, as text."""
    if skipped:
        return ""
    if number is not None:
        return render_decimal(number, get_currency_precision(currency) if currency else 0)
    if value_date is not None:
        return value_date.isoformat()
    if choice is not None:
        return choice
    if text is not None:
        return text
    if json_value is not None:
        return render_json(json_value)
    return ""


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _first_addresses() -> Any:
    return (
        select(Address.member_id, func.min(Address.id).label("address_id"))
        .group_by(Address.member_id)
        .subquery("first_address")
    )


class ExportRepository:
    """Read-only views for coordinators' exports; each method is a single joined query."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def answer_rows(self, group_id: int | None = None) -> list[AnswerRow]:
        """Every answer (only those given in `group_id` when it is set), oldest first (by
        `created_at`, then id), with the member's name and first address and the group's
        name."""
        first = _first_addresses()
        statement = (
            select(
                Answer.id,
                Answer.member_id,
                Member.name,
                Address.channel,
                Address.value,
                Answer.group_id,
                Group.name,
                Answer.checkin_id,
                Answer.step_id,
                Answer.answer_type,
                Answer.value_number,
                Answer.currency,
                Answer.value_date,
                Answer.value_choice,
                Answer.value_json,
                Answer.value_text,
                Answer.skipped,
                Answer.raw_text,
                Answer.created_at,
            )
            .join(Member, Member.id == Answer.member_id)
            .outerjoin(first, first.c.member_id == Answer.member_id)
            .outerjoin(Address, Address.id == first.c.address_id)
            .outerjoin(Group, Group.id == Answer.group_id)
            .order_by(Answer.created_at, Answer.id)
        )
        if group_id is not None:
            statement = statement.where(Answer.group_id == group_id)
        rows = []
        for (
            answer_id,
            member_id,
            member_name,
            channel,
            address_value,
            answer_group_id,
            group_name,
            checkin_id,
            step_id,
            answer_type,
            number,
            currency,
            value_date,
            choice,
            json_value,
            text,
            skipped,
            raw_text,
            created_at,
        ) in await self._session.execute(statement):
            rows.append(
                AnswerRow(
                    answer_id=answer_id,
                    member_id=member_id,
                    member_name=member_name,
                    member_address=None if channel is None else f"{channel}:{address_value}",
                    group_id=answer_group_id,
                    group_name=group_name,
                    checkin_id=checkin_id,
                    step_id=step_id,
                    answer_type=answer_type,
                    value=render_value(
                        number=number,
                        currency=currency,
                        value_date=value_date,
                        choice=choice,
                        json_value=json_value,
                        text=text,
                        skipped=skipped,
                    ),
                    currency=currency,
                    skipped=skipped,
                    raw_text=raw_text,
                    created_at=iso_utc(created_at),
                )
            )
        return rows

    async def help_rows(self, group_id: int | None = None) -> list[HelpRow]:
        """Every help record (only those in `group_id` when it is set), oldest first, with the
        giver's, receiver's and group's names."""
        giver = aliased(Member, name="giver")
        receiver = aliased(Member, name="receiver")
        statement = (
            select(
                HelpRecord.id,
                HelpRecord.giver_id,
                giver.name,
                HelpRecord.receiver_id,
                receiver.name,
                HelpRecord.group_id,
                Group.name,
                HelpRecord.kind,
                HelpRecord.note,
                HelpRecord.created_at,
            )
            .join(giver, giver.id == HelpRecord.giver_id)
            .join(receiver, receiver.id == HelpRecord.receiver_id)
            .outerjoin(Group, Group.id == HelpRecord.group_id)
            .order_by(HelpRecord.created_at, HelpRecord.id)
        )
        if group_id is not None:
            statement = statement.where(HelpRecord.group_id == group_id)
        return [
            HelpRow(
                help_id=help_id,
                giver_id=giver_id,
                giver_name=giver_name,
                receiver_id=receiver_id,
                receiver_name=receiver_name,
                group_id=help_group_id,
                group_name=group_name,
                kind=kind,
                note=note,
                created_at=iso_utc(created_at),
            )
            for (
                help_id,
                giver_id,
                giver_name,
                receiver_id,
                receiver_name,
                help_group_id,
                group_name,
                kind,
                note,
                created_at,
            ) in await self._session.execute(statement)
        ]


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """One answer as stored, column by column, for exports that write each type their own way
    (the Flow Results package, the research export)."""

    id: int
    session_id: int
    member_id: int
    group_id: int | None
    checkin_id: str
    step_id: str
    answer_type: str
    number: Decimal | None
    currency: str | None
    text: str | None
    choice: str | None
    value_date: date | None
    json_value: Any | None
    skipped: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredHelp:
    giver_id: int
    receiver_id: int
    group_id: int | None
    kind: str
    note: str | None
    created_at: datetime


_STREAM_BATCH = 2000
"""Rows fetched at a time when streaming: an export of millions of answers holds this many."""


class StreamingExportRepository:
    """Exports too large to hold: rows are streamed from the database in batches, in id order,
    and written as they come."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def answers(
        self, *, checkin_id: str | None = None, group_id: int | None = None
    ) -> AsyncIterator[StoredAnswer]:
        """Every answer (of one check-in, in one group, when given), oldest id first."""
        statement = select(
            Answer.id,
            Answer.session_id,
            Answer.member_id,
            Answer.group_id,
            Answer.checkin_id,
            Answer.step_id,
            Answer.answer_type,
            Answer.value_number,
            Answer.currency,
            Answer.value_text,
            Answer.value_choice,
            Answer.value_date,
            Answer.value_json,
            Answer.skipped,
            Answer.created_at,
        ).order_by(Answer.id)
        if checkin_id is not None:
            statement = statement.where(Answer.checkin_id == checkin_id)
        if group_id is not None:
            statement = statement.where(Answer.group_id == group_id)
        result = await self._session.stream(statement.execution_options(yield_per=_STREAM_BATCH))
        async for row in result:
            yield StoredAnswer(*tuple(row))

    async def help(self, *, group_id: int | None = None) -> AsyncIterator[StoredHelp]:
        """Every help record (in one group, when given), oldest id first."""
        statement = select(
            HelpRecord.giver_id,
            HelpRecord.receiver_id,
            HelpRecord.group_id,
            HelpRecord.kind,
            HelpRecord.note,
            HelpRecord.created_at,
        ).order_by(HelpRecord.id)
        if group_id is not None:
            statement = statement.where(HelpRecord.group_id == group_id)
        result = await self._session.stream(statement.execution_options(yield_per=_STREAM_BATCH))
        async for row in result:
            yield StoredHelp(*row)

    async def checkin_ids(self, group_id: int | None = None) -> list[str]:
        """The check-ins that have answers (in one group, when given)."""
        statement = select(Answer.checkin_id).distinct().order_by(Answer.checkin_id)
        if group_id is not None:
            statement = statement.where(Answer.group_id == group_id)
        return list((await self._session.scalars(statement)).all())

    async def members_per_group(self, group_id: int | None = None) -> dict[int | None, int]:
        """How many members answered in each group (None: answers given outside any)."""
        statement = select(Answer.group_id, func.count(func.distinct(Answer.member_id))).group_by(
            Answer.group_id
        )
        if group_id is not None:
            statement = statement.where(Answer.group_id == group_id)
        return {group: int(count) for group, count in await self._session.execute(statement)}

    async def business_types(self, group_id: int | None = None) -> dict[int, str | None]:
        """The business type of every member with an answer (in one group, when given)."""
        answered = select(Answer.member_id)
        if group_id is not None:
            answered = answered.where(Answer.group_id == group_id)
        statement = select(Member.id, Member.business_type).where(Member.id.in_(answered))
        return {member_id: kind for member_id, kind in await self._session.execute(statement)}
