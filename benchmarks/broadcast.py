"""A broadcast to 100,000 members on PostgreSQL: planning, queuing, memory, and the send rate.

In a scratch database (created here, dropped at the end) it bulk-loads (COPY) `--members`
members in groups of eight, with one address each (60% Telegram, 30% WhatsApp, 10% SMS; 2% opted
out, 1% blocked), five languages, and a weekly check-in `sales` answer each. Quiet hours are off
for every group so that the whole audience is due at once. Then it measures:

1. the dry run: `audience_counts` for everyone, and for a segment on the latest answers;
2. `run_broadcast` to everyone (texts in English and Swahili): the time to plan (ONE
   INSERT … SELECT into broadcast_recipients) and the time to queue every outbox row (batches of
   `--batch`, one transaction each); peak RSS of this process (`resource.getrusage`);
3. the send rate: the real `Sender` (in-process coordination) with the real Telegram adapter
   (python-telegram-bot) against `tests.fakes.telegram_api.FakeTelegram` enforcing `--send-limit`
   sends a second, our limit the same, for `--send-seconds`: achieved rate / limit and the fake's
   429s.
   The fake runs in a child process (`--in-process-fake`: in this event loop, as the tests do),
   so that, as with a real provider, it does not take the sender's core.

    python benchmarks/broadcast.py                       # 100,000 members, about a minute
    python benchmarks/broadcast.py --members 20000 --send-limit 100 --send-seconds 10
    python benchmarks/broadcast.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

The server is `--database-url` (default: TEST_DATABASE_URL, else the local postgres database);
the scratch database is created next to it and always dropped, on errors and Ctrl-C too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # for `tests.fakes`, which is not an installed package
    sys.path.insert(0, str(ROOT))

from bot.broadcasts.running import run_broadcast  # noqa: E402
from bot.broadcasts.segments import load_schema, parse  # noqa: E402
from storage import Database  # noqa: E402
from storage.models import Message  # noqa: E402
from storage.repositories.broadcasts import Audience  # noqa: E402
from storage.urls import async_url  # noqa: E402

TOKEN = "123456:BENCH-token"
GROUP_SIZE = 8
LOCALES = ("en", "sw", "es", "fil", "fr")
BUSINESS_TYPES = ("food", "retail", "services", "farming", "making", "other")
TEXTS = {
    "en": "Market day moves to Thursday this week. Bring your price lists!",
    "sw": "Siku ya soko ni Alhamisi wiki hii. Leteni orodha zenu za bei!",
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def dsn(url: str) -> str:
    return async_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# --- setup ----------------------------------------------------------------------------------


async def fill(url: str, members: int, now: datetime) -> dict[str, int]:
    """Bulk-load groups, members, addresses, memberships and one weekly sales answer each."""
    connection = await asyncpg.connect(dsn(url))
    try:
        groups = (members + GROUP_SIZE - 1) // GROUP_SIZE
        long_ago = now - timedelta(days=60)
        await connection.copy_records_to_table(
            "groups",
            columns=[
                "id", "name", "name_key", "join_code", "timezone", "language", "currency",
                "created_at", "quiet_start", "quiet_end",
            ],
            records=(
                (g, f"Group {g}", f"group {g}", f"{g:06X}", "Africa/Nairobi",
                 LOCALES[g % 2], "KES", long_ago, "00:00", "00:00")
                for g in range(1, groups + 1)
            ),
        )  # fmt: skip
        await connection.copy_records_to_table(
            "members",
            columns=[
                "id", "name", "locale", "currency", "business_type", "consent", "opted_out",
                "onboarded_at", "created_at", "updated_at",
            ],
            records=(
                (m, f"Member {m}", LOCALES[m % len(LOCALES)], "KES",
                 BUSINESS_TYPES[m % len(BUSINESS_TYPES)], True, m % 50 == 0, long_ago,
                 long_ago, long_ago)
                for m in range(1, members + 1)
            ),
        )  # fmt: skip

        def address(m: int) -> tuple[Any, ...]:
            slot = m % 10
            channel = "telegram" if slot < 6 else "whatsapp" if slot < 9 else "sms"
            value = str(7_000_000_000 + m) if channel == "telegram" else f"+2547{m:08d}"
            seen = now - timedelta(hours=m % 240)
            blocked = long_ago if m % 100 == 7 else None
            return (m, m, channel, value, long_ago, seen, blocked)

        await connection.copy_records_to_table(
            "addresses",
            columns=[
                "id", "member_id", "channel", "value", "created_at", "last_inbound_at",
                "blocked_at",
            ],
            records=(address(m) for m in range(1, members + 1)),
        )  # fmt: skip
        await connection.copy_records_to_table(
            "memberships",
            columns=["id", "member_id", "group_id", "joined_at"],
            records=((m, m, (m - 1) // GROUP_SIZE + 1, long_ago) for m in range(1, members + 1)),
        )
        week = now - timedelta(days=3)
        await connection.copy_records_to_table(
            "sessions",
            columns=[
                "id", "member_id", "checkin_id", "checkin_version", "status", "step_id",
                "state", "started_at", "updated_at", "ended_at", "end_reason",
            ],
            records=(
                (m, m, "weekly_checkin", 1, "completed", None, "{}", week, week, week,
                 "completed")
                for m in range(1, members + 1)
            ),
        )  # fmt: skip
        await connection.copy_records_to_table(
            "answers",
            columns=[
                "id", "session_id", "member_id", "group_id", "checkin_id", "step_id",
                "answer_type", "value_number", "currency", "skipped", "created_at",
            ],
            records=(
                (m, m, m, (m - 1) // GROUP_SIZE + 1, "weekly_checkin", "sales", "money",
                 Decimal(m % 3000), "KES", False, week)
                for m in range(1, members + 1)
            ),
        )  # fmt: skip
        for table in ("groups", "members", "addresses", "memberships", "sessions", "answers"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await connection.execute("ANALYZE")
        return {"groups": groups, "members": members}
    finally:
        await connection.close()


# --- the phases -----------------------------------------------------------------------------


async def dry_runs(database: Database) -> dict[str, Any]:
    schema = load_schema()
    results: dict[str, Any] = {}
    for label, text in (("everyone", ""), ("segment", "business_type=food, sales>=1000")):
        segment = parse(text, schema)
        began = time.perf_counter()
        async with database.transaction() as uow:
            counts = await uow.broadcasts.audience_counts(Audience(None, None, segment.conditions))
        seconds = time.perf_counter() - began
        results[label] = {
            "segment": segment.text,
            "seconds": round(seconds, 2),
            "matching": counts.total,
            "receiving": counts.receiving,
            "channels": counts.channels,
            "skipped": counts.skipped,
        }
        log(
            f"  dry run {label} ({segment.text or 'no segment'}): {counts.total:,} match, "
            f"{counts.receiving:,} would receive, in {seconds:.2f} s"
        )
    return results


async def broadcast(database: Database, batch: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    async with database.transaction() as uow:
        record = await uow.broadcasts.create(
            created_by_id=None,
            group_id=None,
            language=None,
            segment=None,
            texts=TEXTS,
            scheduled_at=now,
            at=now,
        )
    marks: dict[str, float] = {}
    began = time.perf_counter()

    def progress(done: int, total: int) -> None:
        marks.setdefault("planned", time.perf_counter())
        if done == total or done % (batch * 20) < batch:
            log(f"  queued {done:,}/{total:,}")

    rss_before = current_rss_mib()
    totals = await run_broadcast(
        database, record.id, lambda: datetime.now(UTC), batch=batch, progress=progress
    )
    finished = time.perf_counter()
    planned = marks.get("planned", finished)
    async with database.read() as uow:
        queued_rows = await uow.session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == "out", Message.status == "queued")
        )
    return {
        "broadcast_id": record.id,
        "recipients": totals.recipients,
        "queued": totals.queued,
        "skipped": totals.skipped,
        "outbox_rows": queued_rows,
        "plan_seconds": round(planned - began, 2),
        "enqueue_seconds": round(finished - planned, 2),
        "enqueue_rows_per_second": round(totals.queued / max(finished - planned, 1e-9)),
        "total_seconds": round(finished - began, 2),
        "batch": batch,
        "rss_before_mib": round(rss_before, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


class FakeInChild:
    """`FakeTelegram` in a child process (this script with `--fake-telegram LIMIT`), so that the
    provider does not share the sender's event loop and core, as a real one never does. Asked
    over its stdin; its send times are `time.monotonic()`, the same clock in every process."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.url = ""
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> FakeInChild:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--fake-telegram",
            str(self.limit),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024,  # the "times" answer lists every send: megabytes of JSON
        )
        assert self._process.stdout is not None
        self.url = (await self._process.stdout.readline()).decode().strip()
        if not self.url.startswith("http"):
            raise RuntimeError(f"the fake Telegram did not start: {self.url!r}")
        return self

    async def ask(self, what: str) -> dict[str, Any]:
        assert self._process is not None and self._process.stdin and self._process.stdout
        self._process.stdin.write(f"{what}\n".encode())
        await self._process.stdin.drain()
        answer: dict[str, Any] = json.loads(await self._process.stdout.readline())
        return answer

    async def __aexit__(self, *exc: object) -> None:
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            await self._process.wait()


