"""Database fixtures for the storage contract suite.

Every test that uses `database` (or `database_url`, or `empty_database_url`) runs once per
backend: SQLite always, in a file under `tmp_path`; PostgreSQL when `TEST_DATABASE_URL` is set, in
a freshly created database of its own that is dropped afterwards. Without the variable the
PostgreSQL cases are not collected at all; with it set and the server unreachable they fail,
never skip.

The schema is migrated once per backend and session, into a template; each test gets a copy of
it (a file copy on SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL), which its processes find
already at head. Only the migrations' own tests start from an empty database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
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
async def _fresh_postgresql_database(template: str | None = None) -> AsyncIterator[str]:
    admin_url = async_url(TEST_DATABASE_URL)
    name = f"mutuality_test_{uuid.uuid4().hex[:16]}"
    copied = f' TEMPLATE "{template}"' if template else ""
    await _admin_execute(admin_url, f'CREATE DATABASE "{name}"{copied}')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await db.upgrade()
    finally:
        await db.dispose()


class MigratedTemplates:
    """The session's migrated schema per backend, made on first use: a SQLite file to copy, a
    PostgreSQL database to copy from (dropped when the session ends)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sqlite: Path | None = None
        self.postgresql: str | None = None

    async def sqlite_copy(self, target: Path) -> None:
        if self.sqlite is None:
            template = self.folder / "mutuality.db"
            await _migrate(f"sqlite:///{template}")
            self.sqlite = template
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.sqlite, target)

    async def postgresql_template(self) -> str:
        if self.postgresql is None:
            name = f"mutuality_template_{uuid.uuid4().hex[:16]}"
            admin_url = async_url(TEST_DATABASE_URL)
            await _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
            self.postgresql = name  # dropped at the end even if the migration fails
            await _migrate(admin_url.set(database=name).render_as_string(hide_password=False))
        return self.postgresql

    def drop(self) -> None:
        if self.postgresql is not None:
            statement = f'DROP DATABASE IF EXISTS "{self.postgresql}" WITH (FORCE)'
            asyncio.run(_admin_execute(async_url(TEST_DATABASE_URL), statement))


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(tmp_path_factory.mktemp("migrated"))
    yield templates
    templates.drop()


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: MigratedTemplates
) -> AsyncIterator[str]:
    """The URL of a database of each backend with the shipped schema and no rows, gone after
    the test."""
    if request.param == "sqlite":
        path = tmp_path / "data" / "mutuality.db"
        await migrated_templates.sqlite_copy(path)
        yield f"sqlite:///{path}"
        return
    template = await migrated_templates.postgresql_template()
    async with _fresh_postgresql_database(template) as url:
        yield url


@pytest.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database of each backend (not even its folder, on SQLite), gone
    after the test: for the migrations' own tests."""
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
