"""Weeks in a group's time zone, counted in SQL on both backends.

A week runs Monday to Sunday on the group's own calendar: a member in Manila who answers at
07:00 on a Monday (23:00 on Sunday in UTC) answered in that Monday's week. A week is a number,
the weeks since Monday 5 January 1970 (`week_of`); the report turns it into an ISO label.

PostgreSQL converts with its own time-zone database (`timezone(zone, moment)`). SQLite has
none, so every SQLite connection gets `mutuality_week(moment, zone)`, the same conversion in
Python's `zoneinfo` (`storage.engines` registers it). Both read the IANA zones; a moment with
no group (zone NULL) is counted in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, Integer, cast, func, literal_column

EPOCH_MONDAY = date(1970, 1, 5)
SQLITE_FUNCTION = "mutuality_week"


def week_of(day: date) -> int:
    """The week number of a calendar day."""
    return (day - EPOCH_MONDAY).days // 7


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def sqlite_week(moment: str | None, zone: str | None) -> int | None:
    """`mutuality_week` on SQLite: the week of a stored UTC timestamp (`YYYY-MM-DD HH:MM:SS…`,
    as `UTCDateTime` writes it) on the calendar of `zone` (None: UTC)."""
    if moment is None:
        return None
    at = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    if zone is not None:
        at = at.astimezone(_zone(zone))
    return week_of(at.date())


def local_week(moment: Any, zone: Any, dialect: str) -> ColumnElement[int]:
    """The week of a timestamp column on the calendar of a time-zone column (NULL: UTC).
    Written with literals only, so PostgreSQL sees the same expression wherever a query groups
    or orders by it (bound parameters would make each use a different one)."""
    utc: ColumnElement[str] = literal_column("'UTC'")
    if dialect == "sqlite":
        return func.mutuality_week(moment, zone, type_=Integer)
    day = cast(func.timezone(func.coalesce(zone, utc), moment), Date)
    days = day.op("-", return_type=Integer)(literal_column("DATE '1970-01-05'"))
    return days.self_group().op("/", return_type=Integer)(literal_column("7"))
