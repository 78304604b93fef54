"""Durations written in check-in definitions: "30m", "24h", "7d", "2w", "1d12h"."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"(?:(?P<w>[0-9]{1,6})w)?(?:(?P<d>[0-9]{1,6})d)?(?:(?P<h>[0-9]{1,7})h)?(?:(?P<m>[0-9]{1,9})m)?"
)


def parse_duration(text: str) -> timedelta | None:
    """Weeks, days, hours and minutes, each at most once and in that order, spaces allowed
    between them, any letter case; None for anything else, for zero, and beyond `timedelta`."""
    compact = "".join(text.split()).lower()
    match = _DURATION.fullmatch(compact)
    if not compact or match is None:
        return None
    parts = {unit: int(value) for unit, value in match.groupdict().items() if value is not None}
    try:
        duration = timedelta(
            weeks=parts.get("w", 0),
            days=parts.get("d", 0),
            hours=parts.get("h", 0),
            minutes=parts.get("m", 0),
        )
    except OverflowError:
        return None
    return duration if duration > timedelta(0) else None
