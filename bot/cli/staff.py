"""`mutuality staff`: the people who moderate stories, write them and broadcast.

Also `find_staff`, which turns what an operator types after `--by` into a staff user.
"""

from __future__ import annotations

import sys
from typing import Any, Final, cast

import click

from bot.cli.app import App, find_group
from bot.i18n.catalogs import load_catalogs
from bot.members.roster import normalize_phone, normalize_telegram_id
from bot.staff.accounts import Contacts, describe
from bot.turns.service import utc_now
from storage.database import Database
from storage.records import STAFF_ROLES, StaffRecord, StaffRole
from storage.repositories.staff import InvalidStaff
from storage.unit_of_work import UnitOfWork

MAX_ID_DIGITS: Final = 9
"""Longer numbers are no staff id (ids are 32-bit integers): they are tried as Telegram ids."""


async def find_staff(uow: UnitOfWork, by: str) -> StaffRecord:
    """The working staff user `by` names: their id, their phone (+ and country code, any
    spacing), their Telegram id, or their name in any case. Raises `click.ClickException` saying
    what to give when no one, or more than one person, matches, and saying so when `by` names
    someone who was removed (removed staff act on nothing)."""
    clean = " ".join(by.split())
    try:
        return await _lookup(uow, clean)
    except click.ClickException:
        await _refuse_removed(uow, clean)
        raise


async def find_admin(uow: UnitOfWork, by: str) -> StaffRecord:
    """`find_staff`, refusing anyone but an admin: managing staff takes one."""
    person = await find_staff(uow, by)
    if person.role != "admin":
        raise click.ClickException(
            f"{person.name} is {person.role}, not admin: changing staff takes an admin's --by"
        )
    return person


async def _refuse_removed(uow: UnitOfWork, clean: str) -> None:
    """Name the removed staff user `clean` points at, if any, instead of "no one"."""
    removed: list[StaffRecord] = []
    if clean.isascii() and clean.isdigit() and len(clean) <= MAX_ID_DIGITS:
        person = await uow.staff.get(int(clean), include_removed=True)
        removed = [person] if person is not None else []
    elif not clean.startswith("+") and "@" not in clean:
        removed = await uow.staff.by_name(clean, include_removed=True)
    for person in removed:
        if person.removed_at is not None:
            raise click.ClickException(
                f"staff #{person.id} {person.name} was removed on "
                f"{person.removed_at:%Y-%m-%d} (mutuality staff list shows who is on staff)"
            )


async def _lookup(uow: UnitOfWork, clean: str) -> StaffRecord:
    if not clean:
        raise click.ClickException("--by needs a staff id, phone or name")
    found: StaffRecord | None = None
    if "@" in clean and " " not in clean:
        found = await uow.staff.by_email(clean)
        if found is None:
            raise click.ClickException(
                f"no staff user has the email {clean} (mutuality staff list shows them)"
            )
        return found
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
@click.option("--email", help="Their email, which they sign in to the console with.")
@click.option(
    "--groups",
    "group_names",
    help='The groups they work with, by name or join code, separated by commas: "A, B".',
)
@click.pass_obj
def staff_add(
    app: App,
    name: str,
    role: str,
    phone: str | None,
    telegram_id: str | None,
    email: str | None,
    group_names: str | None,
) -> None:
    """Add a staff user called NAME, with a phone, a Telegram id, an email, or several.

    Names, phones, Telegram ids and emails are each unique among staff, so any of them
    identifies who approved or wrote a story (see --by in mutuality stories). A coordinator
    reads the conversations of their --groups only; admins see every group.
    """
    if not any(value and value.strip() for value in (phone, telegram_id, email)):
        raise click.UsageError(
            "give --phone, --telegram or --email: staff are reached and sign in through them"
        )
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
            added = await uow.staff.add(
                name,
                cast(StaffRole, role),
                phone=clean_phone,
                telegram_id=clean_telegram,
                email=email,
                at=utc_now(),
            )
            if group_names:
                await uow.staff.set_groups(added.id, await _groups(uow, group_names))
            return added

    try:
        added = app.run(work)
    except InvalidStaff as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Added staff #{added.id} {added.name} ({added.role}).")


@staff.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also show removed staff users.")
@click.pass_obj
def staff_list(app: App, show_all: bool) -> None:
    """Every staff user on staff: id, role, phone, Telegram id, name (--all: the removed too)."""

    async def work(database: Database) -> Any:
        async with database.transaction() as uow:
            return await uow.staff.list(include_removed=show_all)

    rows: list[StaffRecord] = app.run(work)
    if not rows:
        click.echo("No staff yet. Add someone with:")
        click.echo('  mutuality staff add "Grace" --role coordinator --phone +254700000001')
        return
    click.echo(f"{'id':>4}  {'role':<11} {'phone':<16} {'telegram':<14} name")
    for row in rows:
        removed = f"  (removed {row.removed_at:%Y-%m-%d})" if row.removed_at else ""
        click.echo(
            f"{row.id:>4}  {row.role:<11} {row.phone or '-':<16} {row.telegram_id or '-':<14} "
            f"{row.name}{removed}"
        )


