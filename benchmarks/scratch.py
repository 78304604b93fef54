"""A scratch database for one benchmark run: an SQLite file in a temporary folder, or a
PostgreSQL database created next to a server's and dropped afterwards (on errors and Ctrl-C
too), so a benchmark never touches a database it did not make."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from storage.urls import async_url


@asynccontextmanager
async def scratch_database(backend: str, server: str | None, label: str) -> AsyncIterator[str]:
    """The URL of an empty database on `backend` (`sqlite` or `postgresql`), removed when the
    block ends. On PostgreSQL `server` is the URL of any database of the server (the scratch
    one is made beside it, named `mutuality_<label>_<random>`)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"mutuality-{label}-") as directory:
            yield f"sqlite:///{Path(directory) / 'bench.db'}"
        return
    if server is None:
        raise SystemExit("--database-url (or TEST_DATABASE_URL) is needed for PostgreSQL")
    base = async_url(server)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"mutuality_{label}_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
