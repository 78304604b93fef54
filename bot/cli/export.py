"""`mutuality export`: answers and help records, one row each, as CSV or XLSX."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from bot.cli.app import App, find_group, pass_app
from bot.reports import exports
from storage.database import Database


@click.command("export")
@click.argument("what", type=click.Choice(["answers", "help"]))
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["csv", "xlsx"]),
    default="csv",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output for CSV).",
)
@click.option("--group", "group_name", help="Only this group (its name or join code).")
@pass_app
def export(
    app: App, what: str, export_format: str, output: Path | None, group_name: str | None
) -> None:
    """Export answers or help records, one row each."""
    if export_format == "xlsx" and output is None:
        raise click.UsageError("--format xlsx needs --output FILE")

    async def work(database: Database) -> Any:
        # a read: on SQLite a long export does not hold up the running bot's writes
        async with database.read() as uow:
            group_id = None
            if group_name:
                group_id = (await find_group(uow, group_name)).id
            if what == "answers":
                return exports.answer_table(await uow.exports.answer_rows(group_id))
            return exports.help_table(await uow.exports.help_rows(group_id))

    table = app.run(work)
    data = exports.render(what, exports.ExportFormat(export_format), table)
    if output is None:
        sys.stdout.buffer.write(data.removeprefix(b"\xef\xbb\xbf"))
        return
    output.write_bytes(data)
    click.echo(f"Wrote {len(table)} {what} rows to {output}", err=True)