@staff.command("remove")
@click.argument("who")
@click.option("--by", "by", required=True, help="The admin who removes them (id, phone or name).")
@click.pass_obj
def staff_remove(app: App, who: str, by: str) -> None:
    """Remove WHO (id, email, phone or name) from staff: they can no longer sign in (their
    console sessions end now), send staff commands in chat or be named after --by. Their name
    stays on the audit log and on the stories and broadcasts they wrote. The last admin cannot
    be removed."""

    async def work(database: Database) -> StaffRecord:
        async with database.transaction() as uow:
            admin = await find_admin(uow, by)
            person = await find_staff(uow, who)
            removed = await uow.staff.remove(person.id, at=utc_now())
            await uow.audit.record(admin.id, "staff_removed", at=utc_now(), detail=describe(person))
            return removed

    try:
        removed = app.run(work)
    except InvalidStaff as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Removed staff #{removed.id} {removed.name}; their console sessions have ended.")


@staff.command("edit")
@click.argument("who")
@click.option("--name", help="Their new name.")
@click.option("--role", type=click.Choice(STAFF_ROLES), help="Their new role.")
@click.option("--email", help='Their new email ("" to clear it).')
@click.option("--phone", help='Their new phone with + and country code ("" to clear it).')
@click.option("--telegram", "telegram_id", help='Their new Telegram user id ("" to clear it).')
@click.option("--language", help='The console language they see ("" for the browser\'s).')
@click.option("--by", "by", required=True, help="The admin who edits them (id, phone or name).")
@click.pass_obj
def staff_edit(
    app: App,
    who: str,
    name: str | None,
    role: str | None,
    email: str | None,
    phone: str | None,
    telegram_id: str | None,
    language: str | None,
    by: str,
) -> None:
    """Change WHO (id, email, phone or name): only what is given changes. They keep at least
    one of a phone, a Telegram id or an email, and the last admin keeps the admin role."""
    if all(value is None for value in (name, role, email, phone, telegram_id, language)):
        raise click.UsageError("give what to change: --name, --role, --email, --phone, ...")
    try:
        contacts = Contacts(phone, telegram_id).normalized()
    except ValueError as error:
        raise click.BadParameter(str(error)) from error
    if language and language.strip():
        codes = load_catalogs(app.settings.locales_path).codes
        if language.strip() not in codes:
            raise click.BadParameter(
                f"'{language}' is not a shipped language ({', '.join(codes)})",
                param_hint="--language",
            )

    async def work(database: Database) -> tuple[StaffRecord, StaffRecord]:
        async with database.transaction() as uow:
            admin = await find_admin(uow, by)
            person = await find_staff(uow, who)
            edited = await uow.staff.edit(
                person.id,
                name=name,
                role=cast(StaffRole | None, role),
                phone=contacts.phone,
                telegram_id=contacts.telegram_id,
                email=email,
                language=language,
            )
            await uow.audit.record(
                admin.id,
                "staff_edited",
                at=utc_now(),
                detail=f"{describe(person)} -> {describe(edited)}",
            )
            return person, edited

    try:
        before, after = app.run(work)
    except InvalidStaff as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Edited staff #{after.id}: {describe(before)} -> {describe(after)}.")


async def _groups(uow: UnitOfWork, names: str) -> list[int]:
    ids = []
    for reference in (part.strip() for part in names.split(",")):
        if reference:
            ids.append((await find_group(uow, reference)).id)
    return ids


@staff.command("groups")
@click.argument("who")
@click.argument("group_names")
@click.pass_obj
def staff_groups(app: App, who: str, group_names: str) -> None:
    """Set the groups WHO (id, email, phone or name) works with: GROUP_NAMES by name or join
    code, separated by commas ("" for none)."""

    async def work(database: Database) -> tuple[StaffRecord, list[str]]:
        async with database.transaction() as uow:
            person = await find_staff(uow, who)
            await uow.staff.set_groups(person.id, await _groups(uow, group_names))
            await uow.audit.record(None, "staff_groups", at=utc_now(), detail=person.name)
            return person, await uow.staff.group_names(person.id)

    person, names = app.run(work)
    click.echo(f"{person.name} works with: {', '.join(names) or 'no group'}.")


@staff.command("password")
@click.argument("who")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from one line of standard input instead of prompting.",
)
@click.pass_obj
def staff_password(app: App, who: str, password_stdin: bool) -> None:
    """Set the console password of WHO (id, email, phone or name); their sessions end."""
    from bot.web.console.passwords import WeakPassword, hash_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        password_hash = hash_password(password)
    except WeakPassword as error:
        raise click.ClickException(str(error)) from error

    async def work(database: Database) -> StaffRecord:
        async with database.transaction() as uow:
            person = await find_staff(uow, who)
            await uow.sign_in.set_password_hash(person.id, password_hash)
            await uow.audit.record(None, "set_password", at=utc_now(), detail=person.name)
            return person

    person = app.run(work)
    sign_in = person.email or person.phone
    if sign_in:
        click.echo(f"Password set for {person.name}; they sign in at /console as {sign_in}.")
    else:
        click.echo(
            f"Password set for {person.name}, who has no email or phone to sign in with: "
            "add one (mutuality staff add ... --email) first."
        )
