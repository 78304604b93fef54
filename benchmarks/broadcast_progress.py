"""A broadcast's progress at 100,000 recipients, on SQLite and PostgreSQL: the counts the console
polls while it sends (`BroadcastRepository.progress`) and its pages of recipients
(`recipient_lines`), at several stages of sending, in a message log of realistic size; and
what keeping the counts costs the writers.

A scratch database (a temporary SQLite file, or a PostgreSQL database created next to
`--database-url` and always dropped afterwards) is migrated to the newest revision and filled
with plain INSERT … SELECT over a number series, rows in the order the program would have
written them, so that they lie where they would on disk:

- `--recipients` members (100,000);
- `--log` conversation lines spread over them (in and out, 5% of them check-in invitations and
  reminders), and `--other-broadcasts` earlier broadcasts to every member, settled long ago,
  written in turns between them: the program's history;
- the broadcast measured, to every member: 2% opted out and 1% unreachable (skipped), the others
  60% Telegram, 30% WhatsApp, 10% SMS, one line each, a quarter of them deferred 9 hours by
  quiet hours (members in a zone where it is night).

Its stages, each reached with UPDATEs as queuing and the sender leave the rows (statistics
refreshed once, after queuing, as `run_broadcast` does; the counts compacted after each, as the
queuing and the clock's sweep do):

1. `half queued`: every recipient planned, half of them queued;
2. `none sent`: all queued, no line sent yet;
3. `half sent`: half the lines sent, delivered or read (3% of them failed);
4. `half sent, sender writing`: the same, polled while a separate process sends as a sender
   does (`claim_due` then `mark_sent_many`, `--writer-rate` lines a second), the clock's
   compaction every 30 s beside it;
5. `all sent`: every line settled, 3% failed, the broadcast done.

At each stage it times, `--rounds` times, each in a read transaction of its own as the page
does: `progress`; `recount`, the statements `progress` ran before revision 0019 (a GROUP BY
over the recipients, a join to their lines, the deferred ones), on the same rows; the first page
of recipients and a late one; and prints every statement's plan (EXPLAIN ANALYZE on PostgreSQL,
EXPLAIN QUERY PLAN on SQLite). On PostgreSQL `progress` is timed again after a VACUUM of the
count tables, as autovacuum leaves them: until it comes by, its scans step over the rows
compacting deleted.

The writers' side, each in a transaction rolled back, with the counting triggers and without
them (dropped inside that transaction): writing a 100,000-recipient plan (INSERT … SELECT, then
`compact_counts`), queuing a batch of 1,000 (`enqueue_batch`), recording 200 sends
(`mark_sent_many`).

    python benchmarks/broadcast_progress.py --backend sqlite
    python benchmarks/broadcast_progress.py --backend postgresql \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Connection

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.scratch import scratch_database  # noqa: E402
from bot.broadcasts.running import DELIVERY, compact_counts  # noqa: E402
from storage import Database  # noqa: E402
from storage.models import BroadcastRecipient, Message  # noqa: E402
from storage.unit_of_work import UnitOfWork  # noqa: E402

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
NIGHT_ENDS = NOW + timedelta(hours=9)
PAGE = 50
CLOCK_EVERY = 30.0
"""Seconds between the clock's sweeps, which compact the counts."""
DEFAULTS = {  # backend: (--log, --other-broadcasts); SQLite's seeds in under a minute
    "sqlite": (800_000, 3),
    "postgresql": (3_000_000, 9),
}
STAGES = ("half queued", "none sent", "half sent", "half sent, sender writing", "all sent")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# --- seeding -------------------------------------------------------------------------------


