"""The async engine for a URL, with each backend's connection settings.

SQLite connections get `journal_mode=WAL`, `busy_timeout=5000` and `foreign_keys=ON` on connect,
and the `mutuality_week` function (`storage.weeks`).
The driver's own transaction handling is switched off and every writing transaction starts with
`BEGIN IMMEDIATE`: this makes SAVEPOINTs and DDL transactional (pysqlite's implicit BEGIN breaks
both) and takes the write lock up front, so two writers wait for each other through
`busy_timeout` instead of failing with "database is locked" when a read turns into a write
(within one process, `Database` also queues its writers before they begin).
A read-only transaction (see `read_only`) starts with a plain, deferred `BEGIN` instead: in WAL
mode it reads its snapshot beside a writer rather than queueing behind the write lock.

Both backends keep a fixed pool of `pool_size` connections and open no more (no overflow):
connections opened and closed under load cost the database a fresh backend with cold caches
each time, and more concurrent transactions than a pool's worth do not make a database answer
faster, so the extra callers wait for a free connection, for `POOL_TIMEOUT` seconds at most.

PostgreSQL connections are not pinged before each use (a round trip per transaction). A pooled
connection whose server side went away (a restart, an idle-connection reaper) is mostly seen
closed by the driver already and is replaced at checkout, for free; one not yet seen closed
fails its transaction, and SQLAlchemy then drops every connection opened before the failure, so
a restarted server costs a process at most the transactions in flight at that moment, which
callers retry (webhooks answer 503, workers and senders try again). Connections are also
replaced after `POOL_RECYCLE` seconds, and give up connecting after `CONNECT_TIMEOUT` seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from storage.errors import DatabaseUnavailable
from storage.urls import describe, is_sqlite_file
from storage.weeks import SQLITE_FUNCTION, sqlite_week

CONNECT_TIMEOUT = 10
DEFAULT_POOL_SIZE = 20
"""Connections a process keeps: a worker's loops, its sender's records and its sweeps, or the
web process's concurrent requests, with room to spare."""
POOL_TIMEOUT = 10
"""Seconds a transaction waits for a pooled connection before it fails: the database is then
overwhelmed, and a webhook had better answer 503 than hold the provider's request."""
POOL_RECYCLE = 1800
"""Seconds a connection is used before it is replaced, so none outlives a proxy's or a
firewall's idea of a long-lived connection, nor bloats its server process for days."""
READ_ONLY_OPTION = "mutuality_read_only"
"""The execution option that marks an SQLite connection's transactions as read-only."""
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
    # erased rows are overwritten with zeros, not left in free pages of the file
    "PRAGMA secure_delete=ON",
)


def create_engine(
    url: URL, *, echo: bool = False, pool_size: int = DEFAULT_POOL_SIZE
) -> AsyncEngine:
    """An engine for an async-driver `url` (see `storage.urls.async_url`) keeping `pool_size`
    connections (an in-memory SQLite database keeps its driver's own pool).

    For an SQLite file, its directory is created now; `DatabaseUnavailable` if that fails.
    """
    if pool_size < 1:
        raise ValueError(f"a connection pool needs at least one connection, not {pool_size}")
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo, pool_size=pool_size)
    connect_args: dict[str, Any] = {}
    if "timeout" not in url.query:
        connect_args["timeout"] = CONNECT_TIMEOUT
    engine = create_async_engine(
        url,
        echo=echo,
        connect_args=connect_args,
        hide_parameters=True,  # an error's text reaches logs: never members' phones or words
        **_pool_options(pool_size),
    )
    event.listen(engine.sync_engine.pool, "checkout", _replace_closed_connection)
    return engine


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for read-only transactions, sharing its pool: on SQLite they begin deferred
    (no write lock: they run beside a writer); PostgreSQL begins them `READ ONLY` in the same
    statement as the `BEGIN` and refuses any write in them."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{READ_ONLY_OPTION: True})
    return engine.execution_options(postgresql_readonly=True)


def _pool_options(pool_size: int) -> dict[str, Any]:
    return {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": POOL_TIMEOUT,
        "pool_recycle": POOL_RECYCLE,
    }


def _replace_closed_connection(
    _dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    """A connection the driver already knows is closed is swapped for a new one before use
    (the pool reconnects on `DisconnectionError`): a local check, no round trip."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def _sqlite_engine(url: URL, *, echo: bool, pool_size: int) -> AsyncEngine:
    options: dict[str, Any] = {}
    if is_sqlite_file(url) and url.database is not None:
        directory = Path(url.database).expanduser().parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatabaseUnavailable(
                f"cannot create the directory {directory} for the {describe(url)}: "
                f"{error.strerror or error}"
            ) from error
        options = _pool_options(pool_size)
    engine = create_async_engine(url, echo=echo, hide_parameters=True, **options)
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    # SQLite has no time-zone database: weeks on a group's calendar are counted in Python
    dbapi_connection.create_function(SQLITE_FUNCTION, 2, sqlite_week, deterministic=True)
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _begin(connection: Connection) -> None:
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