async def serve_fake(limit: float) -> None:
    """The child's side of `FakeInChild`: "count" and "times" answered as JSON lines."""
    from tests.fakes.telegram_api import FakeTelegram

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with FakeTelegram(TOKEN, global_per_second=limit) as fake:
        print(fake.url, flush=True)
        while line := await reader.readline():
            answer: dict[str, Any] = {"sent": len(fake.sent), "rate_limited": fake.rate_limited}
            if line.strip() == b"times":
                answer["times"] = [float(sent["at"]) for sent in fake.sent]
            print(json.dumps(answer), flush=True)


async def send_rate(
    database: Database, limit: float, seconds: float, in_process: bool = False
) -> dict[str, Any]:
    from bot.channels.telegram import TelegramChannel
    from bot.pipeline.coordination.factory import coordination
    from bot.pipeline.sender import Limits, Sender
    from tests.fakes.telegram_api import FakeTelegram

    fake: Any = FakeTelegram(TOKEN, global_per_second=limit) if in_process else FakeInChild(limit)

    async def stats(times: bool = False) -> dict[str, Any]:
        if in_process:
            found = {"sent": len(fake.sent), "rate_limited": fake.rate_limited}
            return {**found, "times": [float(line["at"]) for line in fake.sent]}
        answer: dict[str, Any] = await fake.ask("times" if times else "count")
        return answer

    async with fake:
        channel = TelegramChannel(TOKEN, api_url=fake.url)
        shared = await coordination(None)
        sender = Sender(
            database,
            shared,
            {"telegram": channel},
            Limits(telegram_per_second=limit),
            lambda: datetime.now(UTC),
        )
        stop = asyncio.Event()
        began, cpu_began = time.monotonic(), time.process_time()
        cpu_used = 0.0
        running = asyncio.create_task(sender.run(stop))
        try:
            while time.monotonic() - began < seconds:
                await asyncio.sleep(min(5.0, seconds - (time.monotonic() - began)))
                so_far = await stats()
                log(f"  sent {so_far['sent']:,}, {so_far['rate_limited']} answered 429")
            cpu_used = time.process_time() - cpu_began
        finally:
            stop.set()
            await running
            await shared.close()
            await channel.close()
        ended = time.monotonic()
        final = await stats(times=True)
    times = sorted(final["times"])
    window = [moment for moment in times if moment <= began + seconds]
    steady = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {
        "limit_per_second": limit,
        "fake": "in this process" if in_process else "in a child process",
        "seconds": round(ended - began, 1),
        "sent": len(times),
        "first_send_after_seconds": round(times[0] - began, 2) if times else None,
        "achieved_per_second": round(steady, 1),
        "achieved_of_limit_percent": round(100 * steady / limit, 1),
        "overall_per_second": round(len(window) / seconds, 1),
        "overall_of_limit_percent": round(100 * len(window) / seconds / limit, 1),
        "peak_in_any_second": peak_per_second(times),
        "rate_limited_429": final["rate_limited"],
        "process_cpu_percent_in_window": round(100 * cpu_used / seconds),
    }