class Seeder:
    """Rows written with INSERT … SELECT over the series 1..n (`s.i`), on either backend."""

    def __init__(self, database: Database, dialect: str) -> None:
        self.database = database
        self.dialect = dialect

    def ts(self, moment: datetime) -> str:
        """A timestamp literal: SQLite's as `UTCDateTime` writes it (naive UTC text)."""
        if self.dialect == "sqlite":
            return f"'{moment.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}'"
        return f"TIMESTAMPTZ '{moment.isoformat()}'"

    @property
    def true(self) -> str:
        return "1" if self.dialect == "sqlite" else "true"

    @property
    def false(self) -> str:
        return "0" if self.dialect == "sqlite" else "false"

    @property
    def json(self) -> str:
        return "json_object" if self.dialect == "sqlite" else "json_build_object"

    def series(self, count: int, insert: str, select: str, where: str = "") -> str:
        if self.dialect == "sqlite":
            return (
                f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
                f"WHERE i < {count}) {insert} SELECT {select} FROM s {where}"
            )
        return f"{insert} SELECT {select} FROM generate_series(1, {count}) AS s(i) {where}"

    async def fill(self, table: str, columns: str, select: str, count: int) -> None:
        if count > 0:
            await self.run(self.series(count, f"INSERT INTO {table} ({columns})", select))

    async def run(self, statement: str) -> None:
        async with self.database.transaction() as uow:
            await uow.session.execute(text(statement))

    async def scalar(self, statement: str) -> Any:
        async with self.database.read() as uow:
            return await uow.session.scalar(text(statement))


MESSAGE_COLUMNS = (
    "id, member_id, channel, address_value, direction, text, payload, status, "
    "provider_message_id, error_code, created_at, updated_at, attempts, next_attempt_at"
)
RECIPIENT_COLUMNS = "broadcast_id, member_id, channel, address, message_id, status, reason"
SKIPPED = "s.i % 50 = 0 OR s.i % 100 = 1"
"""The recipients a broadcast skips: 2% opted out, 1% unreachable."""
REASON = "CASE WHEN s.i % 50 = 0 THEN 'opted_out' ELSE 'unreachable' END"


def channel_of(i: str) -> str:
    """The channel of member `i`: 60% Telegram, 30% WhatsApp, 10% SMS."""
    return (
        f"CASE WHEN ({i}) % 10 < 6 THEN 'telegram' WHEN ({i}) % 10 < 9 THEN 'whatsapp' "
        "ELSE 'sms' END"
    )


def address_of(i: str) -> str:
    """The address of member `i` on their channel."""
    number = f"CAST({i} AS TEXT)"
    return f"CASE WHEN ({i}) % 10 < 6 THEN '7' || {number} ELSE '+2547' || {number} END"


def recipients_of(seeder: Seeder, broadcast_id: int, first_id: int | None, count: int) -> str:
    """INSERT … SELECT of a broadcast to members 1..count: queued with line `first_id - 1 + i`
    (skipped ones without), or all planned when `first_id` is None."""
    if first_id is None:
        line, status = "CAST(NULL AS INTEGER)", "'planned'"
    else:
        line, status = f"{first_id - 1} + s.i", "'queued'"
    return seeder.series(
        count,
        f"INSERT INTO broadcast_recipients ({RECIPIENT_COLUMNS})",
        f"{broadcast_id}, s.i, {channel_of('s.i')}, {address_of('s.i')}, "
        f"CASE WHEN {SKIPPED} THEN NULL ELSE {line} END, "
        f"CASE WHEN {SKIPPED} THEN 'skipped' ELSE {status} END, "
        f"CASE WHEN {SKIPPED} THEN {REASON} ELSE NULL END",
    )


