"""The `mutuality` command: the root group; each module beside this one defines its own commands,
which are added here. Command modules import `bot.cli.app`, never this package, so nothing here
imports in a circle."""

from __future__ import annotations

import click

from bot.cli.app import App
from bot.cli.broadcast import broadcast
from bot.cli.checkins import checkins
from bot.cli.db import db
from bot.cli.errors import OperatorCommands
from bot.cli.export import export
from bot.cli.groups import groups
from bot.cli.highlights import highlights
from bot.cli.i18n import i18n
from bot.cli.members import members
from bot.cli.report import report
from bot.cli.serve import chat, clock, run, web, worker
from bot.cli.staff import staff
from bot.cli.stories import stories
from bot.cli.whatsapp import whatsapp
from bot.logs import guard_last_resort
from bot.settings import load_settings


@click.group(cls=OperatorCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mutuality", prog_name="mutuality")
@click.option(
    "--traceback", is_flag=True, help="On an unexpected error, show where it happened (for bugs)."
)
@click.pass_context
def main(ctx: click.Context, traceback: bool) -> None:
    """Mutuality: a peer group's business journal as a chat bot."""
    del traceback  # read by OperatorCommands from the context
    try:
        settings = load_settings()
    except ValueError as error:
        raise click.ClickException(f"configuration: {error}") from error
    guard_last_resort(settings.secrets)
    ctx.obj = App(settings)


for command in (
    chat, run, web, worker, clock, groups, export, checkins, i18n, db,
    highlights, members, staff, stories, broadcast, whatsapp, report,
):  # fmt: skip
    main.add_command(command)
