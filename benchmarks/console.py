"""The coordinator console on PostgreSQL with 100,000 members and 2,000,000 messages: the
inbox's first page, a member's transcript (the last 200 lines) and a search, each p50 and p95.

In a scratch database (created here, dropped at the end) it loads, server-side with
`generate_series`: `--members` members in groups of eight, one Telegram address each, and
`--messages` lines spread evenly over the members and over a year, interleaved as real traffic
is (member 1, 2, 3, ... then again). Then it times the console's own queries
(`ConversationRepository`, each in its read transaction as the pages run them), `--runs` times
each, for a coordinator of 10 groups (80 members) and for an admin (every group). With
`--write-cost` it first times storing more lines with the search index and without it.

    python benchmarks/console.py                          # 100,000 members, 2,000,000 lines
    python benchmarks/console.py --members 10000 --messages 200000 --runs 20
    python benchmarks/console.py --write-cost

The server is `--database-url` (default: TEST_DATABASE_URL, else the local postgres database).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from storage import Database  # noqa: E402
from storage.repositories.conversations import InboxFilters  # noqa: E402

LOAD = [
    """INSERT INTO groups (id, name, name_key, join_code, timezone, language, currency, created_at)
       SELECT g, 'Group ' || g, 'group ' || g, lpad(to_hex(g), 6, '0'), 'Africa/Nairobi', 'en',
              'KES', now() - interval '400 days'
       FROM generate_series(1, $1::int) g""",
    """INSERT INTO members (id, name, locale, opted_out, created_at, updated_at)
       SELECT m, 'Member ' || m, (ARRAY['en','es','sw','fr','fil'])[1 + m % 5], false,
              now() - interval '400 days', now()
       FROM generate_series(1, $1::int) m""",
    """INSERT INTO addresses (member_id, channel, value, created_at)
       SELECT m, 'telegram', (7000000000 + m)::text, now() - interval '400 days'
       FROM generate_series(1, $1::int) m""",
    """INSERT INTO memberships (member_id, group_id, joined_at)
       SELECT m, 1 + (m - 1) / 8, now() - interval '400 days' FROM generate_series(1, $1::int) m""",
]
MESSAGES = """
    INSERT INTO messages (member_id, channel, address_value, direction, text, status,
                          created_at, updated_at)
    SELECT 1 + (g - 1) % $1, 'telegram', (7000000000 + 1 + (g - 1) % $1)::text,
           CASE WHEN g % 2 = 0 THEN 'in' ELSE 'out' END,
           (ARRAY['I sold mangoes at the market', 'How much did you sell this week?',
                  'we had rain all week', 'Did you help another member this week?',
                  'yes, I lent my cart to Amina', 'ksh 2,500', 'Thank you! See you next week.',
                  'more stock next week'])[1 + g % 8] || ' ' || g,
           CASE WHEN g % 2 = 0 THEN 'received' ELSE 'delivered' END,
           now() - make_interval(secs => ($2::bigint - g) * 15),
           now() - make_interval(secs => ($2::bigint - g) * 15)
    FROM generate_series(1, $2::bigint) g
"""


BULK_LOAD_BEGIN = """
    ALTER TABLE messages DISABLE TRIGGER messages_words_added;
    DROP INDEX ix_message_words_words;
"""
BULK_LOAD_END = """
    INSERT INTO message_words (message_id, words)
    SELECT id, to_tsvector('simple', mutuality_fold(text)) FROM messages;
    CREATE INDEX ix_message_words_words ON message_words USING gin (words);
    ALTER TABLE messages ENABLE TRIGGER messages_words_added;
