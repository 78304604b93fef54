"""The shipped migrations reach head and build exactly the schema the models describe."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage import Database
from storage.models import Base
from storage.schema_head import shipped_head
from storage.schema_migrations import (
    MIGRATIONS_DIR,
    current_revision,
    head_revision,
    upgrade_to,
    upgrade_to_head,
)
from storage.search import outside_models
from tests.conftest import BACKENDS


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_name": outside_models,
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_reaches_head(database: Database) -> None:
    async with database.engine.connect() as connection:
        revision = await connection.run_sync(current_revision)
    assert revision is not None
    assert revision == head_revision()


async def test_migrated_schema_matches_models(database: Database) -> None:
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def test_comparison_notices_a_schema_that_drifted(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(text("DROP INDEX ix_answers_session_id"))
        differences = await connection.run_sync(_differences)
    assert [difference[0] for difference in differences] == ["add_index"]


async def test_upgrade_twice_changes_nothing(database: Database) -> None:
    await database.upgrade()
    async with database.engine.connect() as connection:
        assert await connection.run_sync(current_revision) == head_revision()
        assert await connection.run_sync(_differences) == []


async def test_upgrade_creates_the_sqlite_directory_and_fresh_schema(
    empty_database_url: str,
) -> None:
    db = Database(empty_database_url)
    try:
        await db.upgrade()
        await db.ping()
        async with db.transaction() as uow:
            assert await uow.groups.list() == []
    finally:
        await db.dispose()


def test_migrations_ship_inside_the_package() -> None:
    assert MIGRATIONS_DIR.parent.name == "storage"
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("*.py"))


async def test_terminal_rows_stored_as_web_become_console(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(upgrade_to, "0003")
            await connection.execute(
                text(
                    "INSERT INTO members (locale, consent, opted_out, created_at, updated_at) "
                    "VALUES ('en', false, false, '2026-12-01', '2026-12-01')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO addresses (member_id, channel, value, created_at) "
                    "SELECT id, 'web', 'console', '2026-12-01' FROM members"
                )
            )
            await connection.run_sync(upgrade_to_head)
            channels = (await connection.execute(text("SELECT channel FROM addresses"))).all()
        assert channels == [("console",)]
        async with db.transaction() as uow:
            assert await uow.members.by_address("console", "console") is not None
    finally:
        await db.dispose()


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    assert shipped_head() is not None
    assert shipped_head() == head_revision()


async def test_a_database_behind_head_is_migrated_at_start(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(upgrade_to, "0003")
        await db.upgrade()
        async with db.engine.connect() as connection:
            assert await connection.run_sync(current_revision) == head_revision()
            assert await connection.run_sync(_differences) == []
    finally:
        await db.dispose()


if "postgresql" in BACKENDS:

    @pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
    async def test_processes_starting_together_on_a_new_database_migrate_it_once(
        empty_database_url: str,
    ) -> None:
        """Web, workers and clock started at once after a deploy on PostgreSQL: one migrates under
        an advisory lock, the others wait and find it done."""
        processes = [Database(empty_database_url) for _ in range(4)]
        try:
            # Without the migration lock they deadlock on PostgreSQL rather than fail: bound it.
            await asyncio.wait_for(asyncio.gather(*(db.upgrade() for db in processes)), 120)
            async with processes[0].engine.connect() as connection:
                assert await connection.run_sync(current_revision) == head_revision()
                assert await connection.run_sync(_differences) == []
        finally:
            for db in processes:
                await db.dispose()


# Runs in a fresh interpreter: starts on the database as a process does, then names the
# migration libraries it loaded.
_START = """
import asyncio, json, sys
from storage import Database

async def start():
    db = Database(sys.argv[1])
    try:
        await db.upgrade()
    finally:
        await db.dispose()

asyncio.run(start())
print(json.dumps(sorted({"alembic", "mako"} & sys.modules.keys())))
"""


def _loaded_when_starting(url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _START, url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


async def test_starting_on_a_migrated_database_loads_no_alembic(database: Database) -> None:
    url = database.url.render_as_string(hide_password=False)
    assert _loaded_when_starting(url) == "[]"


async def test_starting_on_a_database_behind_head_migrates_it_with_alembic(
    empty_database_url: str,
) -> None:
    db = Database(empty_database_url)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(upgrade_to, "0003")
        assert _loaded_when_starting(empty_database_url) == '["alembic", "mako"]'
        async with db.engine.connect() as connection:
            assert await connection.run_sync(current_revision) == head_revision()
    finally:
        await db.dispose()
