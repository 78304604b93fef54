"""A group's schedule changed as a whole (`bot.calendar.schedules`), and `mutuality groups
schedule`, which changes it through the same function as the console."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.calendar.schedules import GroupSchedule, ScheduleProblem, changed_schedule
from bot.cli import main

MONDAY = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
CURRENT = GroupSchedule("Africa/Nairobi", "0 9 * * MON", "0 18 * * SUN", "21:00", "07:00")


def test_unchanged_parts_are_kept_and_given_ones_replaced() -> None:
    wanted = changed_schedule(CURRENT, checkin="30  8 * * TUE", quiet_end="06:30", now=MONDAY)
    assert wanted == GroupSchedule(
        "Africa/Nairobi", "30 8 * * TUE", "0 18 * * SUN", "21:00", "06:30"
    )


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"timezone": "nairobi"}, "timezone", "did you mean Africa/Nairobi?"),
        ({"timezone": "Mars/Olympus"}, "timezone", "use an IANA name"),
        ({"quiet_start": "25:00"}, "quiet", "'25:00' is not a time of day"),
        ({"quiet_end": ""}, "quiet", "is not a time of day"),
        ({"checkin": "0 9 * *"}, "checkin", "five fields"),
        ({"checkin": "0 22 * * FRI"}, "checkin", "fires on Fri at 22:00, inside the quiet hours"),
        ({"highlights": "0 6 * * SUN"}, "highlights", "inside the quiet hours"),
        # Quiet hours moved over an unchanged schedule are refused against that schedule.
        ({"quiet_start": "08:00", "quiet_end": "10:00"}, "checkin", "inside the quiet hours"),
        # A new time zone keeps the wall-clock schedules: they are checked in that zone.
        ({"timezone": "America/Bogota", "quiet_start": "17:00"}, "highlights", "18:00"),
    ],
)
def test_what_cannot_work_is_refused_with_its_field(
    change: dict[str, str], field: str, words: str
) -> None:
    with pytest.raises(ScheduleProblem) as refused:
        changed_schedule(CURRENT, now=MONDAY, **change)
    assert refused.value.field == field
    assert words in str(refused.value)


def _cli(tmp_path: Path) -> CliRunner:
    runner = CliRunner(env={"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})
    created = runner.invoke(
        main, ["groups", "create", "Kibera", "--timezone", "Africa/Nairobi", "--currency", "KES"]
    )
    assert created.exit_code == 0, created.output
    return runner


def test_the_command_changes_a_schedule_and_says_what_it_is_now(tmp_path: Path) -> None:
    runner = _cli(tmp_path)
    changed = runner.invoke(
        main,
        ["groups", "schedule", "kibera", "--checkin", "0 10 * * TUE", "--quiet", "22:00-06:00"],
    )
    assert changed.exit_code == 0, changed.output
    assert "weekly check-in: 0 10 * * TUE" in changed.output
    assert "highlights:      0 18 * * SUN" in changed.output
    assert "quiet hours:     22:00-06:00" in changed.output


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--timezone", "nairobi"], "did you mean Africa/Nairobi?"),
        (["--quiet", "21:00"], "write it like 21:00-07:00"),
        (["--checkin", "0 23 * * MON"], "inside the quiet hours"),
    ],
)
def test_the_command_refuses_what_cannot_work_and_changes_nothing(
    tmp_path: Path, options: list[str], words: str
) -> None:
    runner = _cli(tmp_path)
    refused = runner.invoke(main, ["groups", "schedule", "kibera", *options])
    assert refused.exit_code != 0
    assert words in refused.output
    shown = runner.invoke(main, ["groups", "schedule", "kibera"])
    assert "weekly check-in: 0 9 * * MON" in shown.output
    assert "quiet hours:     21:00-07:00" in shown.output
