"""One contract suite for the coordination backends: in-process and Redis.

Every contract test runs on the memory backend, and on Redis when `TEST_REDIS_URL` is set (CI
sets it), under a key prefix of its own that is deleted afterwards. Without the variable the
Redis cases are not collected; with it set and Redis unreachable they fail, never skip. Tests of
what only Redis can do (several clients as several processes, a holder that dies, a Redis that
restarts) live in `TestRedisOnly`, collected under the same rule; the restart test runs a
private `redis-server` (see `redis_server.py`), never the shared one.

No test bounds elapsed time from above: a loaded machine makes everything slower, never faster.
Lower bounds (a limiter that waited at least this long) hold under any load. What a bound from
above would say is asserted otherwise: as the order of events (a pop that ends before a push
made long after its timeout), as what the limiter booked (the Redis script's answers: how far
ahead each send was booked), or exactly, on the in-process limiter under virtual time
(`virtual_time.py`), where a test reads the very moments each send started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.pipeline.coordination.contracts import Bucket, Coordination, RateLimiter
from bot.pipeline.coordination.factory import (
    RedisCoordination,
    coordination,
    describe,
    redis_client,
    redis_ready,
)
from bot.pipeline.coordination.memory import MemoryLocks, MemoryQueue, MemoryRateLimiter
from bot.pipeline.coordination.redis_limiter import RedisRateLimiter
from bot.pipeline.coordination.redis_locks import RedisLocks
from bot.pipeline.coordination.redis_queue import RedisQueue
from bot.pipeline.coordination.redis_support import CoordinationUnavailable
from tests.pipeline.redis_server import RedisServer, free_port
from tests.pipeline.virtual_time import virtual_time

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "").strip()
BACKENDS = ["memory", *(["redis"] if TEST_REDIS_URL else [])]
ROOT = Path(__file__).resolve().parents[2]

# Timestamps are taken by the test after `acquire` returns, not by Redis when it grants the
# token, so a grant may look up to this much later than it was (a reply in flight, a busy
# machine). Small against any window that matters: a limiter giving 25/s instead of 20/s still
# fails the check within a second.
SLACK = 0.03
REDIS_SLACK = 0.12
"""Redis grants tokens on its own clock; the test sees them when the reply arrives, which on a
loaded two-core machine can lag by tens of milliseconds (two grants 50 ms apart arriving 2 ms
apart was seen). The elapsed-time checks still catch any limiter that gives too much."""


async def _delete_keys(prefix: str) -> None:
    client = Redis.from_url(TEST_REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@asynccontextmanager
async def _fresh_prefix() -> AsyncIterator[str]:
    """A key prefix no other test uses, on the Redis of `TEST_REDIS_URL`; its keys are deleted
    afterwards. Fails the test when that Redis does not answer."""
    try:
        await redis_ready(TEST_REDIS_URL)
    except CoordinationUnavailable as error:
        pytest.fail(f"TEST_REDIS_URL is set but Redis is unreachable: {error}", pytrace=False)
    prefix = f"mutuality-test:{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        await _delete_keys(prefix)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    async with _fresh_prefix() as prefix:
        yield prefix


@pytest.fixture(params=BACKENDS)
async def coord(request: pytest.FixtureRequest) -> AsyncIterator[Coordination]:
    """The coordination of one process, as `bot.pipeline.coordination.factory` builds it, per backend."""
    async with AsyncExitStack() as stack:
        if request.param == "memory":
            made = await coordination(None)
        else:
            made = await coordination(
                TEST_REDIS_URL, await stack.enter_async_context(_fresh_prefix())
            )
        stack.push_async_callback(made.close)
        yield made


def assert_within_rate(
    times: Sequence[float], rate: float, burst: float, slack: float = SLACK
) -> None:
    """No window of the timestamps holds more than `burst` + `rate` × its length (+ slack)."""
    ordered = sorted(times)
    for first in range(len(ordered)):
        for last in range(first, len(ordered)):
            count = last - first + 1
            allowed = burst + rate * (ordered[last] - ordered[first] + slack)
            assert count <= allowed + 1e-9, (
                f"{count} tokens in {ordered[last] - ordered[first]:.4f} s "
                f"at rate {rate}/s, burst {burst}"
            )


def slack_for(coord: Coordination) -> float:
    return REDIS_SLACK if isinstance(coord.limiter, RedisRateLimiter) else SLACK


HANG = 30.0
"""How long a test waits for what must happen at all before it calls it a hang: far above any
timing under test, so only a wait that never ends (or ends a wrong order of magnitude late)
reaches it."""


@contextlib.contextmanager
def script_answers(limiter: RateLimiter) -> Iterator[list[tuple[str, int]]]:
    """(mode, answer) of every call the Redis limiter makes to its slot script: `book` answers
    how many ms ahead it booked the send (-1: started at once), `confirm` 0 when the send
    starts, else how much longer it must wait. Nothing is recorded for the in-process limiter
    (its timing is checked exactly under virtual time)."""
    answers: list[tuple[str, int]] = []
    if not isinstance(limiter, RedisRateLimiter):
        yield answers
        return
    slots = limiter._slots

    async def noting(keys: list[str], args: list[str]) -> Any:
        answer = await slots(keys=keys, args=args)
        answers.append((args[0], int(answer)))
        return answer

    limiter._slots = noting  # type: ignore[assignment]
    try:
        yield answers
    finally:
        limiter._slots = slots


async def push_later(queue: Any, item: str, delay: float) -> None:
    await asyncio.sleep(delay)
    await queue.push(item)


async def timed_acquires(
    limiter: RateLimiter, buckets: Sequence[Bucket], count: int, into: list[float]
) -> None:
    for _ in range(count):
        await limiter.acquire(buckets)
        into.append(time.monotonic())


# The queue


async def test_queue_is_fifo_and_queues_are_separate(coord: Coordination) -> None:
    for item in ("a", "b", "c"):
        await coord.queue.push(item)
    await coord.outbox_wakeup.push("x")
    assert [await coord.queue.pop(1) for _ in range(3)] == ["a", "b", "c"]
    assert await coord.queue.pop(0) is None
    assert await coord.outbox_wakeup.pop(0) == "x"


async def test_pop_times_out_with_none(coord: Coordination) -> None:
    # A pop of 0.3 s ends long before an item is pushed 5 s later (Redis times blocking pops out
    # on its own clock, ~1/hz late at most): it answers None, the push not yet made.
    later = asyncio.create_task(push_later(coord.queue, "later", 5))
    start = time.monotonic()
    assert await coord.queue.pop(0.3) is None
    assert time.monotonic() - start >= 0.29  # it did wait
    assert not later.done()
    assert await coord.queue.pop(0) is None  # no wait at all: the push is still seconds away
    assert not later.done()
    later.cancel()


async def test_pop_wakes_up_on_push(coord: Coordination) -> None:
    waiting = asyncio.create_task(coord.queue.pop(3600))  # only the push can end it in time
    await asyncio.sleep(0.05)
    await coord.queue.push("woken")
    async with asyncio.timeout(HANG):
        assert await waiting == "woken"


async def test_push_many_queues_every_item_in_order(coord: Coordination) -> None:
    await coord.queue.push("0")
    await coord.queue.push_many(["1", "2", "3"])
    await coord.queue.push_many([])
    assert await coord.queue.pop_many(0, 10) == ["0", "1", "2", "3"]


async def test_pop_many_takes_up_to_limit_in_order_and_leaves_the_rest(
    coord: Coordination,
) -> None:
    for item in ("a", "b", "c", "d", "e"):
        await coord.queue.push(item)
    assert await coord.queue.pop_many(1, 3) == ["a", "b", "c"]
    assert await coord.queue.pop(0) == "d"
    assert await coord.queue.pop_many(0, 10) == ["e"]
    assert await coord.queue.pop_many(0, 10) == []


async def test_pop_many_times_out_with_nothing(coord: Coordination) -> None:
    later = asyncio.create_task(push_later(coord.queue, "later", 5))  # as for `pop`
    start = time.monotonic()
    assert await coord.queue.pop_many(0.2, 5) == []
    assert time.monotonic() - start >= 0.19
    assert await coord.queue.pop_many(0, 5) == []
    assert not later.done()
    later.cancel()


async def test_pop_many_waits_for_the_first_item(coord: Coordination) -> None:
    waiting = asyncio.create_task(coord.queue.pop_many(3600, 3))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await coord.queue.push("woken")
    async with asyncio.timeout(HANG):
        assert await waiting == ["woken"]


async def test_pop_many_refuses_a_limit_below_one(coord: Coordination) -> None:
    await coord.queue.push("kept")
    for limit in (0, -1):
        with pytest.raises(ValueError, match="at least 1"):
            await coord.queue.pop_many(0, limit)
    assert await coord.queue.pop(0) == "kept"  # refused before taking anything


# The locks


async def _count_under_lock(coord: Coordination, counter: dict[str, int], times: int) -> None:
    for _ in range(times):
        async with coord.locks.hold("member-1"):
            seen = counter["value"]
            await asyncio.sleep(0.001)  # another task would interleave here without the lock
            counter["value"] = seen + 1


async def test_locks_are_mutually_exclusive(coord: Coordination) -> None:
    counter = {"value": 0}
    await asyncio.gather(*(_count_under_lock(coord, counter, 3) for _ in range(10)))
    assert counter["value"] == 30


async def test_different_keys_do_not_block_each_other(coord: Coordination) -> None:
    async with asyncio.timeout(2):
        async with coord.locks.hold("member-1"):
            async with coord.locks.hold("member-2"):
                pass
    async with asyncio.timeout(2):  # released after the block, also after an error
        with pytest.raises(ZeroDivisionError):
            async with coord.locks.hold("member-1"):
                1 / 0  # noqa: B018
        async with coord.locks.hold("member-1"):
            pass


async def test_a_cancelled_waiter_does_not_take_the_lock(coord: Coordination) -> None:
    async with coord.locks.hold("member-1"):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                async with coord.locks.hold("member-1"):
                    pytest.fail("the lock was held by someone else")
    async with asyncio.timeout(2):
        async with coord.locks.hold("member-1"):
            pass


async def test_memory_locks_forget_keys_nobody_holds() -> None:
    locks = MemoryLocks()
    counter = {"value": 0}

    async def bump(key: str) -> None:
        async with locks.hold(key):
            await asyncio.sleep(0.001)
            counter["value"] += 1

    await asyncio.gather(*(bump(f"member-{i % 7}") for i in range(50)))
    assert counter["value"] == 50
    assert len(locks) == 0


def _assert_memory_forgot_every_key(coord: Coordination) -> None:
    if isinstance(coord.locks, MemoryLocks):
        assert len(coord.locks) == 0


async def _hold_until(
    coord: Coordination, key: str, holding: asyncio.Event, done: asyncio.Event
) -> None:
    async with coord.locks.hold(key):
        holding.set()
        await done.wait()


async def test_hold_free_takes_only_the_free_keys_and_waits_for_none(
    coord: Coordination,
) -> None:
    holding, done = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold_until(coord, "member-2", holding, done))
    try:
        async with asyncio.timeout(2):  # waiting for member-2 would never end: `done` is unset
            await holding.wait()
            async with coord.locks.hold_free(["member-1", "member-2", "member-3"]) as held:
                assert held == {"member-1", "member-3"}
                async with coord.locks.hold_free(["member-3", "member-4"]) as also:
                    assert also == {"member-4"}
            async with coord.locks.hold_free([]) as nothing:
                assert nothing == set()
    finally:
        done.set()
        await holder
    _assert_memory_forgot_every_key(coord)


async def test_hold_waits_while_hold_free_holds_the_key(coord: Coordination) -> None:
    order: list[str] = []

    async def hold() -> None:
        async with coord.locks.hold("member-1"):
            order.append("hold")

    async with asyncio.timeout(5):
        async with coord.locks.hold_free(["member-1"]) as held:
            assert held == {"member-1"}
            waiting = asyncio.create_task(hold())
            await asyncio.sleep(0.1)  # long enough to take a free lock many times over
            order.append("hold_free ends")
        await waiting
    assert order == ["hold_free ends", "hold"]
    _assert_memory_forgot_every_key(coord)


async def test_hold_free_counts_a_repeated_key_once(coord: Coordination) -> None:
    async with asyncio.timeout(2):
        async with coord.locks.hold_free(["member-1", "member-1", "member-2"]) as held:
            assert held == {"member-1", "member-2"}
            async with coord.locks.hold_free(["member-1"]) as again:
                assert again == set()  # held, if by this very task
        async with coord.locks.hold("member-1"):
            pass
    _assert_memory_forgot_every_key(coord)


async def test_hold_free_frees_every_key_after_the_block(coord: Coordination) -> None:
    keys = ["member-1", "member-2", "member-3"]
    async with asyncio.timeout(2):
        async with coord.locks.hold_free(keys) as held:
            assert held == set(keys)
        with pytest.raises(ZeroDivisionError):
            async with coord.locks.hold_free(keys) as held:
                assert held == set(keys)
                1 / 0  # noqa: B018
        async with coord.locks.hold_free(keys) as held:
            assert held == set(keys)
    _assert_memory_forgot_every_key(coord)


# The rate limiter


async def test_limiter_holds_the_rate(coord: Coordination) -> None:
    bucket = Bucket("telegram", rate=20, burst=1)
    times: list[float] = []
    start = time.monotonic()
    with script_answers(coord.limiter) as answers:
        await timed_acquires(coord.limiter, [bucket], 40, times)
    elapsed = time.monotonic() - start
    assert elapsed >= 1.9, elapsed  # 39 intervals of 50 ms after the first token
    assert_within_rate(times, rate=20, burst=1, slack=slack_for(coord))
    # and not much more: each send booked at most one interval ahead, and started when woken
    assert all(answer <= 50 for mode, answer in answers if mode == "book"), answers
    assert all(answer <= 0 for mode, answer in answers if mode == "confirm"), answers


async def test_memory_limiter_spaces_sends_exactly_one_interval_apart() -> None:
    with virtual_time() as clock:
        limiter = MemoryRateLimiter(time_source=clock.time)
        start = clock.time()
        times = []
        for _ in range(40):
            await limiter.acquire([Bucket("telegram", rate=20, burst=1)])
            times.append(clock.time() - start)
    assert times == pytest.approx([0.05 * n for n in range(40)])


async def test_limiter_burst_is_available_at_once(coord: Coordination) -> None:
    with script_answers(coord.limiter) as answers:
        async with asyncio.timeout(HANG):
            for _ in range(5):
                await coord.limiter.acquire([Bucket("burst", rate=1, burst=5)])
    if isinstance(coord.limiter, RedisRateLimiter):
        assert answers == [("book", -1)] * 5  # each started at once, none booked ahead


async def test_memory_limiter_burst_is_available_at_once() -> None:
    with virtual_time() as clock:
        limiter = MemoryRateLimiter(time_source=clock.time)
        start = clock.time()
        moments = []
        for _ in range(6):
            await limiter.acquire([Bucket("burst", rate=1, burst=5)])
            moments.append(clock.time() - start)
    assert moments == pytest.approx([0, 0, 0, 0, 0, 5])  # the sixth waits out the window


async def test_limiter_respects_every_bucket_of_an_acquire(coord: Coordination) -> None:
    overall = Bucket("telegram", rate=30, burst=1)
    chats = [Bucket(f"telegram:chat-{n}", rate=15, burst=1) for n in range(3)]
    per_chat: dict[str, list[float]] = {chat.key: [] for chat in chats}
    start = time.monotonic()
    await asyncio.gather(
        *(timed_acquires(coord.limiter, [overall, chat], 6, per_chat[chat.key]) for chat in chats)
    )
    elapsed = time.monotonic() - start
    everything = [moment for times in per_chat.values() for moment in times]
    assert len(everything) == 18
    assert elapsed >= 17 / 30 - 0.01, elapsed  # the overall bucket binds: 17 intervals
    assert_within_rate(everything, rate=30, burst=1, slack=slack_for(coord))
    for times in per_chat.values():
        assert_within_rate(times, rate=15, burst=1, slack=slack_for(coord))


async def test_limiter_books_first_come_first_served(coord: Coordination) -> None:
    fast = Bucket("fast", rate=5, burst=1)
    scarce = Bucket("scarce", rate=0.01, burst=1)  # one send now, the next in 100 s
    await coord.limiter.acquire([fast])
    both = asyncio.create_task(coord.limiter.acquire([fast, scarce]))
    await asyncio.sleep(0.05)
    assert not both.done()
    # `both` booked `scarce`'s only send (0.2 s from now, when `fast` allows one): a later
    # caller waits behind it rather than taking it
    alone = asyncio.create_task(coord.limiter.acquire([scarce]))
    async with asyncio.timeout(HANG):
        await both
    await asyncio.sleep(0.2)
    assert not alone.done()
    alone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await alone


async def test_a_cancelled_waiter_gives_its_booking_back(coord: Coordination) -> None:
    fast = Bucket("fast", rate=5, burst=1)
    scarce = Bucket("scarce", rate=0.01, burst=1)
    await coord.limiter.acquire([fast])
    both = asyncio.create_task(coord.limiter.acquire([fast, scarce]))
    await asyncio.sleep(0.05)
    both.cancel()
    with pytest.raises(asyncio.CancelledError):
        await both
    async with asyncio.timeout(HANG):  # not 100 s: the booking `both` held is free again
        await coord.limiter.acquire([scarce])


async def test_a_late_waker_does_not_cost_the_others_their_slots(coord: Coordination) -> None:
    """50 sends in any second, 150 callers at once: each caller's moment is booked when it asks,
    not when it wakes, so the three bursts are booked a second apart at once, and a busy event
    loop (a busy sender, blocking now and then) delays their starts but books nobody later.
    The exact moments are `test_a_late_waker_delays_no_one_by_more_than_it_was_late`'s."""
    bucket = Bucket("telegram", rate=50, burst=50)
    times: list[float] = []

    async def one() -> None:
        await coord.limiter.acquire([bucket])
        times.append(time.monotonic())

    async def busy_loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            time.sleep(0.015)  # noqa: ASYNC251 - blocking on purpose: a busy event loop
            await asyncio.sleep(0.05)

    stop = asyncio.Event()
    start = time.monotonic()
    hog = asyncio.create_task(busy_loop(stop))
    try:
        with script_answers(coord.limiter) as answers:
            await asyncio.gather(*(one() for _ in range(150)))
    finally:
        stop.set()
        await hog
    assert len(times) == 150
    assert time.monotonic() - start >= 2.0  # the third burst waited for its second
    assert_within_rate(times, rate=50, burst=50, slack=slack_for(coord))
    if isinstance(coord.limiter, RedisRateLimiter):
        booked = [answer for mode, answer in answers if mode == "book"]
        assert len(booked) == 150  # one booking each, never booked again from scratch
        assert booked.count(-1) == 50  # the first burst started at once
        ahead = sorted(answer for answer in booked if answer >= 0)
        # the others booked one and two seconds on from the first burst's starts, when they
        # asked: at most a second or two ahead of their asking, however late anyone woke
        assert all(0 < answer <= 1000 for answer in ahead[:50]), ahead[:50]
        assert all(1000 < answer <= 2000 for answer in ahead[50:]), ahead[50:]