async def seed(seeder: Seeder, options: argparse.Namespace) -> int:
    """Fill the scratch database; returns the id of the broadcast measured (left planned)."""
    members, lines, others = options.recipients, options.log, options.other_broadcasts
    long_ago = NOW - timedelta(days=400)
    ts = seeder.ts
    await seeder.fill(
        "members",
        "id, name, locale, currency, consent, opted_out, created_at, updated_at",
        f"s.i, 'Member ' || CAST(s.i AS TEXT), 'en', 'KES', {seeder.true}, {seeder.false}, "
        f"{ts(long_ago)}, {ts(long_ago)}",
        members,
    )
    next_id = 1
    turns = others + 1
    for turn in range(turns):
        # the conversations since the previous broadcast
        chunk = lines // turns + (1 if turn < lines % turns else 0)
        moment = long_ago + timedelta(days=30 * turn)
        member = f"((s.i % {members}) * 7919 % {members}) + 1"  # scattered, in 32 bits
        nudge = (
            f"CASE WHEN s.i % 40 = 1 THEN {seeder.json}('nudge', 'checkin_invitation') "
            f"WHEN s.i % 40 = 3 THEN {seeder.json}('nudge', 'reminder') ELSE NULL END"
        )
        await seeder.fill(
            "messages",
            MESSAGE_COLUMNS,
            f"{next_id - 1} + s.i, {member}, {channel_of(member)}, {address_of(member)}, "
            "CASE WHEN s.i % 2 = 0 THEN 'in' ELSE 'out' END, "
            f"'a line of a check-in, about as long as most of them are', {nudge}, "
            "CASE WHEN s.i % 2 = 0 THEN 'received' WHEN s.i % 7 = 1 THEN 'read' "
            "ELSE 'delivered' END, "
            f"'c{turn}-' || CAST(s.i AS TEXT), NULL, {ts(moment)}, {ts(moment)}, 1, NULL",
            chunk,
        )
        next_id += chunk
        if turn == others:
            break
        # an earlier broadcast to everyone, settled long ago
        broadcast_id = turn + 1
        sent_at = moment + timedelta(days=29)
        await seeder.run(
            "INSERT INTO broadcasts (id, group_id, texts, status, scheduled_at, created_at, "
            f"planned_at, finished_at) VALUES ({broadcast_id}, NULL, "
            f"{seeder.json}('en', 'Market day moves to Thursday.'), 'done', {ts(sent_at)}, "
            f"{ts(sent_at)}, {ts(sent_at)}, {ts(sent_at)})"
        )
        await broadcast_lines(seeder, broadcast_id, next_id, members, sent_at, settled=True)
        await seeder.run(recipients_of(seeder, broadcast_id, next_id, members))
        await compact(seeder.database, broadcast_id)
        next_id += members
        log(f"  seeded broadcast #{broadcast_id} and {next_id - 1:,} lines in all")
    target = others + 1
    await seeder.run(
        "INSERT INTO broadcasts (id, group_id, texts, status, scheduled_at, created_at, "
        f"planned_at) VALUES ({target}, NULL, {seeder.json}('en', 'Market day moves.'), "
        f"'sending', {ts(NOW)}, {ts(NOW)}, {ts(NOW)})"
    )
    await seeder.run(recipients_of(seeder, target, None, members))
    await compact(seeder.database, target)
    if seeder.dialect == "postgresql":
        for table in ("messages", "broadcasts", "broadcast_recipients", "members"):
            await seeder.run(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
    return target


async def broadcast_lines(
    seeder: Seeder,
    broadcast_id: int,
    first_id: int,
    members: int,
    at: datetime,
    *,
    settled: bool,
    only: str = "1 = 1",
) -> None:
    """One outbox line per recipient not skipped, with id `first_id - 1 + member`: settled
    (3% failed, the others sent on Telegram, else delivered or read) or queued (a quarter of
    them not before the night ends)."""
    if settled:
        status = (
            "CASE WHEN s.i % 33 = 0 THEN 'failed' "
            f"WHEN {channel_of('s.i')} = 'telegram' THEN 'sent' "
            "WHEN s.i % 3 = 0 THEN 'read' ELSE 'delivered' END"
        )
        provider = f"'b' || CAST(s.i + {first_id} AS TEXT)"
        error = "CASE WHEN s.i % 33 = 0 THEN '30008' ELSE NULL END"
        due = "NULL"
    else:
        status, provider, error = "'queued'", "NULL", "NULL"
        due = f"CASE WHEN s.i % 4 = 0 THEN {seeder.ts(NIGHT_ENDS)} ELSE NULL END"
    payload = (
        f"{seeder.json}('nudge', 'broadcast', 'broadcast', {broadcast_id}, 'locale', 'en', "
        f"'template', {seeder.json}('1', 'Market day moves to Thursday.'))"
    )
    await seeder.run(
        seeder.series(
            members,
            f"INSERT INTO messages ({MESSAGE_COLUMNS})",
            f"{first_id - 1} + s.i, s.i, {channel_of('s.i')}, {address_of('s.i')}, 'out', "
            f"'Market day moves to Thursday.', {payload}, {status}, {provider}, {error}, "
            f"{seeder.ts(at)}, {seeder.ts(at)}, {'1' if settled else '0'}, {due}",
            f"WHERE NOT ({SKIPPED}) AND {only}",
        )
    )


async def compact(database: Database, broadcast_id: int) -> None:
    async with database.transaction() as uow:
        await uow.broadcasts.compact_counts(broadcast_id)


# --- the stages ------------------------------------------------------------------------------


async def queue_half(seeder: Seeder, target: int, first_id: int, members: int, half: bool) -> None:
    """Queue the first (`half`) or the second half of the recipients, as `enqueue_batch` does:
    their outbox lines, then the recipients `queued` with their line's id."""
    middle = members // 2
    span = f"s.i <= {middle}" if half else f"s.i > {middle}"
    await broadcast_lines(seeder, target, first_id, members, NOW, settled=False, only=span)
    member_span = f"member_id <= {middle}" if half else f"member_id > {middle}"
    await seeder.run(
        f"UPDATE broadcast_recipients SET status = 'queued', message_id = {first_id - 1} + "
        f"member_id WHERE broadcast_id = {target} AND status = 'planned' AND {member_span}"
    )
    await compact(seeder.database, target)


async def settle(seeder: Seeder, target: int, first_id: int, upto: int) -> None:
    """Settle the queued lines of members up to `upto` as the sender and the status callbacks
    leave them, 5,000 lines a transaction."""
    step = 5_000
    later = seeder.ts(NOW + timedelta(minutes=5))
    number = f"(id - {first_id - 1})"
    for low in range(0, upto, step):
        high = min(low + step, upto)
        await seeder.run(
            f"UPDATE messages SET status = CASE WHEN {number} % 33 = 0 THEN 'failed' "
            "WHEN channel = 'telegram' THEN 'sent' "
            f"WHEN {number} % 3 = 0 THEN 'read' ELSE 'delivered' END, "
            f"error_code = CASE WHEN {number} % 33 = 0 THEN '30008' ELSE NULL END, "
            f"provider_message_id = 'b' || CAST(id AS TEXT), attempts = 1, updated_at = {later} "
            f"WHERE id BETWEEN {first_id + low} AND {first_id + high - 1} AND status = 'queued'"
        )
    await compact(seeder.database, target)


# --- measuring -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def capturing(database: Database) -> AsyncIterator[list[tuple[str, Any]]]:
    """Every (statement, parameters) the driver is given while the block runs."""
    seen: list[tuple[str, Any]] = []

    def note(conn: Connection, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def timed(
    database: Database, work: Callable[[UnitOfWork], Awaitable[Any]], rounds: int
) -> list[float]:
    """Milliseconds per round of `work(uow)`, each in a read transaction of its own."""
    times: list[float] = []
    for _ in range(rounds):
        async with database.read() as uow:
            started = time.perf_counter()
            await work(uow)
            times.append(1000 * (time.perf_counter() - started))
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2)}


