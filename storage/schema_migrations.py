"""Alembic, driven from code: the migrations shipped inside this package, run on a connection.

The migrations directory is found next to this file, so an installed (non-editable) package
migrates exactly like a checkout; no `alembic.ini` is read.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic `Config` pointing at `MIGRATIONS_DIR`, built without any file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


def upgrade_to_head(connection: Connection) -> None:
    """Run every pending migration on `connection`, inside the transaction it is in."""
    upgrade_to(connection, "head")


def upgrade_to(connection: Connection, revision: str) -> None:
    """Run the pending migrations up to `revision` on `connection`, inside its transaction.

    `migrations/env.py` takes the connection from `config.attributes["connection"]`.
    """
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def head_revision() -> str | None:
    """The newest revision shipped with this package."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database on `connection` is at (None before the first migration)."""
    return MigrationContext.configure(connection).get_current_revision()
