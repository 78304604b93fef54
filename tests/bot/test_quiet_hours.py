"""Quiet hours in the group's own time zone, across midnight and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.calendar.quiet_hours import next_allowed, parse_clock


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        ("2026-11-27T12:00:00+03:00", "Africa/Nairobi", "2026-11-27T12:00:00+03:00"),
        ("2026-11-27T22:30:00+03:00", "Africa/Nairobi", "2026-11-28T07:00:00+03:00"),
        ("2026-11-28T03:00:00+03:00", "Africa/Nairobi", "2026-11-28T07:00:00+03:00"),
        ("2026-11-28T07:00:00+03:00", "Africa/Nairobi", "2026-11-28T07:00:00+03:00"),
        ("2026-11-27T20:59:00+03:00", "Africa/Nairobi", "2026-11-27T20:59:00+03:00"),
        # the night the US falls back: 07:00 local is at UTC-6 again in Chicago
        ("2026-11-01T01:30:00-05:00", "America/Chicago", "2026-11-01T07:00:00-06:00"),
        # spring forward in Mexico City's neighbour: 07:00 is at UTC-6 in Chicago
        ("2026-03-08T01:00:00-06:00", "America/Chicago", "2026-03-08T07:00:00-05:00"),
    ],
)
def test_next_allowed(now: str, zone: str, expected: str) -> None:
    assert next_allowed(utc(now), zone, "21:00", "07:00") == utc(expected)


def test_a_window_inside_a_day_and_no_window() -> None:
    noon = utc("2026-11-27T13:30:00+00:00")
    assert next_allowed(noon, "UTC", "13:00", "14:00") == utc("2026-11-27T14:00:00+00:00")
    assert next_allowed(noon, "UTC", "00:00", "00:00") == noon


def test_bad_times_are_explained() -> None:
    with pytest.raises(ValueError, match="not a time of day"):
        parse_clock("9pm")
