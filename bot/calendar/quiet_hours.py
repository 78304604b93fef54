"""Quiet hours: when nothing proactive may reach a member (by default 21:00 to 07:00, local).

Times are the group's (or the member's own) wall-clock times in its time zone, so daylight-
saving changes move them with the clocks. A window that crosses midnight (21:00–07:00) and one
that does not (13:00–14:00) both work; equal start and end mean no quiet hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_clock(text: str) -> time:
    """ "21:00" → time(21, 0); ValueError with a clear message otherwise."""
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError as error:
        raise ValueError(f"'{text}' is not a time of day like 21:00") from error


def is_quiet(local: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(now: datetime, zone: str, start: str, end: str) -> datetime:
    """`now` if it is outside quiet hours in `zone`, else the (aware, UTC) moment they end."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    quiet_start, quiet_end = parse_clock(start), parse_clock(end)
    if not is_quiet(local.time(), quiet_start, quiet_end):
        return now
    day = local.date() if local.time() < quiet_end else local.date() + timedelta(days=1)
    wake = datetime.combine(day, quiet_end, tzinfo=tz)
    return wake.astimezone(UTC)
