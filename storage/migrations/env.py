"""Alembic environment for Mutuality's schema.

`Database.upgrade` lends an open connection through `config.attributes["connection"]`, already
inside a transaction, and the migrations run on it. Run from the `alembic` command line instead
(`alembic -c storage/alembic.ini -x database_url=sqlite:///mutuality.db upgrade head`), this file
opens its own async connection with the same engine settings the application uses.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from storage.engines import create_engine
from storage.models import Base
from storage.search import outside_models
from storage.urls import async_url

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("database_url")
    url = url or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: pass -x database_url=… to alembic")
    return url


def _run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=outside_models,  # the search index is the migrations' alone
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_new_connection() -> None:
    engine = create_engine(async_url(_database_url()))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_on)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=async_url(_database_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(_run_on_new_connection())
    else:
        _run_on(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