async def test_a_late_waker_delays_no_one_by_more_than_it_was_late() -> None:
    """The same 150 callers on the in-process limiter under virtual time, the loop held for
    15 ms every 65 ms: every send starts in its own second, late by no more than the loop was
    held around its moment (two holds at the most, depending on where the waits fall), never by
    the whole second a third burst booked when it woke would cost."""
    with virtual_time() as clock:
        limiter = MemoryRateLimiter(time_source=clock.time)
        bucket = Bucket("telegram", rate=50, burst=50)
        start = clock.time()
        starts: list[float] = []

        async def one() -> None:
            await limiter.acquire([bucket])
            starts.append(clock.time() - start)

        async def busy_loop(stop: asyncio.Event) -> None:
            while not stop.is_set():
                clock.block(0.015)
                await asyncio.sleep(0.05)

        stop = asyncio.Event()
        hog = asyncio.create_task(busy_loop(stop))
        try:
            await asyncio.gather(*(one() for _ in range(150)))
        finally:
            stop.set()
            await hog
    for second in range(3):
        burst = [moment for moment in starts if second <= moment < second + 1]
        assert len(burst) == 50, (second, burst)
        assert max(burst) <= second + 2 * 0.015 + 1e-9, (second, burst)
    assert_within_rate(starts, rate=50, burst=50, slack=0)


