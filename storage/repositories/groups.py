"""Groups: creation with validated settings and a fresh join code, and lookups."""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from babel.numbers import list_currencies
from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidGroup, StorageError
from storage.join_codes import canonical_join_code, new_join_code
from storage.models import Group
from storage.records import GroupRecord, MemberRecord
from storage.repositories.checkin_results import rewrite_weeks
from storage.repositories.mapping import group_record, member_record
from storage.repositories.messages import rewrite_nudge_weeks
from storage.repositories.tables import GROUPS, MEMBERS, MEMBERSHIPS

MAX_NAME_LENGTH = 120
MAX_LANGUAGE_LENGTH = 35
JOIN_CODE_ATTEMPTS = 20


def group_name_key(name: str) -> str:
    """The form in which group names must be unique: spaces collapsed, case folded."""
    return " ".join(name.split()).casefold()


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


_COUNTED = MEMBERSHIPS.alias("counted")
_MEMBER_COUNT = (
    select(func.count(_COUNTED.c.id))
    .where(_COUNTED.c.group_id == GROUPS.c.id, _COUNTED.c.left_at.is_(None))
    .scalar_subquery()
    .label("member_count")
)

WITH_MEMBER_COUNT = select(GROUPS, _MEMBER_COUNT)
"""A group's columns and its current member count: add the filter, read each row with
`counted_group_record`."""

_BY_ID = WITH_MEMBER_COUNT.where(GROUPS.c.id == bindparam("group_id"))
_BY_CODE = WITH_MEMBER_COUNT.where(GROUPS.c.join_code == bindparam("join_code"))
_BY_NAME_KEY = WITH_MEMBER_COUNT.where(GROUPS.c.name_key == bindparam("name_key"))
_ALL = WITH_MEMBER_COUNT.order_by(GROUPS.c.name_key, GROUPS.c.id)
_CURRENT_MEMBERS = (
    select(MEMBERS)
    .join(MEMBERSHIPS, MEMBERSHIPS.c.member_id == MEMBERS.c.id)
    .where(MEMBERSHIPS.c.group_id == bindparam("group_id"), MEMBERSHIPS.c.left_at.is_(None))
    .order_by(MEMBERSHIPS.c.joined_at, MEMBERS.c.id)
)
_MEMBERS_OF_GROUPS = (
    select(MEMBERS, MEMBERSHIPS.c.group_id.label("of_group_id"))
    .join(MEMBERSHIPS, MEMBERSHIPS.c.member_id == MEMBERS.c.id)
    .where(
        MEMBERSHIPS.c.group_id.in_(bindparam("group_ids", expanding=True)),
        MEMBERSHIPS.c.left_at.is_(None),
    )
    .order_by(MEMBERSHIPS.c.joined_at, MEMBERS.c.id)
)


def counted_group_record(row: Row[Any]) -> GroupRecord:
    """The record of a row of `WITH_MEMBER_COUNT`."""
    return group_record(row, row.member_count)