async def plan_of(database: Database, statement: str, parameters: Any, dialect: str) -> str:
    explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    async with database.read() as uow:
        connection = await uow.session.connection()
        result = await connection.exec_driver_sql(explain + statement, parameters)
        return "\n".join(" ".join(str(part) for part in row) for row in result)


async def recount(uow: UnitOfWork, target: int) -> None:
    """What `progress` ran before revision 0019: its counts from the rows themselves."""
    recipient = BroadcastRecipient
    await uow.session.execute(
        select(recipient.status, recipient.reason, func.count())
        .where(recipient.broadcast_id == target)
        .group_by(recipient.status, recipient.reason)
    )
    await uow.session.execute(
        select(Message.channel, Message.status, func.count())
        .join(recipient, recipient.message_id == Message.id)
        .where(recipient.broadcast_id == target)
        .group_by(Message.channel, Message.status)
    )
    await uow.session.execute(
        select(func.count(), func.max(Message.next_attempt_at))
        .join(recipient, recipient.message_id == Message.id)
        .where(
            recipient.broadcast_id == target,
            Message.status == "queued",
            Message.next_attempt_at > NOW,
        )
    )


def label(statement: str) -> str:
    lowered = " ".join(statement.lower().split())
    names = {
        "from broadcast_recipient_counts": "recipient counts",
        "from broadcast_line_counts": "line counts",
        "group by broadcast_recipients.status": "recount: recipients by status",
        "group by messages.channel": "recount: lines by status",
        "max(messages.next_attempt_at)": "recount: deferred",
        "where broadcasts.id": "the broadcast",
    }
    return next((name for key, name in names.items() if key in lowered), lowered[:60])


