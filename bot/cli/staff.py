"""`mutuality staff`: the people who moderate stories, write them and broadcast.

Also `find_staff`, which turns what an operator types after `--by` into a staff user.
"""

from __future__ import annotations

from typing import Any, Final, cast

import click

from bot.cli.app import App
from bot.members.roster import normalize_phone, normalize_telegram_id
from bot.turns.service import utc_now
from storage.database import Database
from storage.records import STAFF_ROLES, StaffRecord, StaffRole
from storage.repositories.staff import InvalidStaff
from storage.unit_of_work import UnitOfWork

MAX_ID_DIGITS: Final = 9
"""Longer numbers are no staff id (ids are 32-bit integers): they are tried as Telegram ids."""


async def find_staff(uow: UnitOfWork, by: str) -> StaffRecord:
    """The staff user `by` names: their id, their phone (+ and country code, any spacing), their
    Telegram id, or their name in any case. Raises `click.ClickException` saying what to give
    when no one, or more than one person, matches."""
    clean = " ".join(by.split())
    if not clean:
        raise click.ClickException("--by needs a staff id, phone or name")
    found: StaffRecord | None = None
    if clean.isascii() and clean.isdigit():
        if len(clean) <= MAX_ID_DIGITS:
            found = await uow.staff.get(int(clean))
        found = found or await uow.staff.by_telegram_id(clean)
        if found is None:
            raise click.ClickException(
                f"no staff user has the id or Telegram id {clean} (mutuality staff list shows them)"
            )
        return found
    if clean.startswith("+"):
        try:
            phone = normalize_phone(clean)
        except ValueError as error:
            raise click.ClickException(f"--by: {error}") from error
        found = await uow.staff.by_phone(phone)
        if found is None:
            raise click.ClickException(
                f"no staff user has the phone {phone} (mutuality staff list shows them)"
            )
        return found
    matches = await uow.staff.by_name(clean)
    if not matches:
        raise click.ClickException(
            f'no staff user is named "{clean}" (mutuality staff list shows them; '
            'add one with: mutuality staff add "Name" --role staff --phone +254...)'
        )
    if len(matches) > 1:
        ids = ", ".join(f"#{staff.id}" for staff in matches)
        raise click.ClickException(
            f'{len(matches)} staff users are named "{clean}" ({ids}): give the id or phone instead'
        )
    return matches[0]


@click.group("staff")
def staff() -> None:
    """Staff users: admins, coordinators (read logs, moderate) and staff (write stories,
    broadcast)."""


@staff.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(STAFF_ROLES),
    required=True,
    help="admin, coordinator (reads logs, moderates) or staff (writes stories, broadcasts).",
)
@click.option("--phone", help="Their phone with + and country code, like +254700000001.")
@click.option("--telegram", "telegram_id", help="Their Telegram user id, like 6000000001.")
@click.pass_obj
def staff_add(app: App, name: str, role: str, phone: str | None, telegram_id: str | None) -> None:
    """Add a staff user called NAME, with a phone, a Telegram id or both.

    Names, phones and Telegram ids are each unique among staff, so any of them identifies who
    approved or wrote a story (see --by in mutuality stories).
    """
    if not (phone and phone.strip()) and not (telegram_id and telegram_id.strip()):
        raise click.UsageError("give --phone, --telegram or both: staff are reached through them")
    try:
        clean_phone = normalize_phone(phone) if phone and phone.strip() else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--phone") from error
    try:
        clean_telegram = (
            normalize_telegram_id(telegram_id) if telegram_id and telegram_id.strip() else None
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--telegram") from error

    async def work(database: Database) -> StaffRecord:
        async with database.transaction() as uow:
            return await uow.staff.add(
                name,
                cast(StaffRole, role),
                phone=clean_phone,
                telegram_id=clean_telegram,
                at=utc_now(),
            )

    try:
        added = app.run(work)
    except InvalidStaff as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Added staff #{added.id} {added.name} ({added.role}).")


@staff.command("list")
@click.pass_obj
def staff_list(app: App) -> None:
    """Every staff user: id, role, phone, Telegram id, name."""

    async def work(database: Database) -> Any:
        async with database.transaction() as uow:
            return await uow.staff.list()

    rows: list[StaffRecord] = app.run(work)
    if not rows:
        click.echo("No staff yet. Add someone with:")
        click.echo('  mutuality staff add "Grace" --role coordinator --phone +254700000001')
        return
    click.echo(f"{'id':>4}  {'role':<11} {'phone':<16} {'telegram':<14} name")
    for row in rows:
        click.echo(
            f"{row.id:>4}  {row.role:<11} {row.phone or '-':<16} {row.telegram_id or '-':<14} "
            f"{row.name}"
        )
