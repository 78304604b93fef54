"""ISO weeks, their bounds in a group's time zone, and the trend between two totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.highlights.weekly import Trend, current_week, iso_week, trend, week_bounds, week_label


def test_an_iso_week_is_read_and_written_back() -> None:
    assert iso_week("2026-W48") == (2026, 48)
    assert iso_week(" 2026-w05 ") == (2026, 5)
    assert iso_week("2026-W53") == (2026, 53)  # 2026 starts on a Thursday: it has 53 weeks
    assert week_label(2026, 5) == "2026-W05"


@pytest.mark.parametrize("text", ["2026-48", "2026-W5", "W48", "2026W48", "48", "", "2026-W48-1"])
def test_anything_else_is_refused_saying_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="like 2026-W48"):
        iso_week(text)


@pytest.mark.parametrize("text", ["2027-W53", "2026-W00", "2026-W54"])
def test_a_week_the_year_does_not_have_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="has no week"):
        iso_week(text)


def test_a_week_runs_from_monday_midnight_to_monday_midnight_local() -> None:
    start, end = week_bounds(2026, 48, "Africa/Nairobi")
    assert start == datetime(2026, 11, 22, 21, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
    start, end = week_bounds(2026, 48, "America/Mexico_City")
    assert (start, end) == (
        datetime(2026, 11, 23, 6, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 6, 0, tzinfo=UTC),
    )


def test_weeks_that_change_the_clocks_in_new_york() -> None:
    # Clocks fall back on Sunday 1 November 2026: 2026-W44 is 169 hours long.
    start, end = week_bounds(2026, 44, "America/New_York")
    assert start == datetime(2026, 10, 26, 4, 0, tzinfo=UTC)  # Monday 00:00 EDT
    assert end == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # Monday 00:00 EST
    assert end - start == timedelta(hours=169)
    # Clocks spring forward on Sunday 8 March 2026: 2026-W10 is 167 hours long.
    start, end = week_bounds(2026, 10, "America/New_York")
    assert start == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=167)
    # Consecutive weeks meet exactly.
    assert (
        week_bounds(2026, 45, "America/New_York")[0] == week_bounds(2026, 44, "America/New_York")[1]
    )


def test_the_current_week_is_the_group_s_own() -> None:
    sunday_night_utc = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
    assert current_week("Africa/Nairobi", sunday_night_utc) == (2026, 49)  # Monday 01:00 there
    assert current_week("America/Mexico_City", sunday_night_utc) == (2026, 48)
    assert current_week("UTC", datetime(2027, 1, 1, tzinfo=UTC)) == (2026, 53)


def test_an_unknown_time_zone_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        week_bounds(2026, 48, "Mars/Olympus")


@pytest.mark.parametrize(
    ("this_week", "last_week", "expected"),
    [
        ("3500.50", "3000", Trend("up", 17)),
        ("3500.50", "5000", Trend("down", 30)),
        ("500", "500", Trend("same", 0)),
        ("1001", "1000", Trend("same", 0)),  # +0.1% rounds to 0%: the same
        ("1005", "1000", Trend("up", 1)),  # +0.5% rounds up
        ("500", "0", Trend("up", None)),  # no percentage from zero
        ("0", "0", Trend("same", None)),
        ("0", "200", Trend("down", 100)),
        ("3000", "1000", Trend("up", 200)),
    ],
)
def test_trend_against_last_week(this_week: str, last_week: str, expected: Trend) -> None:
    assert trend(Decimal(this_week), Decimal(last_week)) == expected