async def test_a_send_counts_from_its_answer(coord: Coordination) -> None:
    """A provider counts a send when it arrives, which may be as late as its answer: the next
    send in a one-at-a-time bucket waits a whole interval after the answer, not the start."""
    bucket = Bucket("telegram:chat-1", rate=5, burst=1)  # one send every 0.2 s
    booking = await coord.limiter.acquire([bucket])
    await asyncio.sleep(0.3)  # the request takes 0.3 s to be answered
    await coord.limiter.finish([bucket], booking)
    answered = time.monotonic()
    await coord.limiter.acquire([bucket])
    assert time.monotonic() - answered >= 0.2 - 0.01


async def test_a_send_never_finished_counts_from_its_start(coord: Coordination) -> None:
    bucket = Bucket("telegram:chat-1", rate=5, burst=1)
    await coord.limiter.acquire([bucket])
    started = time.monotonic()
    with script_answers(coord.limiter) as answers:
        await coord.limiter.acquire([bucket])
    assert time.monotonic() - started >= 0.2 - 0.01
    if isinstance(coord.limiter, RedisRateLimiter):  # booked an interval from the start, no more
        assert [mode for mode, _ in answers] == ["book", "confirm"]
        assert 0 < answers[0][1] <= 200 and answers[1][1] <= 0, answers


