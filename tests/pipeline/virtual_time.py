"""Virtual time for the running event loop: a controllable clock for timing contracts.

Inside `virtual_time()`, the loop's clock stands still while any task can run and jumps to the
next timer the moment every task waits, so `asyncio.sleep(60)` returns at once in real time and
exactly 60 s later on `loop.time()`. A test of what happens when (who got which slot, how late a
send started) then reads exact moments, however loaded the machine: nothing depends on how fast
the code runs, only on what it asks the clock. `block(seconds)` stands for a task that holds the
loop without yielding (a busy sender): the time passes and no other task runs meanwhile.

Only for code that waits on the loop's timers alone (the in-process coordination): real I/O
would still take real time, which this clock does not see.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class VirtualClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def block(self, seconds: float) -> None:
        """The loop is held for `seconds`: they pass, and no other task runs in them."""
        self.now += seconds


@contextmanager
def virtual_time() -> Iterator[VirtualClock]:
    """The running loop on a `VirtualClock` for the block (its real clock back afterwards)."""
    loop: Any = asyncio.get_running_loop()
    selector: selectors.BaseSelector = loop._selector
    real_time, real_select = loop.time, selector.select
    clock = VirtualClock(real_time())  # timers set before keep their moments

    def select(timeout: float | None = None) -> list[Any]:
        if timeout is not None and timeout > 0:
            clock.now += timeout  # every task waits: on to the next timer
            return real_select(0)
        return real_select(timeout)

    loop.time = clock.time
    selector.select = select  # type: ignore[method-assign]
    try:
        yield clock
    finally:
        loop.time = real_time
        selector.select = real_select  # type: ignore[method-assign]
