"""How much does storing one answer cost, the way a conversation turn stores it?

Each iteration is one transaction, as the worker commits a turn: an answer row, the session's
save and the outbound message that answers the member. The figures are per transaction,
commit included.

    python benchmarks/stored_answer.py                      # SQLite file in a temp directory
    python benchmarks/stored_answer.py --database-url postgresql://postgres@127.0.0.1/bench

The database is migrated to head and rows are written into it: point it at a scratch database.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from storage import Database
from storage.repositories.answers import NewAnswer
from storage.repositories.messages import message_values


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def measure(url: str, count: int, warmup: int) -> list[float]:
    """Seconds taken by each of `count` turns, after `warmup` unmeasured ones."""
    database = Database(url)
    try:
        await database.upgrade()
        start = datetime.now(UTC)
        tag = uuid.uuid4().hex[:8]
        async with database.transaction() as uow:
            group = await uow.groups.create(f"Benchmark {tag}", "UTC", "en", "USD", at=start)
            member = await uow.members.create("console", f"bench-{tag}", "en", "USD", at=start)
            await uow.members.join_group(member.id, group.id, start)
            session = await uow.sessions.start(
                member.id, "weekly_checkin", 1, "sales", {"answers": {}}, start
            )
        timings: list[float] = []
        for turn in range(warmup + count):
            at = start + timedelta(seconds=turn)
            amount = Decimal(1500 + turn) + Decimal("0.50")
            began = time.perf_counter()
            async with database.transaction() as uow:
                await uow.answers.add(
                    NewAnswer(
                        session_id=session.id,
                        member_id=member.id,
                        group_id=group.id,
                        checkin_id="weekly_checkin",
                        step_id="sales",
                        answer_type="money",
                        value_number=amount,
                        currency="USD",
                        raw_text=str(amount),
                        at=at,
                    )
                )
                await uow.sessions.save(
                    session.id, "gave_help", "active", {"answers": {"sales": str(amount)}}, at
                )
                question = message_values(
                    member.id,
                    "console",
                    f"bench-{tag}",
                    "out",
                    "Did you help another member this week?",
                    {"choices": [{"id": "yes"}, {"id": "no"}]},
                    "queued",
                    None,
                    at,
                )
                await uow.messages.log_many([question])
            if turn >= warmup:
                timings.append(time.perf_counter() - began)
        return timings
    finally:
        await database.dispose()


def report(backend: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    total = sum(timings)
    return (
        f"{backend}: {len(timings)} answers in {total:.2f} s = {len(timings) / total:,.0f} "
        f"answers/s; mean {statistics.mean(timings) * 1000:.2f} ms, "
        f"p50 {percentile(ordered, 0.50) * 1000:.2f} ms, "
        f"p99 {percentile(ordered, 0.99) * 1000:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: an SQLite file in a temp directory")
    parser.add_argument("--count", type=int, default=2000, help="measured turns (2000)")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured turns first (50)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = arguments.database_url or f"sqlite:///{Path(directory) / 'bench.db'}"
        timings = asyncio.run(measure(url, arguments.count, arguments.warmup))
        print(report(Database(url).backend, timings))


if __name__ == "__main__":
    main()
