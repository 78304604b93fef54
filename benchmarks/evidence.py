"""The program-wide evidence report over a year of a large program, on PostgreSQL: time and peak
memory of `bot.reports.evidence.build_report`.

In a scratch database (created here, dropped at the end) it seeds, with INSERT … SELECT over
`generate_series` (server-side, no row crosses the wire), `--members` members (default 10,000)
in groups of seven, 10% of them in USD and the rest in KES, 2% having left their group half way;
`--weeks` (default 52) weeks in which each member completes the weekly check-in 80% of weeks
(gaps spread by a hash of member and week), with six answers each (sales, costs, saved, two
yes/no, a text), a monthly journal (three amounts), the stored row of each completed check-in,
a help record in 30% of check-ins, an invitation every week, a reminder in 20% of check-ins,
and the message log of the check-ins (one line in and one out per answer) so that the nudge
queries scan a log of realistic size.
Then `VACUUM ANALYZE` (what autovacuum does to a table after bulk inserts: it also marks the
pages all-visible, which lets the counts of invitations and reminders read their indexes
alone), and it runs the report `--runs` times (default 3) for the whole program, its four
parts once more one by one, and the report once for one group, printing the wall time of each
and the process's peak RSS
(`resource.getrusage`, which includes the interpreter and the imports: the RSS before the first
report is printed too). On a shared machine wall times swing with the other work, so each
program-wide run also prints the CPU seconds it took in this process and in the PostgreSQL
server processes of its transactions (read from `/proc` when the server runs on this
host). The report runs its parts side by side, so on an idle machine its wall time is about
the larger of that CPU spread over the cores and its longest part. Parallel workers the server
may start for a query are processes of their own and are not in that figure.

    python benchmarks/evidence.py                               # 10,000 members, a year
    python benchmarks/evidence.py --members 1000 --weeks 20     # a quick look
    python benchmarks/evidence.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/evidence.py --keep evidence_bench         # seed once, measure again later

The server is `--database-url` (default: TEST_DATABASE_URL, else the local postgres database);
the scratch database is created next to it and always dropped, on errors and Ctrl-C too, unless
`--keep NAME` names it: then it is kept, and a later run with the same name measures it again
without seeding (migrating it first if the code has new migrations, then `VACUUM ANALYZE`;
drop it by hand when done).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.reports import evidence  # noqa: E402
from bot.reports.evidence import TRANSACTIONS, build_report  # noqa: E402
from storage import Database  # noqa: E402
from storage.repositories.evidence import Scope  # noqa: E402
from storage.urls import async_url  # noqa: E402

START = datetime(2025, 12, 1, tzinfo=UTC)  # a Monday
GROUP_SIZE = 7
KEPT_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
COUNTED_TABLES = ("members", "sessions", "checkin_results", "answers", "help_records", "messages")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu_seconds(pids: list[int]) -> float | None:
    """CPU seconds of local PostgreSQL server processes so far (None: not on this host)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def report_backends(database: Database) -> list[int]:
    """The server processes the report's transactions run in: the pool's connections, opened
    once by a first `read_together` of as many transactions as the report takes."""
    async with database.read_together(TRANSACTIONS) as readers:
        return [
            int((await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            for uow in readers
        ]


def current_rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


SEED = [
    # placeholders are filled with numbers and a timestamp this script makes (str.format)
    (
        "groups",
        """
        INSERT INTO groups (id, name, name_key, join_code, timezone, language, currency,
                            created_at)
        SELECT g, 'Group ' || g, 'group ' || g, upper(lpad(to_hex(g), 6, 'G')),
               'Africa/Nairobi', 'en', 'KES', {start}
        FROM generate_series(1, ceil({members}::numeric / {group})::int) AS g
        """,
    ),
    (
        "members",
        """
        INSERT INTO members (id, name, locale, currency, business_type, consent, opted_out,
                             created_at, updated_at)
        SELECT m, 'Member ' || m, 'en', CASE WHEN m % 10 = 0 THEN 'USD' ELSE 'KES' END,
               (ARRAY['food','retail','services','farming','making','other'])[1 + m % 6],
               true, false, {start}, {start}
        FROM generate_series(1, {members}) AS m
        """,
    ),
    (
        "memberships",
        """
        INSERT INTO memberships (member_id, group_id, joined_at, left_at)
        SELECT m, 1 + (m - 1) / {group}, {start},
               CASE WHEN m % 50 = 0 THEN {start} + interval '26 weeks' END
        FROM generate_series(1, {members}) AS m
        """,
    ),
    (
        "weekly sessions",
        """
        INSERT INTO sessions (member_id, checkin_id, checkin_version, status, state,
                              started_at, updated_at, ended_at)
        SELECT m, 'weekly_checkin', 1,
               CASE WHEN (m * 7 + w * 13) % 20 = 0 THEN 'expired' ELSE 'completed' END, '{{}}',
               t - interval '5 minutes', t, t
        FROM generate_series(1, {members}) AS m, generate_series(0, {weeks} - 1) AS w,
             LATERAL (SELECT {start} + w * interval '1 week' + interval '2 days'
                             + (m % 600) * interval '1 minute' AS t) AS moment
        WHERE (m * 31 + w * 17) % 10 < 8
          AND (m % 50 <> 0 OR w < 26)
        """,
    ),
    (
        "monthly sessions",
        """
        INSERT INTO sessions (member_id, checkin_id, checkin_version, status, state,
                              started_at, updated_at, ended_at)
        SELECT m, 'monthly_journal', 1, 'completed', '{{}}', t - interval '5 minutes', t, t
        FROM generate_series(1, {members}) AS m, generate_series(0, {weeks} - 1, 4) AS w,
             LATERAL (SELECT {start} + w * interval '1 week' + interval '3 days'
                             + (m % 600) * interval '1 minute' AS t) AS moment
        WHERE m % 50 <> 0 OR w < 26
        """,
    ),
    (
        "weekly answers",
        """
        INSERT INTO answers (session_id, member_id, group_id, checkin_id, step_id, answer_type,
                             value_number, currency, value_choice, value_text, skipped,
                             created_at)
        SELECT s.id, s.member_id, ms.group_id, 'weekly_checkin', step.id, step.kind,
               CASE step.id
                 WHEN 'sales' THEN 1000 + s.member_id % 500 + (s.id % 97) * 3
                 WHEN 'costs' THEN 600 + s.member_id % 300 + s.id % 61
                 WHEN 'saved' THEN 50 + s.id % 40
               END,
               CASE WHEN step.kind = 'money'
                    THEN CASE WHEN s.member_id % 10 = 0 THEN 'USD' ELSE 'KES' END END,
               CASE WHEN step.kind = 'yes_no'
                    THEN CASE WHEN s.id % 3 = 0 THEN 'yes' ELSE 'no' END END,
               CASE WHEN step.kind = 'text' THEN 'Sell more at the market' END,
               false, s.ended_at - interval '1 minute'
        FROM sessions s
        JOIN memberships ms ON ms.member_id = s.member_id
        CROSS JOIN (VALUES ('sales', 'money'), ('costs', 'money'), ('saved', 'money'),
                           ('gave_help', 'yes_no'), ('got_help', 'yes_no'), ('goal', 'text'))
                   AS step(id, kind)
        WHERE s.checkin_id = 'weekly_checkin'
        """,
    ),
    (
        "journal answers",
        """
        INSERT INTO answers (session_id, member_id, group_id, checkin_id, step_id, answer_type,
                             value_number, currency, skipped, created_at)
        SELECT s.id, s.member_id, ms.group_id, 'monthly_journal', step.id, 'money',
               4000 + s.member_id % 900 + s.id % 211,
               CASE WHEN s.member_id % 10 = 0 THEN 'USD' ELSE 'KES' END,
               false, s.ended_at - interval '1 minute'
        FROM sessions s
        JOIN memberships ms ON ms.member_id = s.member_id
        CROSS JOIN (VALUES ('household_income'), ('savings_balance'), ('debts')) AS step(id)
        WHERE s.checkin_id = 'monthly_journal'
        """,
    ),
    (
        "check-in results",
        # what the turn that completes a check-in stores (storage.repositories.checkin_results)
        """
        INSERT INTO checkin_results (session_id, member_id, group_id, checkin_id, ended_at,
                                     week, amounts)
        SELECT s.id, s.member_id, ms.group_id, s.checkin_id, s.ended_at,
               ((timezone(g.timezone, s.ended_at))::date - DATE '1970-01-05') / 7,
               coalesce((SELECT json_object_agg(a.step_id,
                                                json_build_array(a.value_number::text, a.currency))
                         FROM answers a
                         WHERE a.session_id = s.id AND NOT a.skipped
                           AND a.value_number IS NOT NULL AND a.currency IS NOT NULL),
                        '{{}}')
        FROM sessions s JOIN memberships ms ON ms.member_id = s.member_id
        JOIN groups g ON g.id = ms.group_id
        WHERE s.status = 'completed'
        """,
    ),
    (
        "help records",
        """
        INSERT INTO help_records (giver_id, receiver_id, group_id, kind, reported_by_id,
                                  created_at)
        SELECT s.member_id, receiver, ms.group_id,
               (ARRAY['advice','money','goods','customers','work','other'])[1 + s.id % 6],
               s.member_id, s.ended_at
        FROM sessions s
        JOIN memberships ms ON ms.member_id = s.member_id,
             LATERAL (SELECT least((ms.group_id - 1) * {group} + 1
                                   + (s.member_id + s.id) % {group}, {members}) AS receiver) AS r
        WHERE s.checkin_id = 'weekly_checkin' AND s.status = 'completed' AND s.id % 10 < 3
          AND receiver <> s.member_id
        """,
    ),
    (
        "invitations",
        """
        INSERT INTO messages (member_id, channel, address_value, direction, text, payload,
                              status, created_at, updated_at, week)
        SELECT m, 'whatsapp', '+2547' || lpad(m::text, 8, '0'), 'out', 'Time for your check-in',
               '{{"nudge": "checkin_invitation", "template": {{}}, "locale": "en"}}',
               'delivered', t, t, ((timezone(g.timezone, t))::date - DATE '1970-01-05') / 7
        FROM generate_series(1, {members}) AS m, generate_series(0, {weeks} - 1) AS w,
             LATERAL (SELECT {start} + w * interval '1 week' + interval '2 days' AS t) AS moment,
             memberships ms JOIN groups g ON g.id = ms.group_id
        WHERE (m % 50 <> 0 OR w < 26) AND ms.member_id = m
        """,
    ),
    (
        "reminders",
        """
        INSERT INTO messages (member_id, channel, address_value, direction, text, payload,
                              status, created_at, updated_at, week)
        SELECT s.member_id, 'whatsapp', '+2547' || lpad(s.member_id::text, 8, '0'), 'out',
               'A reminder', '{{"nudge": "reminder", "template": {{}}, "locale": "en"}}',
               'delivered', s.started_at - interval '1 hour', s.started_at - interval '1 hour',
               ((timezone(g.timezone, s.started_at - interval '1 hour'))::date
                - DATE '1970-01-05') / 7
        FROM sessions s
        JOIN memberships ms ON ms.member_id = s.member_id
        JOIN groups g ON g.id = ms.group_id
        WHERE s.checkin_id = 'weekly_checkin' AND s.id % 5 = 0
        """,
    ),
    (
        "message log",
        """
        INSERT INTO messages (member_id, channel, address_value, direction, text, payload,
                              status, created_at, updated_at)
        SELECT a.member_id, 'whatsapp', '+2547' || lpad(a.member_id::text, 8, '0'), d.direction,
               'a line of the check-in', NULL,
               CASE d.direction WHEN 'in' THEN 'received' ELSE 'delivered' END,
               a.created_at, a.created_at
        FROM answers a CROSS JOIN (VALUES ('in'), ('out')) AS d(direction)
        """,
    ),
]


async def seed(dsn: str, members: int, weeks: int) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        values = {
            "start": f"'{START.isoformat()}'::timestamptz",
            "members": members,
            "group": GROUP_SIZE,
            "weeks": weeks,
        }
        for what, statement in SEED:
            started = time.perf_counter()
            count = await connection.execute(statement.format(**values))
            log(f"seeded {what}: {count.split()[-1]} rows in {time.perf_counter() - started:.1f} s")
        for table in ("groups", "members", "sessions"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        started = time.perf_counter()
        await connection.execute("VACUUM ANALYZE")
        log(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
    finally:
        await connection.close()
    return await table_counts(dsn)


async def table_counts(dsn: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        return {
            table: int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
            for table in COUNTED_TABLES
        }
    finally:
        await connection.close()


async def measure(url: str, runs: int, now: datetime) -> dict[str, object]:
    database = Database(url)
    try:
        await database.upgrade()
        rss_before = current_rss_mib()
        times = []
        cpu: list[dict[str, float | None]] = []
        report = None
        pids = await report_backends(database)
        for _ in range(runs):
            server_before, client_before = server_cpu_seconds(pids), cpu_seconds()
            started = time.perf_counter()
            report = await build_report(database, now=now)
            times.append(time.perf_counter() - started)
            server_after = server_cpu_seconds(pids)
            if sorted(pids) != sorted(await report_backends(database)):
                log("the pool changed its connections: the server CPU of this run is partial")
            client = round(cpu_seconds() - client_before, 2)
            server = (
                round(server_after - server_before, 2)
                if server_after is not None and server_before is not None
                else None
            )
            cpu.append({"client": client, "server": server})
            log(f"program-wide report: {times[-1]:.2f} s (CPU: {client} s here, {server} s server)")
        parts = {}
        async with database.read() as uow:
            scope = Scope(None, None, now)
            await uow.evidence.prepare()  # as build_report does
            for part, compute in (
                ("participation", evidence._participation),
                ("business", evidence._business),
                ("household", evidence._household),
                ("mutuality", evidence._mutuality),
            ):
                started = time.perf_counter()
                await compute(uow, scope)
                parts[part] = round(time.perf_counter() - started, 3)
        log(f"the parts, once more: {parts}")
        started = time.perf_counter()
        await build_report(database, group_id=1, group_name="Group 1", now=now)
        group_seconds = time.perf_counter() - started
        log(f"one group's report: {group_seconds:.3f} s")
        assert report is not None
        sales = [c for c in report.business if c.measure == "sales"]
        return {
            "runs_seconds": [round(t, 3) for t in times],
            "median_seconds": round(statistics.median(times), 3),
            "cpu_seconds": cpu,
            "group_seconds": round(group_seconds, 3),
            "parts_seconds": parts,
            "rss_before_mib": round(rss_before, 1),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "weeks_in_report": len(report.participation.weeks),
            "sales_members": {c.currency: c.members for c in sales},
            "sales_too_few": {c.currency: c.too_few for c in sales},
            "network_edges": len(report.mutuality.network),
        }
    finally:
        await database.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument(
        "--keep",
        metavar="NAME",
        help="seed into database NAME and keep it; if it exists already, measure it unseeded",
    )
    args = parser.parse_args()
    if args.keep is not None and not KEPT_NAME.fullmatch(args.keep):
        parser.error("--keep takes a name of lower-case letters, digits and _")
    admin = async_url(args.database_url)
    admin_dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = args.keep or f"mutuality_bench_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(admin_dsn)
    exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    if not exists:
        await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    url = admin.set(database=name).render_as_string(hide_password=False)
    dsn = admin.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    try:
        database = Database(url)
        await database.upgrade()
        await database.dispose()
        if exists:
            # after migrations that rewrote rows, as autovacuum would before long
            connection = await asyncpg.connect(dsn)
            started = time.perf_counter()
            await connection.execute("VACUUM ANALYZE")
            await connection.close()
            log(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
            counts = await table_counts(dsn)
            log(f"measuring the kept database {name}: {counts}")
        else:
            started = time.perf_counter()
            counts = await seed(dsn, args.members, args.weeks)
            log(f"seeded in {time.perf_counter() - started:.0f} s: {counts}")
        now = START + timedelta(weeks=args.weeks)
        result = await measure(url, args.runs, now)
        print(json.dumps({"members": args.members, "weeks": args.weeks, **counts, **result}))
    finally:
        if args.keep is None:
            connection = await asyncpg.connect(admin_dsn)
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