async def test_memory_a_send_never_finished_counts_from_its_start() -> None:
    with virtual_time() as clock:
        limiter = MemoryRateLimiter(time_source=clock.time)
        bucket = Bucket("telegram:chat-1", rate=5, burst=1)
        await limiter.acquire([bucket])
        started = clock.time()
        await limiter.acquire([bucket])
        assert clock.time() - started == pytest.approx(0.2)


async def test_pause_holds_sends_already_booked(coord: Coordination) -> None:
    bucket = Bucket("telegram:chat-1", rate=2, burst=1)
    await coord.limiter.acquire([bucket])
    start = time.monotonic()
    with script_answers(coord.limiter) as answers:
        booked = asyncio.create_task(coord.limiter.acquire([bucket]))  # booked 0.5 s from now
        await asyncio.sleep(0.05)
        await coord.limiter.pause(bucket.key, 1.0)
        await booked
    assert time.monotonic() - start >= 1.0
    if isinstance(coord.limiter, RedisRateLimiter):  # booked again for the pause's end, once
        assert [mode for mode, _ in answers] == ["book", "confirm", "confirm"], answers
        assert 0 < answers[1][1] <= 1000 and answers[2][1] <= 0, answers


async def test_pause_delays_the_next_token(coord: Coordination) -> None:
    chat = Bucket("telegram:chat-1", rate=50, burst=1)
    other = Bucket("telegram:chat-2", rate=50, burst=1)
    await coord.limiter.acquire([chat])
    start = time.monotonic()
    await coord.limiter.pause(chat.key, 0.5)
    order: list[str] = []

    async def send(bucket: Bucket) -> None:
        await coord.limiter.acquire([bucket])
        order.append(bucket.key)

    async with asyncio.timeout(HANG):
        await asyncio.gather(send(chat), send(other))
    assert order == [other.key, chat.key]  # a pause stops only what it names
    assert time.monotonic() - start >= 0.5


