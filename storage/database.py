"""`Database`: the one object the rest of the program holds to reach storage."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, nullcontext

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from storage.engines import DEFAULT_POOL_SIZE, POOL_TIMEOUT, create_engine, read_only
from storage.errors import DatabaseUnavailable
from storage.repositories.member_data import ERASED_INFO
from storage.schema_head import at_shipped_head
from storage.unit_of_work import UnitOfWork
from storage.urls import async_url, describe

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x6D696772  # the advisory lock held while one process migrates
_TAKE_MIGRATION_LOCK = text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")

CHECKPOINT_ATTEMPTS = 10
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+-[0-9]+")
"""What `pg_export_snapshot()` returns; checked before it is written into `SET TRANSACTION
SNAPSHOT`, which takes no parameters."""


class _WriterQueue:
    """Writing transactions of one process on one SQLite database, one at a time, in order.

    SQLite lets one transaction write at a time, and one that finds the write lock taken sleeps
    in the busy handler with growing back-off (up to 100 ms a nap) rather than queueing: the
    lock sits free while its waiters sleep, and an unlucky waiter can be overtaken for seconds
    until its busy timeout fails it ("database is locked"). Queueing this process's writers
    here hands the lock on at once and in order; the busy timeout is then only for other
    processes (a command run beside `mutuality run`). A writer waits `POOL_TIMEOUT` seconds at
    most for its turn, then fails as an overwhelmed database does (a webhook answers 503).
    """

    def __init__(self, where: str) -> None:
        self._where = where
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:  # an asyncio.Lock serves one loop
            self._lock, self._loop = asyncio.Lock(), loop
        lock = self._lock
        try:
            async with asyncio.timeout(POOL_TIMEOUT):
                await lock.acquire()
        except TimeoutError as error:
            raise DatabaseUnavailable(
                f"the {self._where} is overwhelmed: a write waited {POOL_TIMEOUT} s for its turn"
            ) from error
        try:
            yield
        finally:
            lock.release()


class Database:
    """A database reached through one async engine.

    `url` may be any form operators paste (`sqlite:///x.db`, `postgres://…`, `postgresql://…`);
    it is rewritten to the async drivers (see `storage.urls`), and an unusable one raises
    `InvalidDatabaseUrl` here. For an SQLite file, its directory is created if missing. Nothing
    connects until the first use; call `dispose()` when done so no connection outlives the
    program's event loop. The process keeps at most `pool_size` connections open (see
    `storage.engines`); more concurrent transactions wait for one.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self._url = async_url(url)
        self._engine = create_engine(self._url, echo=echo, pool_size=pool_size)
        self._read_engine = read_only(self._engine)
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self._read_engine, expire_on_commit=False)
        self._writers = _WriterQueue(describe(self._url)) if self.backend == "sqlite" else None
        # one group of reads together at a time, so that reports never hold more than a few of
        # the pool's connections that webhooks and workers need (see `read_together`)
        self._together = asyncio.Lock()
        self._snapshot_sessions = (
            None
            if self.backend == "sqlite"
            else async_sessionmaker(
                self._read_engine.execution_options(isolation_level="REPEATABLE READ"),
                expire_on_commit=False,
            )
        )
        self._autocommit_sessions = (
            None
            if self.backend == "sqlite"
            else async_sessionmaker(
                self._engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
            )
        )

    @property
    def url(self) -> URL:
        """The async-driver URL in use (render it with `hide_password=True` for display)."""
        return self._url

    @property
    def backend(self) -> str:
        """`"sqlite"` or `"postgresql"`."""
        return self._url.get_backend_name()

    @property
    def engine(self) -> AsyncEngine:
        """The underlying engine, for tools that need a raw connection (migrations, tests)."""
        return self._engine

    def __repr__(self) -> str:
        return f"Database({self._url.render_as_string(hide_password=True)!r})"

    async def upgrade(self) -> None:
        """Migrate the schema to the newest revision, in one transaction.

        Raises `DatabaseUnavailable` when the database cannot be reached; a migration that fails
        raises its own error and leaves the schema as it was (on SQLite and PostgreSQL alike,
        both of which have transactional DDL).
        """
        connection = await self._connect()
        try:
            async with connection.begin():
                if await connection.run_sync(at_shipped_head):
                    return  # the usual start: nothing to migrate, and Alembic not loaded
                if connection.dialect.name == "postgresql":
                    # Processes started together (web, workers, clock after a deploy) migrate
                    # one at a time; the ones that waited find the work done.
                    await connection.execute(_TAKE_MIGRATION_LOCK)
                    if await connection.run_sync(at_shipped_head):
                        return
                from storage.schema_migrations import upgrade_to_head

                await connection.run_sync(upgrade_to_head)
        finally:
            await connection.close()

    async def ping(self) -> None:
        """Check that the database answers a query; raise `DatabaseUnavailable` if not. The
        query reads only, so on SQLite it does not wait for the write lock."""
        connection = await self._connect(self._read_engine)
        try:
            await connection.execute(text("SELECT 1"))
        except (DBAPIError, OSError, TimeoutError) as error:
            raise self._unavailable(error) from error
        finally:
            await connection.close()

    async def forget_erased(self) -> None:  # called after a transaction that erased
        """After an erasure: on SQLite, copy the write-ahead log into the file and empty it, so
        no earlier version of an erased page survives in the WAL (`secure_delete` has already
        zeroed the freed space). PostgreSQL's dead tuples are reclaimed by its own vacuum."""
        if self.backend != "sqlite":
            return
        connection = await self._connect()
        try:
            # on the driver's connection itself: outside any transaction, which a checkpoint
            # needs (SQLAlchemy would begin one first); a reader still on an old snapshot makes
            # it report "busy": try again shortly
            for _ in range(CHECKPOINT_ATTEMPTS):
                if await connection.run_sync(_checkpoint):
                    break
                await asyncio.sleep(0.2)
            else:
                log.warning("SQLite stayed busy: the WAL keeps old pages until its next checkpoint")
        except DBAPIError:
            log.warning("could not checkpoint SQLite after an erasure", exc_info=True)
        finally:
            await connection.close()

    async def dispose(self) -> None:
        """Close every pooled connection. The `Database` can still be used afterwards; it
        reconnects on demand."""
        await self._engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """One session and one transaction: committed when the block exits normally, rolled
        back (and the exception re-raised) when it raises. On SQLite this process's writing
        transactions take turns (see `_WriterQueue`): never open one inside another."""
        async with self._writer_turn():
            async with self._sessions() as session:
                async with session.begin():
                    yield UnitOfWork(session)
                erased = session.info.get(ERASED_INFO)
            if erased:
                await self.forget_erased()

    @asynccontextmanager
    async def one_statement(self) -> AsyncIterator[UnitOfWork]:
        """Like `transaction`, for a block that runs exactly one statement: on PostgreSQL the
        statement commits by itself (a statement is atomic), which saves the `BEGIN` and
        `COMMIT` round trips a transaction costs; a webhook storing its events in one INSERT
        answers sooner on a busy database. On SQLite it is `transaction`. Two statements in
        it would commit one by one: use `transaction` for those."""
        async with self._statement_alone(self.transaction) as uow:
            yield uow

    @asynccontextmanager
    async def one_read(self) -> AsyncIterator[UnitOfWork]:
        """Like `read`, for a block that runs exactly one query: on PostgreSQL without the
        transaction's round trips (one query reads one snapshot anyway), as `one_statement`;
        on SQLite it is `read`. Never write in it."""
        async with self._statement_alone(self.read) as uow:
            yield uow

    @asynccontextmanager
    async def _statement_alone(
        self, otherwise: Callable[[], AbstractAsyncContextManager[UnitOfWork]]
    ) -> AsyncIterator[UnitOfWork]:
        """A session whose statements commit by themselves (PostgreSQL), or `otherwise` where
        there is none (SQLite)."""
        if self._autocommit_sessions is None:
            async with otherwise() as uow:
                yield uow
            return
        async with self._autocommit_sessions() as session, session.begin():
            yield UnitOfWork(session)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[UnitOfWork]:
        """Like `transaction`, for blocks that only read. On SQLite it does not take the write
        lock, so it runs beside a writing transaction instead of waiting for it (WAL: it reads
        the last committed state); on PostgreSQL it is `READ ONLY` and a write in it fails.
        Never write in it: on SQLite a write there could fail with "database is locked"
        rather than wait its turn."""
        async with self._read_sessions() as session, session.begin():
            yield UnitOfWork(session)

    @asynccontextmanager
    async def read_together(self, count: int) -> AsyncIterator[tuple[UnitOfWork, ...]]:
        """`count` read-only transactions that see one and the same state of the database, so
        that the parts of a long read (the evidence report) run side by side, each on a
        connection of its own, and still add up: on PostgreSQL the first exports its snapshot
        and the others take it (`SET TRANSACTION SNAPSHOT`, as parallel dumps do). On SQLite,
        which runs in this process anyway, there is one: the caller reads in turn. Never write
        in them. One group at a time per `Database`: a second waits for the first to end, so
        long reads never take more than `count` of the pool's connections from the webhooks
        and workers sharing it."""
        if count < 1:
            raise ValueError(f"read_together needs at least one transaction, not {count}")
        if self._snapshot_sessions is None or count == 1:
            async with self._together, self.read() as uow:
                yield (uow,)
            return
        async with self._together, AsyncExitStack() as stack:
            leader = await stack.enter_async_context(self._snapshot_sessions())
            await stack.enter_async_context(leader.begin())
            snapshot = (await leader.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
            if not _SNAPSHOT_ID.fullmatch(snapshot):
                raise ValueError(f"unexpected snapshot id {snapshot!r}")
            sessions = [leader]
            for _ in range(count - 1):
                follower = await stack.enter_async_context(self._snapshot_sessions())
                await stack.enter_async_context(follower.begin())
                await follower.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
                sessions.append(follower)
            yield tuple(UnitOfWork(session) for session in sessions)

    def _writer_turn(self) -> AbstractAsyncContextManager[None]:
        return nullcontext() if self._writers is None else self._writers.turn()

    async def _connect(self, engine: AsyncEngine | None = None) -> AsyncConnection:
        try:
            return await (engine or self._engine).connect()
        except (DBAPIError, OSError, TimeoutError) as error:
            raise self._unavailable(error) from error

    def _unavailable(self, error: BaseException) -> DatabaseUnavailable:
        cause = error.orig if isinstance(error, DBAPIError) and error.orig else error
        reason = str(cause).strip() or type(cause).__name__
        password = self._url.password
        if password:
            reason = reason.replace(str(password), "***")
        return DatabaseUnavailable(f"cannot reach the {describe(self._url)}: {reason}")


def _checkpoint(connection: Connection) -> bool:
    """A full checkpoint that empties the WAL; False when readers kept it from completing."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row = cursor.fetchone()
        return row is None or not row[0]
    finally:
        cursor.close()
