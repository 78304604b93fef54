"""While a report reads its rows the cyclic garbage collector is held off (it would walk the
report's objects again and again for nothing), and it always comes back: after the last of
overlapping reports, after a failure, and never when something else had it off before."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.reports.evidence import _collector_paused


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_paused_while_a_report_reads_and_back_after() -> None:
    gc.enable()
    with _collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_only_when_the_last_overlapping_report_ends() -> None:
    gc.enable()
    first, second = _collector_paused(), _collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled(), "the second report still reads"
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_back_after_a_report_fails() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), _collector_paused():
        raise RuntimeError("the database went away")
    assert gc.isenabled()


def test_left_off_when_it_was_off_before() -> None:
    gc.disable()
    with _collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