async def test_memory_pauses_end_exactly_when_they_say() -> None:
    with virtual_time() as clock:
        limiter = MemoryRateLimiter(time_source=clock.time)
        chat = Bucket("telegram:chat-1", rate=2, burst=1)
        await limiter.acquire([chat])
        start = clock.time()
        booked = asyncio.create_task(limiter.acquire([chat]))  # booked 0.5 s from now
        await asyncio.sleep(0.05)
        await limiter.pause(chat.key, 1.0)  # until 1.05
        await booked
        assert clock.time() - start == pytest.approx(1.05)
        start = clock.time()
        await limiter.pause("never-used", 0.3)
        await limiter.acquire([Bucket("never-used", rate=50, burst=3)])
        assert clock.time() - start == pytest.approx(0.3)


async def test_pause_of_a_fresh_bucket(coord: Coordination) -> None:
    start = time.monotonic()
    with script_answers(coord.limiter) as answers:
        await coord.limiter.pause("never-used", 0.3)
        await coord.limiter.acquire([Bucket("never-used", rate=50, burst=3)])
    assert time.monotonic() - start >= 0.3
    if isinstance(coord.limiter, RedisRateLimiter):  # booked for the pause's end, no later
        assert 0 < answers[0][1] <= 300 and answers[-1][1] <= 0, answers


async def test_limiter_refuses_impossible_buckets(coord: Coordination) -> None:
    with pytest.raises(ValueError, match="rate"):
        await coord.limiter.acquire([Bucket("x", rate=0)])
    with pytest.raises(ValueError, match="burst"):
        await coord.limiter.acquire([Bucket("x", rate=1, burst=0.5)])
    with pytest.raises(ValueError, match="twice"):
        await coord.limiter.acquire([Bucket("x", rate=1), Bucket("x", rate=1)])
    await coord.limiter.acquire([])