"""
"""The search index of a log loaded at once, built as revision 0013 builds it for the lines
stored before it: every line's words, then the GIN index over them (much faster than through
the trigger, one 2,000,000-line statement)."""
MORE = MESSAGES.replace("$2::bigint - g", "$3::bigint - g").replace(
    "generate_series(1, $2::bigint) g", "generate_series($2::bigint + 1, $3::bigint) g"
)
"""`MESSAGES` numbered from $2 + 1 to $3: newer lines."""


async def write_cost(connection: asyncpg.Connection, members: int, messages: int) -> None:
    """Seconds to store 10,000 more lines, 100 a statement as a busy worker's batch, with the
    search index kept (its triggers on) and without (off), alternated three times."""
    first = messages
    for _ in range(3):
        for label in ("without", "with"):
            switch = "DISABLE" if label == "without" else "ENABLE"
            await connection.execute(f"ALTER TABLE messages {switch} TRIGGER messages_words_added")
            began = time.perf_counter()
            for _ in range(100):
                await connection.execute(MORE, members, first, first + 100)
                first += 100
            print(
                f"10,000 more lines, 100 a statement, {label} the search index: "
                f"{time.perf_counter() - began:.2f} s",
                flush=True,
            )
    await connection.execute("ALTER TABLE messages ENABLE TRIGGER messages_words_added")
    await connection.execute(  # the lines stored without it, so that searches see every line
        """INSERT INTO message_words (message_id, words)
           SELECT id, to_tsvector('simple', mutuality_fold(text)) FROM messages m
           WHERE NOT EXISTS (SELECT FROM message_words w WHERE w.message_id = m.id)"""
    )
    await connection.execute("VACUUM ANALYZE")


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def timed(runs: int, work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    await work()  # warm: plans cached, pages in memory
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--write-cost",
        action="store_true",
        help="also time storing 10,000 more lines, 100 a statement, with the search index's "
        "triggers on and off, alternated three times: what the index costs the pipeline",
    )
    args = parser.parse_args()

    server = _dsn(args.database_url)
    name = f"mutuality_console_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + f"/{name}"
    database = Database(url)
    try:
        await database.upgrade()
        connection = await asyncpg.connect(url)
        started = time.perf_counter()
        groups = (args.members + 7) // 8
        await connection.execute(LOAD[0], groups)
        for statement in LOAD[1:]:
            await connection.execute(statement, args.members)
        await connection.execute(BULK_LOAD_BEGIN)  # as revision 0013 indexes a stored log
        await connection.execute(MESSAGES, args.members, args.messages)
        await connection.execute(BULK_LOAD_END)
        await connection.execute("VACUUM ANALYZE")
        if args.write_cost:
            await write_cost(connection, args.members, args.messages)
        await connection.close()
        print(
            f"loaded {args.members:,} members, {args.messages:,} lines in "
            f"{time.perf_counter() - started:.0f} s"
        )

        coordinator = frozenset(range(1, 11))
        member_id = args.members // 2
        cases: list[tuple[str, Callable[[], Awaitable[object]]]] = []

        def case(label: str, query: Callable[..., Awaitable[object]]) -> None:
            async def work() -> object:
                async with database.read() as uow:
                    return await query(uow)

            cases.append((label, work))

        for who, scope in (("coordinator (10 groups)", coordinator), ("admin (all)", None)):
            case(
                f"inbox, first page, {who}",
                lambda uow, scope=scope: uow.conversations.inbox(
                    scope, InboxFilters(), offset=0, limit=51
                ),
            )
            case(
                f"search 'mangoes', {who}",
                lambda uow, scope=scope: uow.conversations.search(scope, "mangoes"),
            )
            case(
                f"search a word one line has, {who}",
                lambda uow, scope=scope: uow.conversations.search(scope, str(args.messages // 3)),
            )
            case(
                f"search 'mang' as it is typed, {who}",
                lambda uow, scope=scope: uow.conversations.search(scope, "mang"),
            )
            case(
                f"search '\"lent my cart\" amina', {who}",
                lambda uow, scope=scope: uow.conversations.search(scope, '"lent my cart" amina'),
            )
            case(
                f"search a word no line has, {who}",
                lambda uow, scope=scope: uow.conversations.search(scope, "zebra"),
            )
            case(
                f"inbox, members waiting (none), {who}",
                lambda uow, scope=scope: uow.conversations.inbox(
                    scope, InboxFilters(state="waiting"), offset=0, limit=51
                ),
            )
        case(
            "transcript, last 200 lines",
            lambda uow: uow.conversations.transcript(member_id, limit=200),
        )
        print(f"{'query':<52} {'p50 ms':>8} {'p95 ms':>8}")
        for label, work in cases:
            p50, p95 = await timed(args.runs, work)
            print(f"{label:<52} {p50:>8.1f} {p95:>8.1f}", flush=True)
    finally:
        await database.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
