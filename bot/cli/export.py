"""`mutuality export`: answers and help records one row each (CSV or XLSX), Flow Results
Packages, and the anonymised research export."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bot.cli.app import App, find_group, pass_app
from bot.reports import exports, floip
from bot.reports.research import ResearchKeyError, ResearchWritten, check_key, write_research
from storage.database import Database


@click.group("export")
def export() -> None:
    """Export what members answered: as rows, as a standard package, or anonymised."""


def _rows_command(what: str, help_text: str) -> click.Command:
    @click.command(what, help=help_text)
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
    def rows(app: App, export_format: str, output: Path | None, group_name: str | None) -> None:
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

    return rows


export.add_command(_rows_command("answers", "Every answer, one row each."))
export.add_command(_rows_command("help", "The mutual-help ledger, one row per record."))


@export.command("floip")
@click.option(
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the packages into (one sub-folder per check-in).",
)
@click.option("--group", "group_name", help="Only answers given in this group.")
@pass_app
def floip_packages(app: App, output: Path, group_name: str | None) -> None:
    """One Flow Results Package (FLOIP) per check-in: datapackage.json and a responses CSV."""
    library = app.checkins().library

    async def work(database: Database) -> list[floip.PackageWritten]:
        async with database.read() as uow:
            group_id = (await find_group(uow, group_name)).id if group_name else None
            now = datetime.now(UTC)
            written = []
            for checkin_id in await uow.streams.checkin_ids(group_id):
                answers = uow.streams.answers(checkin_id=checkin_id, group_id=group_id)
                written.append(
                    await floip.write_package(
                        output, checkin_id, library.get(checkin_id), answers, now
                    )
                )
            return written

    for package in app.run(work):
        click.echo(f"{package.folder}: {package.responses} responses")


@export.command("research")
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The ZIP file to write.",
)
@click.option("--group", "group_name", help="Only this group.")
@click.option(
    "--include-text",
    is_flag=True,
    help="Also include free text (text answers, help notes): it may name people.",
)
@pass_app
def research(app: App, output: Path, group_name: str | None, include_text: bool) -> None:
    """Answers and help records for evaluators: keyed-hash ids, no names, phones or free text,
    dates as ISO weeks, groups and business types under 5 members merged or left out."""
    secret = app.settings.research_export_key
    try:
        key = check_key(secret.get_secret_value() if secret is not None else None)
    except ResearchKeyError as error:
        raise click.ClickException(str(error)) from error

    async def work(database: Database) -> ResearchWritten:
        async with database.read() as uow:
            group_id = (await find_group(uow, group_name)).id if group_name else None
            return await write_research(
                uow,
                output,
                key,
                group_id=group_id,
                include_text=include_text,
                now=datetime.now(UTC),
            )

    written = app.run(work)
    click.echo(
        f"Wrote {written.answers} answers and {written.help} help records to {output} "
        f"({written.withheld} answers withheld: free text, photos, locations, small groups; "
        f"{len(written.suppressions)} small cells merged or left out, listed in the file)"
    )