def peak_per_second(times: Sequence[float]) -> int:
    """The most arrivals inside any window of one second (as the fake counts them)."""
    peak, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


# --- main -----------------------------------------------------------------------------------


async def run(options: argparse.Namespace) -> dict[str, Any]:
    admin = async_url(options.database_url)
    name = f"mutuality_bench_{uuid.uuid4().hex[:12]}"
    admin_connection = await asyncpg.connect(dsn(options.database_url))
    try:
        await admin_connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin_connection.close()
    url = admin.set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "members": options.members,
    }
    try:
        began = time.perf_counter()
        await database.upgrade()
        log(f"scratch database {name}: loading {options.members:,} members")
        await fill(url, options.members, datetime.now(UTC))
        result["setup_seconds"] = round(time.perf_counter() - began, 1)
        log(f"  loaded in {result['setup_seconds']} s")
        async with database.transaction() as uow:
            version = await uow.session.scalar(_text("SHOW server_version"))
        result["postgresql"] = str(version)
        log("phase 1: dry runs")
        result["dry_run"] = await dry_runs(database)
        log("phase 2: the broadcast (plan, then queue)")
        result["broadcast"] = await broadcast(database, options.batch)
        b = result["broadcast"]
        log(
            f"  planned {b['recipients']:,} in {b['plan_seconds']} s, queued {b['queued']:,} in "
            f"{b['enqueue_seconds']} s; peak RSS {b['peak_rss_mib']} MiB"
        )
        if options.send_seconds > 0:
            log(
                f"phase 3: the sender at {options.send_limit:g}/s against the fake, "
                f"{options.send_seconds:g} s"
            )
            result["sender"] = await send_rate(
                database, options.send_limit, options.send_seconds, options.in_process_fake
            )
    finally:
        await database.dispose()
        if options.keep_database:
            log(f"kept the scratch database: {url}")
        else:
            admin_connection = await asyncpg.connect(dsn(options.database_url))
            try:
                await admin_connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin_connection.close()
    return result


