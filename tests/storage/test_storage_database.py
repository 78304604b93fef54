"""`Database` itself: connection settings, availability errors and concurrent transactions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from storage import Database, DatabaseUnavailable
from tests.conftest import BACKENDS, TEST_DATABASE_URL
from tests.outbox_lines import log_outbound

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


async def test_ping(database: Database) -> None:
    await database.ping()
    await database.dispose()
    await database.ping()  # reconnects after dispose


async def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new' / 'dir' / 'm.db'}")
    try:
        async with db.engine.connect() as connection:
            journal = await connection.scalar(text("PRAGMA journal_mode"))
            busy = await connection.scalar(text("PRAGMA busy_timeout"))
            foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
    finally:
        await db.dispose()
    assert (journal, busy, foreign_keys) == ("wal", 5000, 1)
    assert (tmp_path / "new" / "dir" / "m.db").is_file()


async def test_an_unreachable_server_is_reported_without_the_password() -> None:
    db = Database("postgres://mutuality:s3cret@127.0.0.1:1/app")
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            await db.ping()
        with pytest.raises(DatabaseUnavailable):
            await db.upgrade()
    finally:
        await db.dispose()
    message = str(raised.value)
    assert "127.0.0.1:1" in message
    assert "'app'" in message
    assert "s3cret" not in message


async def test_concurrent_transactions_all_commit(database: Database) -> None:
    async def turn(n: int) -> None:
        async with database.transaction() as uow:
            member = await uow.members.by_address("telegram", f"c{n}")
            assert member is None
            member = await uow.members.create("telegram", f"c{n}", at=T0)
            await log_outbound(
                uow,
                member_id=member.id,
                channel="telegram",
                address_value=f"c{n}",
                text="hi",
                payload=None,
                at=T0 + timedelta(seconds=n),
            )

    await asyncio.gather(*(turn(n) for n in range(25)))
    async with database.transaction() as uow:
        count = await uow.session.scalar(text("SELECT COUNT(*) FROM messages"))
    assert count == 25


async def test_a_read_runs_beside_an_open_write(database: Database) -> None:
    """A read does not queue behind a writer's lock (on SQLite, a writer holds the whole
    database's write lock for its transaction): it sees the last committed state, at once."""
    async with database.transaction() as uow:
        await uow.members.create("telegram", "before", at=T0)
    writing = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with database.transaction() as uow:
            await uow.members.create("telegram", "during", at=T0)
            writing.set()
            await release.wait()

    held = asyncio.create_task(writer())
    try:
        await writing.wait()
        async with asyncio.timeout(2), database.read() as uow:
            before = await uow.members.by_address("telegram", "before")
            during = await uow.members.by_address("telegram", "during")
    finally:
        release.set()
        await held
    assert before is not None
    assert during is None
    async with database.read() as uow:
        assert await uow.members.by_address("telegram", "during") is not None


async def test_a_read_refuses_writes_on_postgresql(database: Database) -> None:
    """PostgreSQL enforces the contract of `read()`; SQLite cannot refuse a write there, it
    only takes the write lock late (the reason never to write in a read)."""
    if database.backend != "postgresql":
        async with database.read() as uow:
            assert await uow.members.by_address("telegram", "x") is None
        return
    with pytest.raises(DBAPIError, match="read-only transaction"):
        async with database.read() as uow:
            await uow.members.create("telegram", "x", at=T0)
    async with database.transaction() as uow:  # the pool's connection is writable again
        await uow.members.create("telegram", "x", at=T0)


async def test_reads_together_see_one_state_of_the_database(database: Database) -> None:
    """`read_together`: on PostgreSQL several transactions, each on a connection of its own,
    that all see the state the first one saw, even the ones that read nothing before a later
    commit; on SQLite one transaction (its caller reads in turn)."""
    async with database.transaction() as uow:
        await uow.members.create("telegram", "before", at=T0)
    async with database.read_together(3) as readers:
        assert await readers[0].members.by_address("telegram", "before") is not None
        # committed by another transaction before the others read anything
        async with database.transaction() as uow:
            await uow.members.create("telegram", "after", at=T0)
        seen = [
            (
                await reader.members.by_address("telegram", "before") is not None,
                await reader.members.by_address("telegram", "after") is not None,
            )
            for reader in readers
        ]
        if database.backend == "postgresql":
            pid = text("SELECT pg_backend_pid()")
            backends = {(await reader.session.execute(pid)).scalar_one() for reader in readers}
            assert len(backends) == 3
    assert seen == ([(True, False)] * 3 if database.backend == "postgresql" else [(True, False)])
    async with database.read() as uow:
        assert await uow.members.by_address("telegram", "after") is not None
    with pytest.raises(ValueError, match="at least one"):
        async with database.read_together(0):
            pass


