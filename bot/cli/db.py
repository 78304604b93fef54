"""`mutuality db`: the database's migrations."""

from __future__ import annotations

import click

from bot.cli.app import App, pass_app
from storage.database import Database


@click.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Apply migrations (every command does this too)."""

    async def work(database: Database) -> None:
        return None

    app.run(work)
    click.echo("Database is up to date.")
