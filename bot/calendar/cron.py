"""Cron schedules in a group's own time zone (APScheduler's cron trigger): when one fires next,
and whether a check-in schedule stays clear of the group's quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from bot.calendar.quiet_hours import is_quiet, parse_clock


class ScheduleError(ValueError):
    """A schedule or time zone that cannot work, said plainly."""


@lru_cache(maxsize=1024)
def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """A five-field cron expression in a time zone; ScheduleError when either does not exist."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError(f"'{timezone}' is not a time zone (like Africa/Nairobi)") from error
    if len(expression.split()) != 5:
        raise ScheduleError(
            f"'{expression}' is not a cron expression of five fields, like 0 9 * * MON"
        )
    try:
        return CronTrigger.from_crontab(expression, timezone=zone)
    except ValueError as error:
        raise ScheduleError(f"'{expression}' is not a valid schedule: {error}") from error


WEEK = timedelta(days=7)


def check_schedule(
    expression: str,
    timezone: str,
    quiet_start: str,
    quiet_end: str,
    *,
    now: datetime | None = None,
) -> None:
    """A schedule must not fire inside the group's quiet hours: every firing of a whole week
    (a weekly pattern repeats after it) is checked in the group's zone, however many there are
    ("*/5 * * * *" fires 2,016 times)."""
    trigger = cron_trigger(expression, timezone)
    start, end = parse_clock(quiet_start), parse_clock(quiet_end)
    moment = now or datetime.now(UTC)
    until = moment + WEEK
    fire = trigger.get_next_fire_time(None, moment)
    if fire is None:
        raise ScheduleError(f"'{expression}' never fires")
    while fire is not None and fire <= until:
        if is_quiet(fire.time(), start, end):
            raise ScheduleError(
                f"'{expression}' fires on {fire:%a} at {fire:%H:%M}, inside the quiet hours "
                f"{quiet_start}–{quiet_end}"
            )
        fire = trigger.get_next_fire_time(fire, fire + timedelta(minutes=1))


def next_fire(expression: str, timezone: str, after: datetime) -> datetime:
    fire = cron_trigger(expression, timezone).get_next_fire_time(None, after + timedelta(seconds=1))
    if fire is None:
        raise ScheduleError(f"'{expression}' never fires")
    return fire.astimezone(UTC)