async def measure(
    database: Database, dialect: str, target: int, members: int, rounds: int
) -> dict[str, Any]:
    """Times and plans of the progress counts, the recount and two pages of recipients."""

    async def progress(uow: UnitOfWork) -> Any:
        return await uow.broadcasts.progress(target, NOW)

    async def recounted(uow: UnitOfWork) -> None:
        await recount(uow, target)

    async def first_page(uow: UnitOfWork) -> Any:
        return await uow.broadcasts.recipient_lines(target, after_member_id=0, limit=PAGE + 1)

    async def late_page(uow: UnitOfWork) -> Any:
        after = members - 2 * PAGE
        return await uow.broadcasts.recipient_lines(target, after_member_id=after, limit=PAGE + 1)

    found: dict[str, Any] = {"load_average": load()}
    async with database.read() as uow:
        shown = await uow.broadcasts.progress(target, NOW)
        found["count rows"] = int(
            await uow.session.scalar(
                text(
                    "SELECT (SELECT count(*) FROM broadcast_recipient_counts WHERE "
                    "broadcast_id = :b) + (SELECT count(*) FROM broadcast_line_counts WHERE "
                    "broadcast_id = :b)"
                ),
                {"b": target},
            )
            or 0
        )
    found["counts"] = {
        "recipients": shown.recipients,
        "skipped": shown.skipped,
        "messages": shown.messages,
        "deferred": shown.deferred,
    }
    plans: dict[str, str] = {}
    for name, work in (
        ("progress", progress),
        ("recount", recounted),
        ("first page", first_page),
        ("late page", late_page),
    ):
        async with capturing(database) as seen:
            async with database.read() as uow:
                answer = await work(uow)
        if "page" in name:
            assert len(answer) == PAGE + 1, f"{name}: {len(answer)} lines"
        found[name] = summary(await timed(database, work, rounds))
        for statement, parameters in seen:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            part = name if "page" in name else label(statement)
            if part != "the broadcast":
                plans[part] = await plan_of(database, statement, parameters, dialect)
    if dialect == "postgresql":
        # the counts' rows are inserted and deleted all along: until autovacuum comes by (every
        # minute, so few live rows has each table), the scans step over the dead ones
        async with database.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql(
                "VACUUM (ANALYZE) broadcast_recipient_counts, broadcast_line_counts"
            )
        found["progress, vacuumed"] = summary(await timed(database, progress, rounds))
    found["plans"] = plans
    return found


# --- the writers' side -----------------------------------------------------------------------


class _RolledBack(Exception):
    """Ends a timed transaction without committing it."""


