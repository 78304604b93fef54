"""The outbox claim and the retention pass over a large message log, with and without their
partial indexes, on SQLite and PostgreSQL.

A scratch database (a temporary SQLite file, or a PostgreSQL database created next to
`--database-url` and dropped afterwards) is migrated to the newest revision and filled with
`--sent` outbound messages already sent (half of them older than the retention period and
redacted, as the retention pass leaves them) and then, with no ANALYZE after them, `--queued`
queued lines to as many chats, as a broadcast leaves them. On PostgreSQL the statistics are taken
after the sent rows only, so the planner sees a log with (almost) nothing queued: the situation
after a broadcast is queued and before autovacuum has noticed.

Then, for each variant (the indexes as shipped; without them), it prints the plans (EXPLAIN on
the statement the repository really runs, with its parameters) and times:

- `claim_due`: `--rounds` claims of 200 lines, each rolled back, so every claim sees the same
  queue;
- the retention pass (`redact_before`) when nothing is left to redact, as every hourly pass
  finds it once the backlog is worked off.

    python benchmarks/outbox_indexes.py --backend sqlite
    python benchmarks/outbox_indexes.py --backend postgresql \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.scratch import scratch_database  # noqa: E402
from storage import Database  # noqa: E402
from storage.models import Base  # noqa: E402

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
RETENTION = timedelta(days=365)
CHUNK = 5_000
VARIANTS = {
    "claim": ("ix_messages_outbox", "ix_messages_outbox_chat"),
    "retention": ("ix_messages_unredacted",),
}


def rows(first: int, count: int, *, status: str, old: bool) -> list[dict[str, Any]]:
    at = NOW - RETENTION - timedelta(days=30) if old else NOW - timedelta(days=1)
    return [
        {
            "member_id": None,
            "channel": "telegram",
            "address_value": str(8_000_000 + number),
            "direction": "out",
            "text": "" if old else f"line {number}",
            "payload": {"nudge": "broadcast"} if status == "queued" else None,
            "status": status,
            "provider_message_id": None if status == "queued" else f"p{number}",
            "error_code": None,
            "created_at": at,
            "updated_at": at,
        }
        for number in range(first, first + count)
    ]


async def fill(database: Database, sent: int, queued: int, analyze: bool) -> None:
    for first in range(0, sent, CHUNK):
        count = min(CHUNK, sent - first)
        async with database.transaction() as uow:
            await uow.messages.log_many(rows(first, count, status="sent", old=first < sent // 2))
    if analyze:
        async with database.transaction() as uow:
            await uow.session.execute(text("ANALYZE messages"))
    for first in range(sent, sent + queued, CHUNK):
        count = min(CHUNK, sent + queued - first)
        async with database.transaction() as uow:
            await uow.messages.log_many(rows(first, count, status="queued", old=False))


@contextlib.asynccontextmanager
async def capturing(database: Database) -> AsyncIterator[list[tuple[str, Any]]]:
    """Every (statement, parameters) the driver is given while the block runs."""
    seen: list[tuple[str, Any]] = []

    def note(conn: Connection, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    engine = database._engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def plan_of(database: Database, statement: str, parameters: Any, dialect: str) -> str:
    """The plan of a SELECT the repository ran; on PostgreSQL run (EXPLAIN ANALYZE), so the
    plan carries the server's own execution time, free of the client's share."""
    explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (ANALYZE) "
    async with database.read() as uow:
        connection = await uow.session.connection()
        result = await connection.exec_driver_sql(explain + statement, parameters)
        lines = [" ".join(str(part) for part in row) for row in result]
    return "\n".join(lines)


async def timed(
    database: Database, work: Callable[[Any], Any], rounds: int
) -> tuple[list[float], Any]:
    """Seconds per round of `work(uow)`, each in a transaction rolled back afterwards."""
    times: list[float] = []
    answer = None
    for _ in range(rounds):
        with contextlib.suppress(_RolledBack):
            async with database.transaction() as uow:
                started = time.perf_counter()
                answer = await work(uow)
                times.append(time.perf_counter() - started)
                raise _RolledBack
    return times, answer


class _RolledBack(Exception):
    """Ends a timed transaction without committing it."""


async def measure(database: Database, dialect: str, rounds: int) -> dict[str, Any]:
    async def claim(uow: Any) -> int:
        return len(await uow.messages.claim_due(NOW, timedelta(seconds=15), limit=200))

    async def retention(uow: Any) -> int:
        return int(await uow.member_data.redact_before(NOW - RETENTION, 1000))

    found: dict[str, Any] = {}
    for name, work, marker in (
        ("claim_due", claim, "max("),  # the window over the outbox
        ("redact_before", retention, "!= ''"),  # the search for words past retention
    ):
        async with capturing(database) as seen:
            await timed(database, work, 1)
        statement, parameters = next((s, p) for s, p in seen if marker in s.lower())
        plan = await plan_of(database, statement, parameters, dialect)
        times, answer = await timed(database, work, rounds)
        found[name] = {
            "answer": answer,
            "median_ms": round(1000 * statistics.median(times), 2),
            "max_ms": round(1000 * max(times), 2),
            "plan": plan,
        }
    return found


async def drop(database: Database, names: tuple[str, ...]) -> None:
    async with database.transaction() as uow:
        for name in names:
            await uow.session.execute(text(f"DROP INDEX {name}"))
    # a pooled connection may keep statements prepared against the old schema
    await database.dispose()


async def message_indexes(database: Database, dialect: str) -> list[str]:
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'"
        if dialect == "sqlite"
        else "SELECT indexname FROM pg_indexes WHERE tablename = 'messages'"
    )
    async with database.read() as uow:
        return sorted(str(name) for name in await uow.session.scalars(text(query)))


async def create(database: Database, names: tuple[str, ...]) -> None:
    indexes = {str(index.name): index for index in Base.metadata.tables["messages"].indexes}

    def create_each(connection: Connection) -> None:
        for name in names:
            indexes[name].create(connection)

    async with database.transaction() as uow:
        await (await uow.session.connection()).run_sync(create_each)


async def run(options: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "backend": options.backend,
        "sent": options.sent,
        "queued": options.queued,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg(),
    }
    async with scratch_database(options.backend, options.database_url, "outbox") as url:
        database = Database(url)
        try:
            await database.upgrade()
            started = time.perf_counter()
            await fill(database, options.sent, options.queued, options.backend == "postgresql")
            results["fill_s"] = round(time.perf_counter() - started, 1)
            every = tuple(name for names in VARIANTS.values() for name in names)
            results["with the indexes"] = await measure(database, options.backend, options.rounds)
            await drop(database, every)
            results["indexes left"] = await message_indexes(database, options.backend)
            results["without them"] = await measure(database, options.backend, options.rounds)
            await create(database, every)
        finally:
            await database.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--sent", type=int, default=100_000)
    parser.add_argument("--queued", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=20)
    options = parser.parse_args()
    results = asyncio.run(run(options))
    for variant in ("with the indexes", "without them"):
        for name, found in results[variant].items():
            print(f"--- {variant}: {name}: {found['median_ms']} ms median, {found['max_ms']} max")
            print(found["plan"])
    variants = ("with the indexes", "without them")
    summary = {key: value for key, value in results.items() if key not in variants}
    for variant in ("with the indexes", "without them"):
        summary[variant] = {
            name: {k: v for k, v in found.items() if k != "plan"}
            for name, found in results[variant].items()
        }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
