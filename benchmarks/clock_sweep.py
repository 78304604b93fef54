"""How long one clock sweep takes over 1,000,000 members on PostgreSQL.

Builds a scratch database (dropped afterwards) with `--members` members in groups of seven,
each with a Telegram address, and `--active` running weekly check-ins whose next reminder or
expiry is spread over the coming week, bulk-loaded with COPY. Then times `Sweeper.sweep()`:

- idle: nothing is due (the common case, every 30 s);
- reminders: `--due` sessions have come due (a sweep handles up to the batch, 1,000);
- invitations: a batch of groups reaches its weekly moment (1,000 groups, 7,000 members).

The sweep finds what is due with indexed range queries and writes timer events in bulk; nothing
loads all members into Python.

    python benchmarks/clock_sweep.py --database-url postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import text

from bot.i18n.catalogs import load_catalogs
from bot.pipeline.coordination.factory import coordination
from bot.schedule.sweeper import Sweeper, SweepPolicy
from bot.turns.checkins import load_checkins
from storage import Database

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday, 15:00 in Nairobi
GROUP_SIZE = 7


def summary(report: object) -> str:
    if report is None:
        return "lease held elsewhere"
    fields = ("invitations", "reminders", "skipped", "expiries", "deferred")
    return ", ".join(f"{name} {getattr(report, name)}" for name in fields)


def state(started: datetime) -> str:
    return json.dumps(
        {
            "checkin_id": "weekly_checkin",
            "version": 1,
            "step_id": "sales",
            "started_at": started.isoformat(),
            "status": "active",
            "answers": {},
            "attempts": 0,
            "pending": [],
            "reminders_sent": 0,
            "interjection": None,
        }
    )


async def load(dsn: str, members: int, active: int, due: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        groups = -(-members // GROUP_SIZE)
        far = NOW + timedelta(days=3)
        started = time.perf_counter()
        await connection.copy_records_to_table(
            "groups",
            columns=[
                "id",
                "name",
                "name_key",
                "join_code",
                "timezone",
                "language",
                "currency",
                "created_at",
                "next_checkin_at",
                "next_highlight_at",
            ],
            records=(
                (
                    g,
                    f"Group {g}",
                    f"group {g}",
                    f"G{g:05X}"[-6:],
                    "Africa/Nairobi",
                    "en",
                    "KES",
                    NOW,
                    far,
                    far,
                )
                for g in range(1, groups + 1)
            ),
        )
        await connection.copy_records_to_table(
            "members",
            columns=[
                "id",
                "name",
                "locale",
                "currency",
                "consent",
                "opted_out",
                "onboarded_at",
                "created_at",
                "updated_at",
            ],
            records=(
                (m, f"Member {m}", "en", "KES", True, False, NOW, NOW, NOW)
                for m in range(1, members + 1)
            ),
        )
        await connection.copy_records_to_table(
            "addresses",
            columns=["id", "member_id", "channel", "value", "created_at", "last_inbound_at"],
            records=(
                (m, m, "telegram", str(10_000_000 + m), NOW, NOW - timedelta(hours=m % 48))
                for m in range(1, members + 1)
            ),
        )
        await connection.copy_records_to_table(
            "memberships",
            columns=["id", "member_id", "group_id", "joined_at"],
            records=((m, m, (m - 1) // GROUP_SIZE + 1, NOW) for m in range(1, members + 1)),
        )
        rows = []
        for s in range(1, active + 1):
            begun = NOW - timedelta(hours=25) if s <= due else NOW - timedelta(hours=1)
            nudge = begun + timedelta(hours=24) if s > due else NOW - timedelta(minutes=5)
            rows.append(
                (
                    s,
                    s,
                    "weekly_checkin",
                    1,
                    "active",
                    "sales",
                    state(begun),
                    begun,
                    begun,
                    nudge,
                    begun + timedelta(days=6),
                )
            )
        await connection.copy_records_to_table(
            "sessions",
            columns=[
                "id",
                "member_id",
                "checkin_id",
                "checkin_version",
                "status",
                "step_id",
                "state",
                "started_at",
                "updated_at",
                "next_nudge_at",
                "expires_at",
            ],
            records=rows,
        )
        for table in ("groups", "members", "addresses", "memberships", "sessions"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await connection.execute("ANALYZE")
        print(
            f"loaded {members:,} members, {groups:,} groups, {active:,} active check-ins "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    finally:
        await connection.close()


async def timed_sweep(clock: Sweeper) -> tuple[float, object]:
    started = time.perf_counter()
    report = await clock.sweep()
    return time.perf_counter() - started, report


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="an admin connection; a scratch database is created beside it",
    )
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--active", type=int, default=300_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    name = f"bench_clock_{uuid.uuid4().hex[:8]}"
    admin_dsn = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    database = Database(dsn)
    try:
        await database.upgrade()
        await load(dsn, args.members, args.active, args.due)
        checkins = load_checkins(load_catalogs())
        coordinated = await coordination(None)
        moment = {"now": NOW}
        clock = Sweeper(
            database,
            checkins,
            coordinated.queue,
            lambda: moment["now"],
            SweepPolicy(),
            holder="bench",
        )

        figures: dict[str, list[float]] = {"idle": [], "reminders": [], "invitations": []}
        # the first sweep finds the due reminders
        seconds, report = await timed_sweep(clock)
        figures["reminders"].append(seconds)
        print(f"reminders sweep: {seconds * 1000:.0f} ms ({summary(report)})", flush=True)
        for _ in range(args.repeat):
            seconds, _ = await timed_sweep(clock)
            figures["idle"].append(seconds)
        # a batch of groups reaches its weekly moment
        async with database.transaction() as uow:
            await uow.session.execute(
                text("UPDATE groups SET next_checkin_at = :at WHERE id <= 1000"),
                {"at": NOW - timedelta(minutes=1)},
            )
        seconds, report = await timed_sweep(clock)
        figures["invitations"].append(seconds)
        print(
            f"invitations sweep: {seconds * 1000:.0f} ms ({report.invitations if report else 0} "  # type: ignore[attr-defined]
            "timers)",
            flush=True,
        )
        await coordinated.close()
        print(
            f"\nmachine: {platform.machine()}, Python {platform.python_version()}, "
            f"{args.members:,} members, {args.active:,} active check-ins"
        )
        for kind, values in figures.items():
            print(
                f"{kind:12} sweep: median {statistics.median(values) * 1000:7.0f} ms "
                f"(runs: {', '.join(f'{v * 1000:.0f}' for v in values)})"
            )
    finally:
        await database.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
