"""The command line's one progress display: a bar updated in place on a terminal, plain lines
every few seconds elsewhere, and an ETA from the rate seen (or the caller's estimate)."""

from __future__ import annotations

import io

import pytest

from bot.cli.progress import Progress, duration


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.2, "1s"), (59, "59s"), (60, "1m00s"), (185, "3m05s"), (7620, "2h07m")],
)
def test_durations_are_short_and_rounded_up(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_plain_lines_come_every_few_seconds_and_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    with Progress(100, "Broadcast #4", file=out, every=10, clock=clock) as bar:
        bar.update(0, "left 100", fallback_eta=50)
        for step in range(1, 30):
            clock.now += 1
            bar.update(step * 2, f"left {100 - step * 2}")
    lines = out.getvalue().splitlines()
    assert lines == [
        "Broadcast #4: 0/100 (0%) left 100 · ETA 50s",  # nothing moved yet: the caller's ETA
        "Broadcast #4: 20/100 (20%) left 80 · ETA 40s",  # 2 a second seen
        "Broadcast #4: 40/100 (40%) left 60 · ETA 30s",
        "Broadcast #4: 58/100 (58%) left 42 · ETA 21s",  # the last state, on leaving
    ]
    assert "\r" not in out.getvalue()


def test_an_unchanged_state_is_not_written_again() -> None:
    out, clock = io.StringIO(), Clock()
    with Progress(3, "Watching", file=out, every=1, clock=clock) as bar:
        for _ in range(5):
            clock.now += 5
            bar.update(1, "left 2")
    assert out.getvalue().splitlines() == ["Watching: 1/3 (33%) left 2"]


def test_a_terminal_gets_one_line_updated_in_place() -> None:
    out, clock = Terminal(), Clock()
    with Progress(10, "Writing members", file=out, clock=clock) as bar:
        for _ in range(10):
            clock.now += 1
            bar.advance()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # one line, ended when done
    assert "\r" in text and "Writing members" in text and "100%" in text


def test_the_terminal_bar_shows_the_detail_and_eta() -> None:
    out, clock = Terminal(), Clock()
    with Progress(10, "Broadcast #1", file=out, clock=clock) as bar:
        bar.update(0, "sent 0 · failed 0 · left 10")
        clock.now += 2
        bar.update(4, "sent 3 · failed 1 · left 6")
        assert "sent 3 · failed 1 · left 6 · ETA 3s" in out.getvalue()
