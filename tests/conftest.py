"""Database fixtures for the storage contract suite.

Every test that uses `database` (or `database_url`) runs once per backend: SQLite always, in a
file under `tmp_path`; PostgreSQL when `TEST_DATABASE_URL` is set, in a freshly created database
of its own that is dropped afterwards. Without the variable the PostgreSQL cases are not
collected at all; with it set and the server unreachable they fail, never skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL

from storage import Database
from storage.urls import async_url, describe

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
BACKENDS = ["sqlite", *(["postgresql"] if TEST_DATABASE_URL else [])]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/*.txt from what the bot says and stores now (read the diff)",
    )


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin_execute(admin_url: URL, statement: str) -> None:
    try:
        connection = await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        pytest.fail(
            f"TEST_DATABASE_URL is set but the {describe(admin_url)} cannot be reached: {error}",
            pytrace=False,
        )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@asynccontextmanager
async def _fresh_postgresql_database() -> AsyncIterator[str]:
    admin_url = async_url(TEST_DATABASE_URL)
    name = f"mutuality_test_{uuid.uuid4().hex[:16]}"
    await _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database of each backend, gone after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'mutuality.db'}"
        return
    async with _fresh_postgresql_database() as url:
        yield url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated `Database` of each backend, disposed after the test."""
    db = Database(database_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()
