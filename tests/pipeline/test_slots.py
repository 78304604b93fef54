"""The slot search both rate limiters share: a booked send never breaks a window, and it is the
earliest that does not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.pipeline.coordination.slots import EPSILON, earliest, fits, window_of


def most_in_a_window(times: list[float], span: float) -> int:
    ordered = sorted(times)
    return max(
        (sum(1 for t in ordered if start <= t < start + span - EPSILON) for start in ordered),
        default=0,
    )


def valid_bookings(draw: st.DrawFn, limit: int, span: float) -> list[float]:
    """Bookings made one after another by `earliest` from random starting moments: the only
    kind of set a limiter ever holds."""
    times: list[float] = []
    for start in draw(st.lists(st.integers(0, 400), max_size=25)):
        times.append(earliest(sorted(times), limit, span, start / 100))
        times.sort()
    return times


@st.composite
def windows(draw: st.DrawFn) -> tuple[int, float, list[float], float]:
    limit = draw(st.integers(1, 4))
    span = draw(st.integers(1, 200)) / 100
    return limit, span, valid_bookings(draw, limit, span), draw(st.integers(0, 500)) / 100


@given(windows())
def test_a_booked_send_keeps_every_window_within_its_limit(
    case: tuple[int, float, list[float], float],
) -> None:
    limit, span, times, start = case
    slot = earliest(times, limit, span, start)
    assert slot >= start
    assert most_in_a_window([*times, slot], span) <= limit


@given(windows())
def test_the_booked_send_is_the_earliest_that_fits(
    case: tuple[int, float, list[float], float],
) -> None:
    limit, span, times, start = case
    slot = earliest(times, limit, span, start)
    # every moment where the count in some window changes, between `start` and the slot
    edges = {start, *(t + span for t in times), *(t - span for t in times), *times}
    for moment in sorted(m for m in edges if start <= m < slot):
        assert most_in_a_window([*times, moment], span) > limit, (moment, slot)
        assert not fits(times, limit, span, moment)


def test_a_free_gap_is_used_before_the_end() -> None:
    # one send a second: bookings at 0 and 5 leave the gap from 1 to 4 free
    assert earliest([0.0, 5.0], 1, 1.0, 0.5) == 1.0
    assert earliest([0.0, 5.0], 1, 1.0, 4.5) == 6.0


def test_a_window_of_many_takes_a_burst_then_waits_a_span() -> None:
    times: list[float] = []
    for _ in range(3):
        times.append(earliest(times, 3, 1.0, 0.0))
    assert times == [0.0, 0.0, 0.0]
    assert earliest(times, 3, 1.0, 0.0) == 1.0


def test_window_of_a_rate_and_burst() -> None:
    assert window_of(30.0, 30.0) == (30, 1.0)
    assert window_of(0.5, 1.0) == (1, 2.0)
    assert window_of(97.0, 100.0) == (100, 100 / 97)
