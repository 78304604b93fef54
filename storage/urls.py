"""Database URLs as operators paste them, made into the async URLs the engine needs.

`postgres://`, `postgresql://` and `postgresql+<sync driver>://` become `postgresql+asyncpg://`
(with libpq's `sslmode` renamed to asyncpg's `ssl`); `sqlite://` and `sqlite+pysqlite://` become
`sqlite+aiosqlite://`. Anything else is refused with `InvalidDatabaseUrl`.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from storage.errors import InvalidDatabaseUrl

POSTGRESQL = "postgresql+asyncpg"
SQLITE = "sqlite+aiosqlite"
_POSTGRES_NAMES = {"postgres", "postgresql"}


def async_url(raw: str) -> URL:
    """The async-driver URL for `raw`, or `InvalidDatabaseUrl` saying what is wrong."""
    try:
        url = make_url(raw.strip())
    except ArgumentError as error:
        raise InvalidDatabaseUrl(
            "the database URL cannot be parsed; expected something like "
            "sqlite:///mutuality.db or postgresql://user:password@host:5432/name"
        ) from error
    backend = url.get_backend_name()
    if backend in _POSTGRES_NAMES:
        url = url.set(drivername=POSTGRESQL)
        if "sslmode" in url.query and "ssl" not in url.query:
            sslmode = url.query["sslmode"]
            url = url.difference_update_query(["sslmode"]).update_query_dict({"ssl": sslmode})
        return url
    if backend == "sqlite":
        return url.set(drivername=SQLITE)
    raise InvalidDatabaseUrl(
        f"unsupported database {url.drivername!r}: use sqlite:///path.db or postgresql://…"
    )


def describe(url: URL) -> str:
    """Where `url` points, for messages: backend, host, port, database and user, no password."""
    if url.get_backend_name() == "sqlite":
        return f"SQLite database {url.database or ':memory:'}"
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    user = f" as {url.username}" if url.username else ""
    return f"PostgreSQL database {url.database or ''!r} at {host}{port}{user}"


def is_sqlite_file(url: URL) -> bool:
    """Whether `url` names an SQLite database on disk (not in memory, not a `file:` URI)."""
    database = url.database or ""
    return (
        url.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
    )
