"""`mutuality members`: enrol members in bulk from a CSV roster, and export the roster.

The reading, checking and planning live in `bot.members.roster`; this module only talks to the
operator.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.app import App
from bot.cli.progress import Progress
from bot.cli.staff import find_staff
from bot.i18n.catalogs import load_catalogs
from bot.members.copies import member_copy_csv
from bot.members.roster import (
    Action,
    Export,
    ImportPlan,
    apply_import,
    decode_members_file,
    export_members,
    members_csv,
    parse_members_csv,
    plan_import,
)
from bot.turns.service import utc_now
from storage.database import Database
from storage.errors import AddressInUse

SHOWN_ROWS = 20
"""Beyond this many lines, an import prints a summary instead of a line for each member."""


@click.group("members")
def members() -> None:
    """Members in bulk: import a roster from a CSV file, export it; one member's data: a copy
    of it, its erasure."""


@members.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--apply", "write", is_flag=True, help="Write the changes (default: only show them).")
@click.pass_obj
def members_import(app: App, file: Path, write: bool) -> None:
    """Enrol the members listed in FILE, a CSV file (UTF-8) whose first line is the header

        name,phone,telegram_id,group,language

    \b
    name         the member's name (empty: none yet, or keep the stored one)
    phone        with + and the country code, like +254712345678; it becomes the member's
                 WhatsApp and SMS address. A number without + (0712345678) is read in the
                 country of the member's group (from its time zone).
    telegram_id  the member's Telegram user id (digits)
    group        the group's name or join code (empty: no group, or keep the stored one)
    language     a shipped language code, like en, es, fil, sw, fr (empty: keep the stored
                 one; for a new member, the group's)

    Columns may be separated by commas, semicolons or tabs, and headers may be written as
    spreadsheets do ("Phone Number", "Telegram ID", "Full Name"); other columns are left out
    and named. A line repeated exactly is imported once. A group that the import would grow
    past 50 members is warned of. Long files show a summary and a progress bar.

    Each line needs a phone or a telegram_id, or both. A line whose phone or Telegram id is
    already a member's updates that member (name, language, group, missing addresses);
    importing the same file again changes nothing. Columns member_id, opted_out and onboarded,
    which `mutuality members export` adds, are ignored, and so is the ' that an export puts
    before a name starting with =, +, - or @ (so that spreadsheets show it instead of
    computing it).

    By default nothing is written: every line with a problem is shown with its line number,
    and what would be created, updated or left unchanged. With --apply everything is written
    in one transaction, and only if no line has a problem: 500 lines at a time, a few
    statements each, so a program of 10,000 members takes seconds. If anything fails on the
    way (someone wrote to the bot from a number in the file meanwhile), nothing of the file is
    written.

    Imported members have not given consent (it is unknown) and are not onboarded: on their
    first contact with the bot they go through onboarding like anyone new, and are asked for
    their consent there (the join code question is skipped when the file put them in a group).
    """
    try:
        text = decode_members_file(file.read_bytes())
    except ValueError as error:
        raise click.ClickException(f"{file}: {error}") from error
    languages = load_catalogs(app.settings.locales_path).codes
    parsed = parse_members_csv(text, languages)

    async def work(database: Database) -> ImportPlan:
        async with database.transaction() as uow:
            plan = await plan_import(
                uow, parsed, languages=languages, default_country=app.settings.default_country
            )
            if write and not plan.errors:
                if len(plan.members) > SHOWN_ROWS:
                    with Progress(len(plan.members), "Writing members") as bar:
                        await apply_import(uow, plan, at=utc_now(), progress=bar.advance)
                else:
                    await apply_import(uow, plan, at=utc_now())
            return plan

    try:
        plan = app.run(work)
    except AddressInUse as error:
        raise click.ClickException(
            f"{error} since the import was checked (someone wrote in meanwhile); nothing was "
            "written: run the import again"
        ) from error
    if parsed.ignored_columns:
        click.echo(f"Columns left out (unknown): {', '.join(parsed.ignored_columns)}")
    for line, first in parsed.merged:
        click.echo(f"line {line}: the same as line {first}; imported once")
    changing = [planned for planned in plan.members if planned.action is not Action.UNCHANGED]
    for planned in changing[:SHOWN_ROWS]:
        click.echo(f"line {planned.row.line}: {planned.action}: {', '.join(planned.changes)}")
    if len(changing) > SHOWN_ROWS:
        click.echo(f"... and {len(changing) - SHOWN_ROWS} more lines like these (see the summary)")
    for warning in plan.warnings:
        click.echo(f"Warning: {warning}", err=True)
    for problem in plan.errors:
        click.echo(f"{file}: {problem}", err=True)
    created, updated = plan.count(Action.CREATE), plan.count(Action.UPDATE)
    unchanged, errors = plan.count(Action.UNCHANGED), plan.error_lines
    if write and not errors:
        click.echo(f"Created {created} members, updated {updated}, unchanged {unchanged}.")
        return
    summary = f"create {created} members, update {updated}, unchanged {unchanged}"
    click.echo(f"{'Checked' if write else 'Dry run'}: would {summary}, errors {errors}.")
    if errors:
        raise click.ClickException(
            f"{errors} {'line has' if errors == 1 else 'lines have'} errors; nothing was written. "
            "Fix them and run again."
        )
    click.echo("Nothing was written; run again with --apply to write.")


@members.command("export")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
@click.pass_obj
def members_export(app: App, output: Path | None) -> None:
    """Write every member with a phone or Telegram id as CSV: the import columns, then
    member_id, opted_out and onboarded. The file can be edited and imported again."""

    async def work(database: Database) -> Export:
        async with database.transaction() as uow:
            return await export_members(uow)

    export = app.run(work)
    data = members_csv(export.rows)
    if output is None:
        sys.stdout.buffer.write(data.removeprefix(b"\xef\xbb\xbf"))
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)
        click.echo(f"Wrote {len(export.rows)} members to {output}", err=True)
    if export.left_out:
        ids = ", ".join(f"#{member_id}" for member_id in export.left_out)
        click.echo(
            f"Left out {len(export.left_out)} members with neither a phone nor a Telegram id "
            f"(web or console only): {ids}",
            err=True,
        )


@members.command("export-one")
@click.argument("member_id", type=int)
@click.option("--by", "by", required=True, help="The staff user handing over the copy.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)
@click.pass_obj
def members_export_one(app: App, member_id: int, by: str, output: Path | None) -> None:
    """Write everything stored about one member (MEMBER_ID) as CSV: their profile, addresses,
    groups, answers (as given and as typed), help records, stories and every message. For a
    member who asks for a copy of their data; the export is recorded in the audit log."""

    async def work(database: Database) -> bytes:
        async with database.transaction() as uow:
            staff = await find_staff(uow, by)
            group = await uow.members.current_group(member_id)
            allowed = staff.role == "admin" or (
                staff.role == "coordinator"
                and group is not None
                and await uow.staff.serves(staff, group.id)
            )
            if not allowed:
                raise click.ClickException(
                    f"{staff.name} ({staff.role}) may not export member #{member_id}: it takes "
                    "an admin, or a coordinator of the member's group"
                )
            try:
                copy = await uow.member_data.copy(member_id)
            except LookupError as error:
                raise click.ClickException(str(error)) from error
            await uow.audit.record(staff.id, "exported", at=utc_now(), member_id=member_id)
            return member_copy_csv(copy)

    data = app.run(work)
    if output is None:
        sys.stdout.buffer.write(data.removeprefix(b"\xef\xbb\xbf"))
        sys.stdout.buffer.flush()
    else:
        output.write_bytes(data)
        click.echo(f"Wrote member #{member_id}'s data to {output}", err=True)


@members.command("erase")
@click.argument("member_id", type=int)
@click.option("--by", "by", required=True, help="The admin erasing, by id, phone or name.")
@click.option("--yes", "confirmed", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def members_erase(app: App, member_id: int, by: str, confirmed: bool) -> None:
    """Erase one member's personal data (MEMBER_ID), for a member who asks in person: name,
    addresses, messages, answer texts, stories, and their name where others' lines quote it.
    Numbers stay for program statistics under an id that leads to no one. Admins only; the
    erasure is recorded in the audit log. It cannot be undone."""
    if not confirmed:
        click.confirm(f"Erase member #{member_id}'s personal data for good?", abort=True)

    async def work(database: Database) -> str:
        async with database.transaction() as uow:
            staff = await find_staff(uow, by)
            if staff.role != "admin":
                raise click.ClickException(
                    f"{staff.name} is {staff.role}: erasing a member takes an admin"
                )
            if await uow.members.get(member_id) is None:
                raise click.ClickException(f"no member #{member_id}")
            erasure = await uow.member_data.erase(member_id, utc_now())
            await uow.audit.record(
                staff.id, "erased", at=utc_now(), member_id=member_id, detail=erasure.describe()
            )
            return erasure.describe()

    click.echo(f"Erased member #{member_id}: {app.run(work)}.")
