"""The async engine for a URL, with each backend's connection settings.

SQLite connections get `journal_mode=WAL`, `busy_timeout=5000` and `foreign_keys=ON` on connect.
The driver's own transaction handling is switched off and every transaction starts with
`BEGIN IMMEDIATE`: this makes SAVEPOINTs and DDL transactional (pysqlite's implicit BEGIN breaks
both) and takes the write lock up front, so two writers wait for each other through
`busy_timeout` instead of failing with "database is locked" when a read turns into a write.

PostgreSQL connections are checked before use (`pool_pre_ping`), so a restarted server costs one
reconnect rather than an error, and give up connecting after `CONNECT_TIMEOUT` seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.errors import DatabaseUnavailable
from storage.urls import describe, is_sqlite_file

CONNECT_TIMEOUT = 10
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)


def create_engine(url: URL, *, echo: bool = False) -> AsyncEngine:
    """An engine for an async-driver `url` (see `storage.urls.async_url`).

    For an SQLite file, its directory is created now; `DatabaseUnavailable` if that fails.
    """
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    connect_args: dict[str, Any] = {}
    if "timeout" not in url.query:
        connect_args["timeout"] = CONNECT_TIMEOUT
    return create_async_engine(url, echo=echo, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_engine(url: URL, *, echo: bool) -> AsyncEngine:
    if is_sqlite_file(url) and url.database is not None:
        directory = Path(url.database).expanduser().parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatabaseUnavailable(
                f"cannot create the directory {directory} for the {describe(url)}: "
                f"{error.strerror or error}"
            ) from error
    engine = create_async_engine(url, echo=echo)
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
