"""Composing a broadcast: when it goes, what it says, and what a dry run tells. The command
line (`mutuality broadcast`) and the console's Broadcasts page both compose through here, so
the rules are the same wherever staff write one.

Each check raises `ValueError` with a message fit for staff; the caller shows it its own way
(the command line as a bad option, the console beside the field).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bot.calendar.quiet_hours import next_allowed
from storage.records import GroupRecord
from storage.repositories.broadcasts import InvalidBroadcast, text_language, validate_texts

AT_FORMAT: Final = "YYYY-MM-DD HH:MM"
PAST_GRACE: Final = timedelta(minutes=1)
"""A time this little in the past (the current minute, typed by hand) means now."""


def send_time(text: str | None, zone: str, now: datetime) -> datetime:
    """When to send, as an aware UTC moment: `now` for no text, else a wall-clock time in
    `zone` (unless it names an offset). `ValueError` for a malformed time or one in the past."""
    if text is None or not text.strip():
        return now
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text}' is not a date and time like {AT_FORMAT}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    moment = moment.astimezone(UTC)
    if moment < now - PAST_GRACE:
        raise ValueError(
            f"{local_time(moment, zone)} is in the past (it is now {local_time(now, zone)})"
        )
    return max(moment, now)


def check_quiet_hours(moment: datetime, group: GroupRecord) -> None:
    """A time chosen inside the group's quiet hours is refused (`ValueError`), naming the first
    moment allowed."""
    allowed = next_allowed(moment, group.timezone, group.quiet_start, group.quiet_end)
    if allowed != moment:
        raise ValueError(
            f"{local_time(moment, group.timezone)} is inside {group.name}'s quiet hours "
            f"({group.quiet_start}-{group.quiet_end}); the first time allowed is "
            f"{local_time(allowed, group.timezone)}"
        )


def check_texts(texts: Mapping[str, str], codes: tuple[str, ...]) -> dict[str, str]:
    """The texts as stored: each in a shipped language (`codes`), none empty or too long."""
    for code in texts:
        if code not in codes:
            raise ValueError(f"[{code}] is not a shipped language ({', '.join(codes)})")
    try:
        return validate_texts(texts)
    except InvalidBroadcast as error:
        raise ValueError(str(error)) from None


def text_shares(texts: Mapping[str, str], locales: Mapping[str, int]) -> dict[str, int]:
    """How many of the receiving members (counted by their language in `locales`) get each
    text: their own language's, their base language's, else the first."""
    shares: dict[str, int] = {}
    for locale, count in locales.items():
        chosen = text_language(texts, locale)
        shares[chosen] = shares.get(chosen, 0) + count
    return shares


def local_time(moment: datetime, zone: str) -> str:
    """`moment` in `zone` with UTC beside it, or UTC alone."""
    utc_text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if zone == "UTC":
        return utc_text
    local = moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    return f"{local} {zone} ({utc_text})"