async def write_cost(
    database: Database, dialect: str, work: Callable[[UnitOfWork], Awaitable[Any]], rounds: int
) -> dict[str, dict[str, float]]:
    """Milliseconds of `work(uow)` in transactions rolled back: as shipped, and with the
    counting triggers dropped first (inside the same transaction, so they come back)."""
    catalog = (
        "SELECT name, NULL FROM sqlite_master WHERE type = 'trigger'"
        if dialect == "sqlite"
        else "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal"
    )
    async with database.read() as uow:
        triggers = [
            (name, table)
            for name, table in await uow.session.execute(text(catalog))
            if "_counted" in name
        ]
    assert triggers, "no counting triggers: is the database at revision 0019?"
    found: dict[str, dict[str, float]] = {}
    for variant in ("with the counting triggers", "without them"):
        times: list[float] = []
        for _ in range(rounds):
            with contextlib.suppress(_RolledBack):
                async with database.transaction() as uow:
                    if variant == "without them":
                        for name, table in triggers:
                            on = f" ON {table}" if table else ""
                            await uow.session.execute(text(f"DROP TRIGGER {name}{on}"))
                    started = time.perf_counter()
                    await work(uow)
                    times.append(1000 * (time.perf_counter() - started))
                    raise _RolledBack
        found[variant] = summary(times)
    await database.dispose()  # a pooled connection may hold statements prepared meanwhile
    return found


async def writers(
    database: Database, dialect: str, target: int, members: int, rounds: int, stage: str
) -> dict[str, Any]:
    """The writes a stage has: planning and queuing while recipients are planned, recording
    sends while lines are queued."""
    if stage == "half queued":
        async with database.transaction() as uow:
            created = await uow.broadcasts.create(
                created_by_id=None,
                group_id=None,
                language=None,
                segment=None,
                texts={"en": "Market day moves to Thursday."},
                scheduled_at=NOW,
                at=NOW,
            )
        plan_id = created.id
        seeder = Seeder(database, dialect)

        async def plan(uow: UnitOfWork) -> None:
            await uow.session.execute(text(recipients_of(seeder, plan_id, None, members)))
            await uow.broadcasts.compact_counts(plan_id)

        async def queue(uow: UnitOfWork) -> None:
            assert await uow.broadcasts.enqueue_batch(target, 1000, NOW, DELIVERY) == 1000

        return {
            f"plan {members:,} recipients": await write_cost(database, dialect, plan, 3),
            "queue a batch of 1,000": await write_cost(database, dialect, queue, rounds),
        }
    if stage == "none sent":
        async with database.read() as uow:
            ids = list(
                await uow.session.scalars(
                    select(Message.id)
                    .join(BroadcastRecipient, BroadcastRecipient.message_id == Message.id)
                    .where(BroadcastRecipient.broadcast_id == target, Message.status == "queued")
                    .order_by(Message.id)
                    .limit(200)
                )
            )

        async def record(uow: UnitOfWork) -> None:
            await uow.messages.mark_sent_many([(i, f"r{i}") for i in ids], at=NOW)

        return {"record 200 sends": await write_cost(database, dialect, record, rounds)}
    return {}


async def writer(url: str, rate: int) -> None:
    """Send as a sender does, up to `rate` lines a second in claims of up to 100, until nothing
    due is left or the process is told to stop: lease due lines (`claim_due`), then record them
    sent (`mark_sent_many`), a transaction each. Says "writing" once the first are recorded."""
    database = Database(url, pool_size=2)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    batch = min(100, rate)
    first = True
    try:
        while not stop.is_set():
            started = time.perf_counter()
            async with database.transaction() as uow:
                claimed = await uow.messages.claim_due(NOW, timedelta(seconds=15), limit=batch)
            if not claimed:
                break
            async with database.transaction() as uow:
                await uow.messages.mark_sent_many(
                    [(line.id, f"w{line.id}") for line in claimed], at=NOW
                )
            if first:
                print("writing", flush=True)
                first = False
            await asyncio.sleep(max(0.0, len(claimed) / rate - (time.perf_counter() - started)))
    finally:
        await database.dispose()


