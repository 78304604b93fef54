"""The shipped migrations reach head and build exactly the schema the models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage import Database
from storage.models import Base
from storage.schema_migrations import (
    MIGRATIONS_DIR,
    current_revision,
    head_revision,
    upgrade_to,
    upgrade_to_head,
)


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
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


async def test_upgrade_creates_the_sqlite_directory_and_fresh_schema(database_url: str) -> None:
    db = Database(database_url)
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


async def test_terminal_rows_stored_as_web_become_console(database_url: str) -> None:
    db = Database(database_url)
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