async def test_memory_limiter_follows_its_clock() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(time_source=lambda: now[0])
    bucket = Bucket("chat", rate=50, burst=2)  # two sends in any 40 ms
    async with asyncio.timeout(HANG):
        await limiter.acquire([bucket])
        await limiter.acquire([bucket])
    third = asyncio.create_task(limiter.acquire([bucket]))
    await asyncio.sleep(0.1)  # plenty of real time, none of the clock's
    assert not third.done()
    now[0] += 0.039
    await asyncio.sleep(0.02)
    assert not third.done()
    now[0] += 0.001
    async with asyncio.timeout(HANG):
        await third
    await limiter.pause("chat", 1.0)
    now[0] += 0.99
    fourth = asyncio.create_task(limiter.acquire([bucket]))
    await asyncio.sleep(0.05)
    assert not fourth.done()
    now[0] += 0.01
    async with asyncio.timeout(HANG):
        await fourth


async def test_a_late_waker_is_counted_when_it_starts_and_delays_no_one() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(time_source=lambda: now[0])
    bucket = Bucket("telegram", rate=10, burst=2)  # two sends in any 0.2 s
    await limiter.acquire([bucket])
    now[0] = 0.05
    await limiter.acquire([bucket])
    # the window is full until 0.2: `late` is booked for 0.2, `next_one` for 0.25; each sleeps
    # until then, then checks the clock
    late = asyncio.create_task(limiter.acquire([bucket]))
    next_one = asyncio.create_task(limiter.acquire([bucket]))
    await asyncio.sleep(0)  # both booked
    now[0] = 0.24  # `late` wakes 40 ms after its moment and is counted at 0.24
    async with asyncio.timeout(HANG):
        await late
    assert not next_one.done()  # its moment, 0.25, has not come on the limiter's clock
    now[0] = 0.25  # 0.05, 0.24, 0.25: still two in any 0.2 s, so `next_one` goes on time
    async with asyncio.timeout(HANG):
        await next_one


async def test_memory_limiter_forgets_full_buckets() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(time_source=lambda: now[0])
    for n in range(3000):
        await limiter.acquire([Bucket(f"chat-{n}", rate=1, burst=1)])
        now[0] += 0.01
    assert len(limiter) < 2100


def _swallowing(answer: int) -> Callable[..., Awaitable[int]]:
    """A stand-in for a Redis script that blocks until cancelled and then, like
    `asyncio.wait_for` on Python 3.11 inside redis-py, swallows the cancellation."""

    async def script(*, keys: object, args: object) -> int:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        return answer

    return script


def _answering(answer: int) -> Callable[..., Awaitable[int]]:
    async def script(*, keys: object, args: object) -> int:
        return answer

    return script


async def test_redis_waits_end_even_when_a_cancellation_is_swallowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = redis_client(f"redis://127.0.0.1:{free_port()}/0")  # never reached
    try:
        locks = RedisLocks(client, "x:")
        monkeypatch.setattr(locks, "_take_or_renew", _swallowing(0))  # held by another
        monkeypatch.setattr(locks, "_release", _answering(0))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                async with locks.hold("member-1"):
                    pytest.fail("took a lock held by another")
        limiter = RedisRateLimiter(client, "x:")
        monkeypatch.setattr(limiter, "_slots", _swallowing(10))  # booked 10 ms from now
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await limiter.acquire([Bucket("b", rate=1)])
    finally:
        await client.aclose()


# The factory


async def test_factory_without_url_is_in_process() -> None:
    made = await coordination(None)
    assert isinstance(made.queue, MemoryQueue)
    assert isinstance(made.outbox_wakeup, MemoryQueue)
    assert made.queue is not made.outbox_wakeup
    assert isinstance(made.locks, MemoryLocks)
    assert isinstance(made.limiter, MemoryRateLimiter)
    await made.close()


async def test_redis_ready_says_what_is_not_answering() -> None:
    url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    with pytest.raises(CoordinationUnavailable, match="does not answer PING") as raised:
        await redis_ready(url, timeout=2)
    assert "secret" not in str(raised.value)
    assert "127.0.0.1" in str(raised.value)


def test_describe_hides_the_password() -> None:
    assert describe("redis://user:pw@host:6379/1") == "redis://user:***@host:6379/1"
    assert describe("redis://:pw@host/0") == "redis://:***@host/0"
    assert describe("redis://host:6379/0") == "redis://host:6379/0"


# What only Redis does: several processes, a holder that dies, a Redis that restarts.

