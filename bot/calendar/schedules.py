"""A group's schedules as a whole: its time zone, the cron expressions of its weekly check-in
and highlight, and its quiet hours, changed together and checked together.

`mutuality groups schedule` and the console's group page both change a group's schedule
through `changed_schedule`, so an operator meets the same rules and the same words in either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from bot.calendar.cron import ScheduleError, check_schedule
from bot.calendar.quiet_hours import parse_clock
from storage.records import GroupRecord
from storage.repositories.groups import closest_timezone

ScheduleField = Literal["timezone", "checkin", "highlights", "quiet"]


class ScheduleProblem(ScheduleError):
    """A schedule that cannot work, with the field it is about (for the form or the option
    that has to change)."""

    def __init__(self, field: ScheduleField, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class GroupSchedule:
    timezone: str
    checkin: str
    highlights: str
    quiet_start: str
    quiet_end: str

    @classmethod
    def of(cls, group: GroupRecord) -> GroupSchedule:
        return cls(
            group.timezone,
            group.checkin_schedule,
            group.highlight_schedule,
            group.quiet_start,
            group.quiet_end,
        )


def changed_schedule(
    current: GroupSchedule,
    *,
    timezone: str | None = None,
    checkin: str | None = None,
    highlights: str | None = None,
    quiet_start: str | None = None,
    quiet_end: str | None = None,
    now: datetime | None = None,
) -> GroupSchedule:
    """`current` with the given parts replaced (None keeps a part), once the whole is known to
    work: the time zone exists (else the closest name is suggested), the quiet hours are times
    of day, and neither schedule fires inside them in a whole week of firings (see
    `check_schedule`). Raises `ScheduleProblem` naming the field to change."""
    wanted = replace(
        current,
        **{
            name: " ".join(value.split())
            for name, value in (
                ("timezone", timezone),
                ("checkin", checkin),
                ("highlights", highlights),
                ("quiet_start", quiet_start),
                ("quiet_end", quiet_end),
            )
            if value is not None
        },
    )
    if timezone is not None and closest_timezone(wanted.timezone) != wanted.timezone:
        close = closest_timezone(wanted.timezone)
        hint = f"did you mean {close}?" if close else "use an IANA name such as Africa/Nairobi"
        raise ScheduleProblem("timezone", f"unknown time zone '{wanted.timezone}': {hint}")
    for clock in (wanted.quiet_start, wanted.quiet_end):
        try:
            parse_clock(clock)
        except ValueError as error:
            raise ScheduleProblem("quiet", str(error)) from error
    checks: tuple[tuple[ScheduleField, str], ...] = (
        ("checkin", wanted.checkin),
        ("highlights", wanted.highlights),
    )
    for field, expression in checks:
        try:
            check_schedule(
                expression, wanted.timezone, wanted.quiet_start, wanted.quiet_end, now=now
            )
        except ScheduleError as error:
            raise ScheduleProblem(field, str(error)) from error
    return wanted
