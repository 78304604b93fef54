"""Send slots in a sliding window: the arithmetic both rate limiters share.

A bucket allows at most `limit` sends in any window of `span` seconds, which is how providers
count (Telegram's "30 messages a second", Twilio's messages per second, the fake servers of
the tests). A limiter books each send a slot ahead of time instead of handing out tokens to
whoever wakes first: a sender that wakes a little late loses nothing, because the slots after
its own were already booked by others, and a slot left free by a late sender (in the past)
is simply not counted. The same search runs in Redis as a Lua script (`lua/slots.lua`); the
two are kept alike on purpose and proven alike by one contract suite.

Times are seconds (or milliseconds in Redis: only the unit differs).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

EPSILON = 1e-9
"""Gaps this close to a whole span count as whole: `booked + span - booked` is not always
`span` in floating point, and the candidate built that way must fit."""


def window_of(rate: float, burst: float) -> tuple[int, float]:
    """The (limit, span) of a bucket given as `rate` a second with `burst` saved up: `burst`
    sends (whole ones) in any `burst / rate` seconds, so the long-run rate is `rate`."""
    limit = max(1, int(burst))
    return limit, limit / rate


def fits(times: Sequence[float], limit: int, span: float, moment: float) -> bool:
    """Whether a send at `moment` keeps every `span`-long window at `limit` sends or fewer.

    `times` are the bucket's booked sends, sorted. Only runs of `limit` + 1 consecutive sends
    that include `moment` are checked: the others were valid before and are unchanged."""
    after = bisect_right(times, moment)  # `moment` goes at this index of the merged list

    def merged(index: int) -> float:
        if index < after:
            return times[index]
        return moment if index == after else times[index - 1]

    for first in range(max(0, after - limit), after + 1):
        last = first + limit
        if last > len(times):
            break
        if merged(last) - merged(first) < span - EPSILON:
            return False
    return True


def earliest(times: Sequence[float], limit: int, span: float, start: float) -> float:
    """The earliest moment at or after `start` at which a send fits (see `fits`), in one pass.

    A send between `times[gap - 1]` and `times[gap]` is the last of a run that begins at
    `times[gap - limit]`, the first of one that ends at `times[gap + limit - 1]`, and inside the
    runs of `limit` booked sends that straddle the gap: it fits when it is at least `span` after
    the first, at least `span` before the second, and each straddling run spans `span` already.
    So each gap, from the one holding `start` on, either offers its earliest moment or none."""
    count = len(times)
    short = [0]  # short[j]: how many runs of `limit` booked sends starting before j span < span
    for first in range(max(0, count - limit + 1)):
        too_short = times[first + limit - 1] - times[first] < span - EPSILON
        short.append(short[-1] + too_short)
    for gap in range(bisect_right(times, start), count + 1):
        lowest = start
        if gap > 0:
            lowest = max(lowest, times[gap - 1])
        if gap >= limit:
            lowest = max(lowest, times[gap - limit] + span)
        if gap < count and lowest >= times[gap]:
            continue  # the moment belongs to a later gap
        if gap + limit - 1 < count and lowest > times[gap + limit - 1] - span + EPSILON:
            continue
        first_run, last_run = max(0, gap - limit + 1), min(gap - 1, count - limit)
        if first_run <= last_run and short[last_run + 1] - short[first_run] > 0:
            continue
        return lowest
    raise AssertionError("a send always fits a span after the last booked one")