_HOLDER = """
import asyncio, sys
from bot.pipeline.coordination.factory import redis_client
from bot.pipeline.coordination.redis_locks import RedisLocks

async def main() -> None:
    client = redis_client(sys.argv[1])
    locks = RedisLocks(client, sys.argv[2], ttl=float(sys.argv[3]))
    async with locks.hold("member-1"):
        print("held", flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


class TestRedisOnly:
    __test__ = bool(TEST_REDIS_URL)

    async def test_factory_with_url_shares_one_client(self, redis_prefix: str) -> None:
        made = await coordination(TEST_REDIS_URL, redis_prefix)
        try:
            assert isinstance(made, RedisCoordination)
            assert isinstance(made.queue, RedisQueue)
            assert made.queue.key == f"{redis_prefix}queue:inbox"
            assert isinstance(made.outbox_wakeup, RedisQueue)
            assert made.outbox_wakeup.key == f"{redis_prefix}queue:outbox"
            assert isinstance(made.locks, RedisLocks)
            assert isinstance(made.limiter, RedisRateLimiter)
            assert await made.client.ping()
        finally:
            await made.close()

    async def test_locks_exclude_across_clients(self, redis_prefix: str) -> None:
        one = await coordination(TEST_REDIS_URL, redis_prefix)
        two = await coordination(TEST_REDIS_URL, redis_prefix)
        try:
            counter = {"value": 0}
            await asyncio.gather(
                *(_count_under_lock(process, counter, 3) for process in [one, two] * 5)
            )
            assert counter["value"] == 30
        finally:
            await one.close()
            await two.close()

    async def test_a_lock_is_renewed_while_held_and_expires_when_its_holder_dies(
        self, redis_prefix: str
    ) -> None:
        ttl = 0.5
        holder = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _HOLDER,
            TEST_REDIS_URL,
            redis_prefix,
            str(ttl),
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        client = redis_client(TEST_REDIS_URL)
        locks = RedisLocks(client, redis_prefix, ttl=ttl)
        try:
            assert holder.stdout is not None
            async with asyncio.timeout(20):
                line = await holder.stdout.readline()
            assert line == b"held\n", (await holder.communicate())[1].decode()
            # Alive, the holder keeps its lock for longer than its ttl ...
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(2 * ttl):
                    async with locks.hold("member-1"):
                        pytest.fail("took a lock its living holder renews")
            # ... and dead (its connection gone, no release, no renewal), loses it: within its
            # ttl, which only a loaded machine stretches, and never as late as 20 ttls
            holder.send_signal(signal.SIGKILL)
            await holder.wait()
            async with asyncio.timeout(20 * ttl):
                async with locks.hold("member-1"):
                    pass
        finally:
            if holder.returncode is None:
                holder.kill()
            await holder.communicate()
            await client.aclose()

    async def test_release_never_deletes_another_holders_lock(self, redis_prefix: str) -> None:
        client = redis_client(TEST_REDIS_URL)
        locks = RedisLocks(client, redis_prefix, ttl=0.2)
        key = f"{redis_prefix}lock:member-1"
        try:
            async with locks.hold("member-1"):
                # As if the lock had expired and another process had taken it.
                await client.set(key, "someone-else")
            assert await client.get(key) == b"someone-else"
        finally:
            await client.aclose()

    async def test_hold_free_renews_what_it_holds_and_releases_only_its_own(
        self, redis_prefix: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="bot.pipeline.coordination")
        client = redis_client(TEST_REDIS_URL)
        ttl = 0.3
        locks = RedisLocks(client, redis_prefix, ttl=ttl)
        other = RedisLocks(client, redis_prefix, ttl=ttl)
        try:
            async with locks.hold_free(["member-1", "member-2"]) as held:
                assert held == {"member-1", "member-2"}
                await asyncio.sleep(3 * ttl)
                async with other.hold_free(["member-1", "member-2", "member-3"]) as taken:
                    assert taken == {"member-3"}
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(2 * ttl):
                        async with other.hold("member-2"):
                            pytest.fail("took a lock its living holder renews")
                assert not caplog.records  # never found a lock expired under it
                # As if member-1's lock had expired and another process had taken it.
                await client.set(f"{redis_prefix}lock:member-1", "someone-else")
            assert await client.get(f"{redis_prefix}lock:member-1") == b"someone-else"
            assert not await client.exists(f"{redis_prefix}lock:member-2")
        finally:
            await client.aclose()

    async def test_pop_many_answers_what_it_has_when_redis_goes_away(
        self, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        client = redis_client(TEST_REDIS_URL)
        queue = RedisQueue(client, "inbox", redis_prefix)

        async def unreachable(*args: object) -> None:
            raise RedisConnectionError("gone")

        try:
            for item in ("a", "b"):
                await queue.push(item)
            with monkeypatch.context() as patch:
                patch.setattr(client, "lpop", unreachable)  # after the BLPOP
                assert await queue.pop_many(1, 5) == ["a"]
            assert await queue.pop_many(0, 5) == ["b"]
        finally:
            await client.aclose()

    async def test_two_clients_share_one_bucket(self, redis_prefix: str) -> None:
        one = await coordination(TEST_REDIS_URL, redis_prefix)
        two = await coordination(TEST_REDIS_URL, redis_prefix)
        bucket = Bucket("whatsapp:+15550001111", rate=25, burst=2)
        times: list[float] = []
        try:
            start = time.monotonic()
            await asyncio.gather(
                timed_acquires(one.limiter, [bucket], 15, times),
                timed_acquires(two.limiter, [bucket], 15, times),
            )
            elapsed = time.monotonic() - start
        finally:
            await one.close()
            await two.close()
        assert elapsed >= 28 / 25 - 0.01, elapsed  # 30 tokens: 2 saved up, then 28 intervals
        assert_within_rate(times, rate=25, burst=2, slack=REDIS_SLACK)

    async def test_a_send_with_room_in_every_bucket_starts_in_one_call(
        self, redis_prefix: str
    ) -> None:
        """Two calls of the slot script per acquire only when a bucket is full: with room, the
        booking starts the send (and the next send to the chat, spaced a span later, waits
        and confirms)."""
        client = redis_client(TEST_REDIS_URL)
        try:
            limiter = RedisRateLimiter(client, redis_prefix)
            modes: list[str] = []
            slots = limiter._slots

            async def noting(keys: list[str], args: list[str]) -> Any:
                modes.append(args[0])
                return await slots(keys=keys, args=args)

            limiter._slots = noting  # type: ignore[assignment]
            buckets = [Bucket("all", rate=1000, burst=1000), Bucket("chat", rate=20, burst=1)]
            start = time.monotonic()
            await limiter.acquire(buckets)
            assert modes == ["book"]
            await limiter.acquire(buckets)
            assert modes[1:] == ["book", "confirm"]
            assert time.monotonic() - start >= 0.05 - 0.005  # the chat's spacing held
        finally:
            await client.aclose()

    async def test_buckets_expire_when_idle(self, redis_prefix: str) -> None:
        client = redis_client(TEST_REDIS_URL)
        try:
            limiter = RedisRateLimiter(client, redis_prefix)
            await limiter.acquire([Bucket("chat", rate=10, burst=2)])
            ttl = await client.pttl(f"{redis_prefix}rate:chat")
            assert 0 < ttl <= 201  # a booking counts for one span (2 sends in 0.2 s)
            await limiter.pause("chat", 2)
            ttl = await client.pttl(f"{redis_prefix}rate:chat:pause")
            assert 1800 < ttl <= 2000
            await asyncio.sleep(0.25)
            assert await client.exists(f"{redis_prefix}rate:chat") == 0
        finally:
            await client.aclose()

    async def test_outage_and_restart(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.WARNING, logger="bot.pipeline.coordination")
        prefix = "restart:"
        async with RedisServer() as server:
            made = await coordination(server.url, prefix)
            assert isinstance(made, RedisCoordination)
            impatient_queue = RedisQueue(made.client, "inbox", prefix, push_timeout=0.2)
            impatient_locks = RedisLocks(made.client, prefix, ttl=0.3, unavailable_after=0.2)
            impatient_limiter = RedisRateLimiter(made.client, prefix, unavailable_after=0.2)
            try:
                await made.queue.push("before")
                assert await made.queue.pop(1) == "before"

                async with impatient_locks.hold("member-1"):
                    await server.stop()

                    # answered while Redis is away, not held until it is back (it comes
                    # back below, in this very task: a pop that waited would never end)
                    async with asyncio.timeout(HANG):
                        assert await made.queue.pop(0.2) is None
                        assert await made.queue.pop(0) is None
                        assert await made.queue.pop_many(0.2, 5) == []

                    with pytest.raises(CoordinationUnavailable):
                        await impatient_queue.push("lost")
                    with pytest.raises(CoordinationUnavailable):
                        async with impatient_locks.hold("member-2"):
                            pass
                    with pytest.raises(CoordinationUnavailable):
                        async with impatient_locks.hold_free(["member-2", "member-3"]):
                            pass
                    with pytest.raises(CoordinationUnavailable):
                        await impatient_limiter.acquire([Bucket("b", rate=50)])

                    pending = asyncio.create_task(made.queue.push("during"))
                    await asyncio.sleep(0.2)
                    assert not pending.done()  # still retrying
                    await server.start()
                    async with asyncio.timeout(6):
                        await pending
                    # The restarted Redis is empty; the renewal takes the held lock again.
                    await asyncio.sleep(0.3)
                    assert await made.client.exists(f"{prefix}lock:member-1")

                assert not await made.client.exists(f"{prefix}lock:member-1")
                assert await made.queue.pop(1) == "during"
                await made.queue.push("after")
                assert await made.queue.pop(1) == "after"
                async with asyncio.timeout(2):
                    async with made.locks.hold("member-1"):
                        pass
                    await made.limiter.acquire([Bucket("b", rate=50)])
                    await made.limiter.pause("b", 0.01)
            finally:
                await made.close()
        assert "answers nothing until it is back" in caplog.text
        assert "was taken again" in caplog.text


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs TEST_REDIS_URL")
async def test_the_redis_slot_search_agrees_with_the_python_one() -> None:
    """`earliest` as the Redis script runs it, on random booked sets, against `slots.earliest`
    (in milliseconds, as the script keeps them)."""
    import random

    from bot.pipeline.coordination.redis_limiter import _SLOTS
    from bot.pipeline.coordination.slots import earliest

    function = _SLOTS[_SLOTS.index("local EPSILON") : _SLOTS.index("local function book")]
    script_text = function + (
        "local times = {}\n"
        "for i = 4, #ARGV do times[#times + 1] = tonumber(ARGV[i]) end\n"
        "return tostring(earliest(times, tonumber(ARGV[1]), tonumber(ARGV[2]), "
        "tonumber(ARGV[3])))\n"
    )
    client = redis_client(TEST_REDIS_URL)
    try:
        script = client.register_script(script_text)
        chance = random.Random(7)
        for _ in range(300):
            limit = chance.randint(1, 4)
            span = float(chance.randint(1, 200) * 10)
            times: list[float] = []
            for _ in range(chance.randint(0, 20)):
                times.append(earliest(times, limit, span, float(chance.randint(0, 4000))))
                times.sort()
            start = float(chance.randint(0, 5000))
            expected = earliest(times, limit, span, start)
            got = await script(keys=[], args=[limit, span, start, *times])
            assert float(got) == pytest.approx(expected), (limit, span, times, start)
    finally:
        await client.aclose()
