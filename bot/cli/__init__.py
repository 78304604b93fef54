"""The `mutuality` command: the root group; each module beside this one defines its own commands,
which are added here. Command modules import `bot.cli.app`, never this package, so nothing here
imports in a circle."""

from __future__ import annotations

import click

from bot.cli.app import App
from bot.cli.broadcast import broadcast
from bot.cli.checkins import checkins
from bot.cli.db import db
from bot.cli.export import export
from bot.cli.groups import groups
from bot.cli.highlights import highlights
from bot.cli.i18n import i18n
from bot.cli.members import members
from bot.cli.serve import chat, clock, run, web, worker
from bot.cli.staff import staff
from bot.cli.stories import stories
from bot.logs import guard_last_resort
from bot.settings import load_settings


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Mutuality: a peer group's business journal as a chat bot."""
    try:
        settings = load_settings()
    except ValueError as error:
        raise click.ClickException(f"configuration: {error}") from error
    guard_last_resort(settings.secrets)
    ctx.obj = App(settings)


for command in (
    chat, run, web, worker, clock, groups, export, checkins, i18n, db,
    highlights, members, staff, stories, broadcast,
):  # fmt: skip
    main.add_command(command)
