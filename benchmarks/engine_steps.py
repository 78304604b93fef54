"""Engine throughput and memory: steps per second on the weekly check-in, bytes per session.

A "step" is one `handle()` call with a member's reply: parse, validate, record, branch, say the
next question (rendering is not included: it happens once per message, outside the engine).
Memory is measured with tracemalloc over N live sessions, each halfway through the weekly
check-in with typed answers, as the worker would hold them.

    python benchmarks/engine_steps.py [--seconds 5] [--sessions 100000]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
import tracemalloc
from decimal import Decimal

from bot.i18n.catalogs import load_catalogs
from bot.turns.checkins import load_checkins
from conversations.answers import GroupRef, MemberRef, Money
from conversations.context import Context, MemberProfile
from conversations.engine import handle
from conversations.inputs import Reply
from conversations.session import SessionState

REPLIES = [
    "checkin",
    "ksh 2,500",
    "1.2k",
    "300",
    "yes",
    "Joseph",
    "2",
    "yes",
    "grace w",
    "1",
    "Rain kept customers away",
    "Open a second stall",
    "Sold out of tomatoes!",
    "yes",
]


def context(checkins, now):  # type: ignore[no-untyped-def]
    profile = MemberProfile(
        id=1,
        locale="en",
        default_currency="KES",
        name="Amina",
        currency="KES",
        consent=True,
        onboarded=True,
        group=GroupRef(7, "Kibera Market Peers", "KMP123"),
    )
    peers = (
        MemberRef(2, "Grace Wanjiku"),
        MemberRef(3, "Grace Achieng"),
        MemberRef(4, "Joseph Otieno"),
    )
    return Context(now, profile, checkins.catalogs, checkins.lexicon, peers)


def steps_per_second(seconds: float) -> tuple[float, int]:
    from datetime import UTC, datetime

    checkins = load_checkins(load_catalogs())
    ctx = context(checkins, datetime(2026, 11, 27, 9, tzinfo=UTC))
    library = checkins.library
    replies = [Reply(text=text) for text in REPLIES]
    steps = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        session = None
        for reply in replies:
            session = handle(library, session, reply, ctx).session
        assert session is None, "the weekly check-in should be complete"
        steps += len(replies)
    return steps / (time.perf_counter() - started), steps


def bytes_per_session(count: int) -> float:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 27, 9, tzinfo=UTC)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    sessions = []
    for i in range(count):
        sessions.append(
            SessionState(
                "weekly_checkin",
                1,
                "gave_help_to",
                now,
                answers={
                    "sales": Money(Decimal(2500 + i), "KES"),
                    "costs": Money(Decimal("1200.50"), "KES"),
                    "saved": Money(Decimal(300), "KES"),
                    "gave_help": True,
                },
            )
        )
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sessions", type=int, default=100_000)
    args = parser.parse_args()
    rate, steps = steps_per_second(args.seconds)
    per_session = bytes_per_session(args.sessions)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"engine: {rate:,.0f} steps/s on one core ({steps:,} steps of the weekly check-in)")
    print(
        f"memory: {per_session:,.0f} bytes per active session; "
        f"{args.sessions:,} sessions = {per_session * args.sessions / 2**20:,.1f} MiB"
    )


if __name__ == "__main__":
    main()
