"""The one progress display of the command line (member imports, broadcast queuing and
`broadcast --wait`): a bar that updates in place on a terminal, and plain lines every few
seconds when the output is a file or a pipe, so logs stay readable.

Written to standard error, so standard output keeps only what a script may want to read.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, TextIO

import click

PLAIN_EVERY: Final = 10.0
"""Seconds between two plain lines when the output is no terminal."""


def duration(seconds: float) -> str:
    """A short, rounded-up duration: 45s, 3m05s, 2h07m."""
    whole = max(0, int(seconds + 0.999))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class Progress:
    """How far a long task is: `done` of `total`, a detail (like "sent 3 · failed 0 · left 7")
    and an ETA from the rate seen so far, or from a `fallback_eta` the caller knows (like the
    channels' sending rate) until some progress has been seen.

    Use as a context manager; `update(done)` sets the position, `advance(n)` moves it.
    """

    def __init__(
        self,
        total: int,
        label: str,
        *,
        file: TextIO | None = None,
        every: float = PLAIN_EVERY,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.total = max(total, 0)
        self.label = label
        self.file = file if file is not None else sys.stderr
        self.on_terminal = _is_terminal(self.file)
        self.every = every
        self.clock = clock or time.monotonic
        self.done = 0
        self._detail = ""
        self._first: tuple[float, int] | None = None
        self._last_line_at: float | None = None
        self._last_line = ""
        self._bar: Any = None

    def __enter__(self) -> Progress:
        if self.on_terminal:
            self._bar = click.progressbar(
                length=max(self.total, 1),
                label=self.label,
                file=self.file,
                show_eta=False,
                show_percent=True,
                item_show_func=lambda _: self._detail or None,
            )
            self._bar.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, error, trace)
            self._bar = None
        elif kind is None and self._last_line != self._line():
            self._write_plain()

    def advance(self, steps: int = 1) -> None:
        self.update(self.done + steps)

    def update(self, done: int, detail: str = "", fallback_eta: float | None = None) -> None:
        now = self.clock()
        self.done = min(max(done, 0), self.total)
        if self._first is None:
            self._first = (now, self.done)
        eta = self.eta(now, fallback_eta)
        parts = [part for part in (detail, eta and f"ETA {eta}") if part]
        self._detail = " · ".join(parts)
        if self._bar is not None:
            self._bar.update(self.done - self._bar.pos)
            return
        due = self._last_line_at is None or now - self._last_line_at >= self.every
        if due and self._line() != self._last_line:
            self._write_plain()

    def eta(self, now: float, fallback: float | None = None) -> str:
        """The time left at the rate seen since the first update; `fallback` (seconds) while
        nothing has moved yet; empty when done or unknown."""
        left = self.total - self.done
        if left <= 0:
            return ""
        if self._first is not None:
            since, start = self._first
            moved, spent = self.done - start, now - since
            if moved > 0 and spent > 0:
                return duration(left * spent / moved)
        return "" if fallback is None else duration(fallback)

    def _line(self) -> str:
        percent = 100 * self.done // self.total if self.total else 100
        line = f"{self.label}: {self.done}/{self.total} ({percent}%)"
        return f"{line} {self._detail}" if self._detail else line

    def _write_plain(self) -> None:
        self._last_line = self._line()
        self._last_line_at = self.clock()
        click.echo(self._last_line, file=self.file)


def _is_terminal(file: TextIO) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed file
        return False