def _text(statement: str) -> Any:
    from sqlalchemy import text

    return text(statement)


def report(result: dict[str, Any]) -> None:
    b, s = result["broadcast"], result.get("sender")
    print()
    print(f"machine: {result['machine']}, PostgreSQL {result.get('postgresql', '?')}")
    print(f"setup (COPY {result['members']:,} members and their rows): {result['setup_seconds']} s")
    for label, dry in result["dry_run"].items():
        print(
            f"dry run, {label} ({dry['segment'] or 'no segment'}): {dry['seconds']} s, "
            f"{dry['matching']:,} match, {dry['receiving']:,} would receive"
        )
    print(
        f"plan: {b['plan_seconds']} s for {b['recipients']:,} recipients "
        f"({b['queued']:,} to queue, skipped {b['skipped']})"
    )
    print(
        f"queue: {b['enqueue_seconds']} s for {b['queued']:,} outbox rows "
        f"({b['enqueue_rows_per_second']:,}/s, batches of {b['batch']})"
    )
    print(f"RSS before {b['rss_before_mib']} MiB, peak {b['peak_rss_mib']} MiB")
    if s is None:
        return
    print(
        f"send: {s['achieved_per_second']}/s of {s['limit_per_second']:g}/s = "
        f"{s['achieved_of_limit_percent']}% (overall {s['overall_of_limit_percent']}%, "
        f"{s['sent']:,} sent in {s['seconds']} s, peak {s['peak_in_any_second']} in a second, "
        f"fake {s['fake']}), "
        f"{s['rate_limited_429']} 429s; this process used "
        f"{s['process_cpu_percent_in_window']}% of a core meanwhile"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--send-limit", type=float, default=200.0)
    parser.add_argument("--send-seconds", type=float, default=20.0)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server to create the scratch database on",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the scratch database"
    )
    parser.add_argument(
        "--in-process-fake",
        action="store_true",
        help="run the fake Telegram in this process's event loop (default: a child process)",
    )
    parser.add_argument("--fake-telegram", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args(argv)
    if options.fake_telegram is not None:
        asyncio.run(serve_fake(options.fake_telegram))
        return 0
    result = asyncio.run(run(options))
    report(result)
    if options.json:
        options.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