async def test_reads_together_take_turns(database: Database) -> None:
    """A second group of reads together waits for the first to end (a report never holds more
    than its own share of the pool), then runs."""
    order: list[str] = []
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with database.read_together(3):
            order.append("first in")
            first_in.set()
            await release.wait()
            order.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with database.read_together(3) as readers:
            order.append("second in")
            await readers[0].members.by_address("telegram", "x")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_in.wait()
    await asyncio.sleep(0.2)  # room for the second to get in, were nothing stopping it
    release.set()
    async with asyncio.timeout(10):
        await asyncio.gather(*tasks)
    assert order == ["first in", "first out", "second in"]


async def test_transactions_share_a_bounded_pool(tmp_path: Path) -> None:
    """More concurrent transactions than pooled connections wait their turn rather than open
    connections beyond the pool: with two connections, ten readers that each hold theirs
    until told are two at a time inside, never three, and all get through once released."""
    db = Database(f"sqlite:///{tmp_path / 'pool.db'}", pool_size=2)
    connects = 0

    def connected(*_: object) -> None:
        nonlocal connects
        connects += 1

    try:
        await db.upgrade()
        await db.engine.dispose()  # count only the connections the readers make
        event.listen(db.engine.sync_engine, "connect", connected)
        inside = 0
        two_inside, third_inside, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def read() -> None:
            nonlocal inside
            async with db.read() as uow:
                await uow.members.by_address("telegram", "nobody")
                inside += 1
                if inside == 2:
                    two_inside.set()
                if inside > 2:
                    third_inside.set()
                await release.wait()
                inside -= 1

        readers = [asyncio.create_task(read()) for _ in range(10)]
        await two_inside.wait()
        with pytest.raises(TimeoutError):  # an unbounded pool lets the third in at once
            await asyncio.wait_for(third_inside.wait(), 1.0)
        assert db.engine.sync_engine.pool.checkedout() == 2
        assert sum(reader.done() for reader in readers) == 0
        release.set()
        await asyncio.gather(*readers)
        assert connects == 2
        assert db.engine.sync_engine.pool.checkedout() == 0
        with pytest.raises(ValueError, match="at least one"):
            Database(f"sqlite:///{tmp_path / 'none.db'}", pool_size=0)
    finally:
        await db.dispose()


async def test_sqlite_writers_take_turns_in_the_order_they_came(tmp_path: Path) -> None:
    """A process's writers queue for SQLite's write lock instead of polling for it in the busy
    handler, so they get it in order; one that waits too long fails as unavailable."""
    db = Database(f"sqlite:///{tmp_path / 'turns.db'}")
    try:
        await db.upgrade()
        order: list[int] = []

        async def write(n: int) -> None:
            async with db.transaction() as uow:
                await uow.members.create("telegram", f"w{n}", at=T0)
                order.append(n)
                await asyncio.sleep(0.01)

        writers = []
        for n in range(10):
            writers.append(asyncio.create_task(write(n)))
            await asyncio.sleep(0)  # each one asks for its turn before the next starts
        await asyncio.gather(*writers)
        assert order == list(range(10))

        release = asyncio.Event()
        holding = asyncio.Event()

        async def hold() -> None:
            async with db.transaction() as uow:
                await uow.members.create("telegram", "holder", at=T0)
                holding.set()
                await release.wait()

        held = asyncio.create_task(hold())
        await holding.wait()
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr("storage.database.POOL_TIMEOUT", 0.1)
                with pytest.raises(DatabaseUnavailable, match="overwhelmed"):
                    async with db.transaction() as uow:
                        await uow.members.create("telegram", "late", at=T0)
        finally:
            release.set()
            await held
    finally:
        await db.dispose()


if "postgresql" in BACKENDS:

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    async def test_pooled_connections_cut_by_the_server_cost_no_transaction(
        database: Database,
    ) -> None:
        """The server ending every connection (as a restart does) while they sit in the pool:
        the next transactions reconnect, without a ping before every use. At most the first
        could fail (a connection not yet seen closed), and the pool is renewed after it."""

        async def touch() -> None:
            async with database.transaction() as uow:
                await uow.session.execute(text("SELECT pg_sleep(0.01)"))

        await asyncio.gather(*(touch() for _ in range(5)))  # five connections in the pool
        name = database.url.database
        admin = await asyncpg.connect(TEST_DATABASE_URL, timeout=10)
        try:
            ended = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        finally:
            await admin.close()
        assert ended >= 5
        await asyncio.sleep(0.2)  # the server's goodbyes reach the client
        failed = 0
        for n in range(10):
            try:
                async with database.transaction() as uow:
                    await uow.members.create("telegram", f"after{n}", at=T0)
            except DBAPIError:
                failed += 1
        assert failed <= 1
        async with database.read() as uow:
            count = await uow.session.scalar(text("SELECT COUNT(*) FROM members"))
        assert count == 10 - failed
