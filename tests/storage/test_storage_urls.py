"""Database URLs as operators paste them become the async drivers' URLs."""

from __future__ import annotations

import pytest

from storage import Database, InvalidDatabaseUrl
from storage.urls import async_url, describe, is_sqlite_file


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("sqlite:///mutuality.db", "sqlite+aiosqlite:///mutuality.db"),
        ("sqlite+aiosqlite:///data/m.db", "sqlite+aiosqlite:///data/m.db"),
        ("sqlite+pysqlite:////var/lib/m.db", "sqlite+aiosqlite:////var/lib/m.db"),
        ("postgres://u:p@db.example:5432/app", "postgresql+asyncpg://u:p@db.example:5432/app"),
        ("postgresql://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgresql+psycopg2://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgresql+asyncpg://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("  postgres://u@db/app\n", "postgresql+asyncpg://u@db/app"),
        ("postgres://u@db/app?sslmode=require", "postgresql+asyncpg://u@db/app?ssl=require"),
    ],
)
def test_pasted_urls_are_rewritten_to_async_drivers(pasted: str, expected: str) -> None:
    assert async_url(pasted).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize("pasted", ["mysql://u@db/app", "not a url", ""])
def test_unusable_urls_are_refused(pasted: str) -> None:
    with pytest.raises(InvalidDatabaseUrl):
        async_url(pasted)


def test_descriptions_never_show_the_password() -> None:
    url = async_url("postgres://mutuality:s3cret@db.example:6543/app")
    assert describe(url) == "PostgreSQL database 'app' at db.example:6543 as mutuality"
    assert "s3cret" not in repr(Database("postgres://mutuality:s3cret@db.example:6543/app"))
    assert describe(async_url("sqlite:///data/m.db")) == "SQLite database data/m.db"


def test_sqlite_files_are_told_from_memory_databases() -> None:
    assert is_sqlite_file(async_url("sqlite:///data/m.db"))
    assert not is_sqlite_file(async_url("sqlite://"))
    assert not is_sqlite_file(async_url("sqlite:///:memory:"))
    assert not is_sqlite_file(async_url("sqlite:///file:m?mode=memory&uri=true"))
    assert not is_sqlite_file(async_url("postgresql://u@db/app"))