class GroupRepository:
    """Peer groups. Names are unique regardless of case; join codes are unique, upper case and
    drawn from `storage.join_codes.ALPHABET`."""

    def __init__(
        self, session: AsyncSession, *, new_code: Callable[[], str] = new_join_code
    ) -> None:
        self._session = session
        self._new_code = new_code

    async def create(
        self, name: str, timezone: str, language: str, currency: str, *, at: datetime
    ) -> GroupRecord:
        """Create a group with a new join code.

        `name` is stored with its spaces collapsed, `currency` upper-cased. Raises `InvalidGroup`
        when the name is empty, longer than 120 characters or already used (in any case), the
        timezone is not an IANA name known to zoneinfo, the language is empty or the currency is
        not an ISO 4217 code Babel knows. A join code already in use is never reused: another is
        drawn, up to 20 times.
        """
        clean_name = " ".join(name.split())
        clean_language = language.strip()
        clean_currency = currency.strip().upper()
        _validate(clean_name, timezone, clean_language, clean_currency)
        key = group_name_key(clean_name)
        if await self._name_taken(key):
            raise InvalidGroup(f'a group named "{clean_name}" already exists')
        for _ in range(JOIN_CODE_ATTEMPTS):
            code = self._new_code()
            if await self._code_taken(code):
                continue
            row = Group(
                name=clean_name,
                name_key=key,
                join_code=code,
                timezone=timezone,
                language=clean_language,
                currency=clean_currency,
                created_at=at,
            )
            try:
                async with self._session.begin_nested():
                    self._session.add(row)
                    await self._session.flush()
            except IntegrityError:
                if await self._name_taken(key):
                    raise InvalidGroup(f'a group named "{clean_name}" already exists') from None
                continue
            return group_record(row, member_count=0)
        raise StorageError(f"no free join code found in {JOIN_CODE_ATTEMPTS} attempts")

    async def set_schedule(
        self,
        group_id: int,
        *,
        timezone: str,
        checkin_schedule: str,
        highlight_schedule: str,
        quiet_start: str,
        quiet_end: str,
    ) -> GroupRecord:
        """Change the group's time zone, schedules and quiet hours (validated by the caller);
        the clock recomputes the next moments from them. A new time zone also moves the
        group's completed check-ins (`checkin_results.week`) and its members' counted nudges
        while they belonged to it (`messages.week`) to the weeks of its calendar, in the same
        transaction, so the evidence report never mixes two calendars."""
        if timezone not in _timezones():
            raise InvalidGroup(f"unknown time zone '{timezone}'")
        row = await self._session.get(Group, group_id)
        if row is None:
            raise InvalidGroup(f"no group #{group_id}")
        if row.timezone != timezone:
            dialect = self._session.get_bind().dialect.name
            await self._session.execute(rewrite_weeks(group_id, timezone, dialect))
            await self._session.execute(rewrite_nudge_weeks(group_id, timezone, dialect))
        row.timezone = timezone
        row.checkin_schedule = checkin_schedule
        row.highlight_schedule = highlight_schedule
        row.quiet_start = quiet_start
        row.quiet_end = quiet_end
        row.next_checkin_at = None
        row.next_highlight_at = None
        await self._session.flush()
        record = await self.get(group_id)
        assert record is not None
        return record

    async def list(self) -> builtins.list[GroupRecord]:
        """Every group, by name, with its current member count."""
        return [counted_group_record(row) for row in await self._session.execute(_ALL)]

    async def page(
        self, offset: int, limit: int, group_ids: frozenset[int] | None = None
    ) -> builtins.list[GroupRecord]:
        """`limit` groups by name from `offset`, among `group_ids` (None: every group)."""
        statement = _ALL if group_ids is None else _ALL.where(GROUPS.c.id.in_(sorted(group_ids)))
        rows = await self._session.execute(statement.offset(offset).limit(limit))
        return [counted_group_record(row) for row in rows]

    async def get(self, group_id: int) -> GroupRecord | None:
        return await self._one(_BY_ID, {"group_id": group_id})

    async def by_code(self, code: str) -> GroupRecord | None:
        """The group whose join code is `code`, in any case, ignoring spaces and dashes."""
        return await self._one(_BY_CODE, {"join_code": canonical_join_code(code)})

    async def by_name(self, name: str) -> GroupRecord | None:
        """The group named `name`, in any case."""
        return await self._one(_BY_NAME_KEY, {"name_key": group_name_key(name)})

    async def find(self, reference: str) -> GroupRecord | None:
        """The group `reference` names: its join code (as `by_code` reads it), else its name."""
        return await self.by_code(reference) or await self.by_name(reference)

    async def members(
        self, group_id: int, *, offset: int = 0, limit: int | None = None
    ) -> builtins.list[MemberRecord]:
        """The group's current members, in the order they joined (`limit` of them from
        `offset`, when given)."""
        statement = (
            _CURRENT_MEMBERS if limit is None else _CURRENT_MEMBERS.offset(offset).limit(limit)
        )
        rows = await self._session.execute(statement, {"group_id": group_id})
        return [member_record(row) for row in rows]

    async def members_of(
        self, group_ids: builtins.list[int]
    ) -> dict[int, builtins.list[MemberRecord]]:
        """`members` of several groups in one query, by group id (a group with no current
        member is left out)."""
        if not group_ids:
            return {}
        rows = await self._session.execute(_MEMBERS_OF_GROUPS, {"group_ids": group_ids})
        members: dict[int, builtins.list[MemberRecord]] = {}
        for row in rows:
            members.setdefault(row.of_group_id, []).append(member_record(row))
        return members

    async def _one(self, statement: Select[Any], params: dict[str, Any]) -> GroupRecord | None:
        row = (await self._session.execute(statement, params)).one_or_none()
        return None if row is None else counted_group_record(row)

    async def _name_taken(self, key: str) -> bool:
        found = await self._session.scalar(select(Group.id).where(Group.name_key == key))
        return found is not None

    async def _code_taken(self, code: str) -> bool:
        found = await self._session.scalar(select(Group.id).where(Group.join_code == code))
        return found is not None


def _validate(name: str, timezone: str, language: str, currency: str) -> None:
    if not name:
        raise InvalidGroup("a group needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidGroup(f"a group name can have at most {MAX_NAME_LENGTH} characters")
    if timezone not in _timezones():
        close = closest_timezone(timezone)
        hint = f"did you mean {close}?" if close else "use an IANA name such as Africa/Monrovia"
        raise InvalidGroup(f'unknown timezone "{timezone}": {hint}')
    if not language:
        raise InvalidGroup("a group needs a language, such as en or es")
    if len(language) > MAX_LANGUAGE_LENGTH:
        raise InvalidGroup(f'"{language}" is not a language code')
    if len(currency) != 3 or not currency.isalpha() or currency not in _currencies():
        raise InvalidGroup(
            f'unknown currency "{currency}": use an ISO 4217 code such as LRD, UGX or USD'
        )


def closest_timezone(name: str) -> str | None:
    """The IANA zone an operator most likely meant: "nairobi" is Africa/Nairobi, "manila"
    Asia/Manila, "america/bogota" America/Bogota, "Africa/Nairbi" Africa/Nairobi."""
    key = name.strip().casefold().replace(" ", "_")
    if not key:
        return None
    zones = sorted(_timezones())
    by_key = {zone.casefold(): zone for zone in zones}
    if key in by_key:
        return by_key[key]
    by_city = {zone.rsplit("/", 1)[-1].casefold(): zone for zone in zones if "/" in zone}
    if key in by_city:
        return by_city[key]
    close = difflib.get_close_matches(key, [*by_key, *by_city], n=1, cutoff=0.8)
    if not close:
        return None
    return by_key.get(close[0]) or by_city[close[0]]