async def queued_lines(database: Database, target: int) -> int:
    async with database.read() as uow:
        return (await uow.broadcasts.progress(target)).messages.get("queued", 0)


async def while_sending(
    database: Database, url: str, target: int, options: argparse.Namespace
) -> dict[str, Any]:
    """`measure` while a sender process (`writer`) records sends of the broadcast's lines and
    the clock compacts the counts every 30 s."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--write-as-sender", url,
        "--writer-rate", str(options.writer_rate),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    stop = asyncio.Event()

    async def clock() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CLOCK_EVERY)
            await compact_counts(database)

    sweeping = asyncio.create_task(clock())
    try:
        said = await child.stdout.readline()
        assert said.strip() == b"writing", f"the sender process said {said!r}"
        before = await queued_lines(database, target)
        started = time.perf_counter()
        found = await measure(database, options.backend, target, options.recipients, options.rounds)
        elapsed = time.perf_counter() - started
        written = before - await queued_lines(database, target)
    finally:
        stop.set()
        await sweeping
        with contextlib.suppress(ProcessLookupError):
            child.terminate()
        await child.wait()
    found["sender"] = f"{written:,} lines sent in {elapsed:.1f} s ({written / elapsed:.0f}/s)"
    return found


async def run(options: argparse.Namespace) -> dict[str, Any]:
    members = options.recipients
    results: dict[str, Any] = {
        "backend": options.backend,
        "recipients": members,
        "log": options.log,
        "other_broadcasts": options.other_broadcasts,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_at_start": load(),
    }
    async with scratch_database(options.backend, options.database_url, "progress") as url:
        database = Database(url)
        seeder = Seeder(database, options.backend)
        try:
            await database.upgrade()
            started = time.perf_counter()
            target = await seed(seeder, options)
            first_id = int(await seeder.scalar("SELECT max(id) FROM messages")) + 1
            results["seed_s"] = round(time.perf_counter() - started, 1)
            log(f"seeded in {results['seed_s']} s; {first_id - 1:,} lines in the log")
            stages: dict[str, Any] = {}
            for stage in STAGES:
                if stage == "half queued":
                    await queue_half(seeder, target, first_id, members, half=True)
                elif stage == "none sent":
                    await queue_half(seeder, target, first_id, members, half=False)
                    async with database.transaction() as uow:  # as run_broadcast does
                        await uow.broadcasts.refresh_statistics()
                elif stage == "half sent":
                    await settle(seeder, target, first_id, members // 2)
                elif stage == "all sent":
                    await settle(seeder, target, first_id, members)
                    await seeder.run(
                        f"UPDATE broadcasts SET status = 'done', finished_at = "
                        f"{seeder.ts(NOW)} WHERE id = {target}"
                    )
                log(f"{stage} (load average {load()})")
                if stage == "half sent, sender writing":
                    found = await while_sending(database, url, target, options)
                else:
                    found = await measure(
                        database, options.backend, target, members, options.rounds
                    )
                    found["writes"] = await writers(
                        database, options.backend, target, members, options.rounds, stage
                    )
                stages[stage] = found
            results["stages"] = stages
        finally:
            await database.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--log", type=int, help="conversation lines (default by backend)")
    parser.add_argument("--other-broadcasts", type=int, help="earlier broadcasts to everyone")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--writer-rate", type=int, default=200, help="lines a second")
    parser.add_argument("--write-as-sender", metavar="URL", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.write_as_sender:
        asyncio.run(writer(options.write_as_sender, options.writer_rate))
        return
    lines, others = DEFAULTS[options.backend]
    options.log = lines if options.log is None else options.log
    if options.other_broadcasts is None:
        options.other_broadcasts = others
    results = asyncio.run(run(options))
    for stage, found in results["stages"].items():
        for part, plan in found.pop("plans").items():
            print(f"--- {stage}: {part}")
            print(plan)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
