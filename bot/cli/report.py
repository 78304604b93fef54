"""`mutuality report evidence`: the figures a program shows, for a group or the whole program.

`--language` writes the text or the spreadsheet in a shipped language (headers, figures,
methods and kinds of help by their check-in labels); without it the report is the plain English
one it has always been. JSON is for programs and stays English, so `--language` refuses it."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from bot.cli.app import App, find_group, pass_app
from bot.reports import evidence_files
from bot.reports.evidence import EvidenceReport, build_report
from bot.reports.wording import PLAIN, UnknownLanguage, Wording, wording_for
from storage.database import Database


@click.group("report")
def report() -> None:
    """Reports computed from the stored answers."""


@report.command("evidence")
@click.option("--group", "group_name", help="Only this group (its name or join code).")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only what was said from this day on (YYYY-MM-DD, UTC).",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["text", "json", "xlsx"]),
    default="text",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output for text and JSON).",
)
@click.option(
    "--language",
    metavar="LANG",
    help="Write text or XLSX in this language (es, fr, sw, fil, en...): headers, figures, "
    "methods and kinds of help. Default: English, figures and kinds by their stored names.",
)
@pass_app
def evidence(
    app: App,
    group_name: str | None,
    since: datetime | None,
    file_format: str,
    output: Path | None,
    language: str | None,
) -> None:
    """Participation, business and household change per currency, and the help exchanged,
    each figure with how it is computed."""
    if file_format == "xlsx" and output is None:
        raise click.UsageError("--format xlsx needs --output FILE")
    wording: Wording = PLAIN
    if language is not None:
        if file_format == "json":
            raise click.UsageError("JSON is always in English: --language is for text and xlsx")
        checkins = app.checkins()
        try:
            wording = wording_for(checkins.catalogs, checkins.library, language)
        except UnknownLanguage as error:
            raise click.BadParameter(str(error), param_hint="--language") from error
    since_day: date | None = since.date() if since else None

    async def work(database: Database) -> EvidenceReport:
        group_id, name = None, None
        if group_name:
            async with database.read() as uow:
                group = await find_group(uow, group_name)
            group_id, name = group.id, group.name
        return await build_report(
            database, group_id=group_id, group_name=name, since=since_day, now=datetime.now(UTC)
        )

    result = app.run(work)
    if file_format == "xlsx":
        data = evidence_files.to_xlsx(result, wording)
    elif file_format == "json":
        data = evidence_files.to_json(result)
    else:
        data = evidence_files.to_text(result, wording).encode()
    if output is None:
        sys.stdout.buffer.write(data)
        return
    output.write_bytes(data)
    click.echo(f"Wrote the evidence report to {output}", err=True)
