"""`Database` itself: connection settings, availability errors and concurrent transactions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import Database, DatabaseUnavailable

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
            await uow.messages.log_outbound(
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
