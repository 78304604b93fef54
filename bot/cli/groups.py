"""`mutuality groups`: create peer groups, list them with their join codes, set their schedules."""

from __future__ import annotations

from typing import Any

import click

from bot.cli.app import App, find_group, pass_app
from bot.cli.staff import find_staff
from bot.i18n.catalogs import load_catalogs
from bot.turns.service import utc_now
from storage.database import Database
from storage.errors import InvalidGroup


@click.group()
def groups() -> None:
    """Peer groups: create them and list their join codes."""


@groups.command("create")
@click.argument("name")
@click.option("--timezone", required=True, help="IANA time zone, like Africa/Nairobi.")
@click.option("--language", default="en", show_default=True, help="The group's language code.")
@click.option("--currency", required=True, help="ISO 4217 code, like KES.")
@pass_app
def groups_create(app: App, name: str, timezone: str, language: str, currency: str) -> None:
    """Create a peer group and print its join code."""
    codes = load_catalogs(app.settings.locales_path).codes
    if language not in codes:
        raise click.BadParameter(
            f"'{language}' is not a shipped language ({', '.join(codes)})", param_hint="--language"
        )

    async def work(database: Database) -> Any:
        async with database.transaction() as uow:
            return await uow.groups.create(name, timezone.strip(), language, currency, at=utc_now())

    try:
        group = app.run(work)
    except InvalidGroup as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f'Created group "{group.name}" ({group.timezone}, {group.language}, {group.currency}).'
    )
    click.echo(f"Join code: {group.join_code}")


@groups.command("schedule")
@click.argument("group")
@click.option(
    "--checkin", help='When the weekly check-in invitation goes out: cron, e.g. "0 9 * * MON".'
)
@click.option("--highlights", help='When the weekly highlight goes out: cron, e.g. "0 18 * * SUN".')
@click.option("--quiet", help="Quiet hours in the group's time, e.g. 21:00-07:00.")
@click.option("--timezone", help="Change the group's time zone (IANA name).")
@pass_app
def groups_schedule(
    app: App,
    group: str,
    checkin: str | None,
    highlights: str | None,
    quiet: str | None,
    timezone: str | None,
) -> None:
    """Show or change a group's schedules (in the group's own time zone) and quiet hours."""
    from bot.calendar.schedules import GroupSchedule, ScheduleProblem, changed_schedule

    quiet_start = quiet_end = None
    if quiet is not None:
        quiet_start, _, quiet_end = quiet.partition("-")

    async def work(database: Database) -> Any:
        async with database.transaction() as uow:
            found = await find_group(uow, group)
            try:
                wanted = changed_schedule(
                    GroupSchedule.of(found),
                    timezone=timezone,
                    checkin=checkin,
                    highlights=highlights,
                    quiet_start=quiet_start,
                    quiet_end=quiet_end,
                )
            except ScheduleProblem as error:
                if error.field == "quiet":
                    raise click.BadParameter(
                        f"{error}; write it like 21:00-07:00", param_hint="--quiet"
                    ) from error
                if error.field == "timezone":
                    raise click.BadParameter(str(error), param_hint="--timezone") from error
                raise click.ClickException(str(error)) from error
            return await uow.groups.set_schedule(
                found.id,
                timezone=wanted.timezone,
                checkin_schedule=wanted.checkin,
                highlight_schedule=wanted.highlights,
                quiet_start=wanted.quiet_start,
                quiet_end=wanted.quiet_end,
            )

    updated = app.run(work)
    click.echo(f"{updated.name} ({updated.timezone}):")
    click.echo(f"  weekly check-in: {updated.checkin_schedule}")
    click.echo(f"  highlights:      {updated.highlight_schedule}")
    click.echo(f"  quiet hours:     {updated.quiet_start}-{updated.quiet_end}")


@groups.command("list")
@pass_app
def groups_list(app: App) -> None:
    """Every group with its join code and member count."""

    async def work(database: Database) -> Any:
        async with database.read() as uow:
            return await uow.groups.list()

    rows = app.run(work)
    if not rows:
        click.echo("No groups yet. Create one with:")
        click.echo('  mutuality groups create "Name" --timezone Africa/Nairobi --currency KES')
        return
    header = f"{'code':<8} {'members':>7}  {'language':<8} {'currency':<8} {'timezone':<20}"
    click.echo(f"{header} name")
    for group in rows:
        click.echo(
            f"{group.join_code:<8} {group.member_count:>7}  {group.language:<8} "
            f"{group.currency:<8} {group.timezone:<20} {group.name}"
        )


@groups.command("link-chat")
@click.argument("group")
@click.option("--chat", "chat_id", required=True, help="The Telegram group chat id, like -100123.")
@click.option("--by", "by", required=True, help="The staff user of the group who confirms.")
@pass_app
def groups_link_chat(app: App, group: str, chat_id: str, by: str) -> None:
    """Bind a Telegram group chat (--chat; the bot must be in it) to GROUP (name or join
    code), confirmed by a staff user of that group (and of the group it is bound to now, if
    any): the group's highlights then go there. The same check as `/link CODE` in the chat."""

    async def work(database: Database) -> str:
        async with database.transaction() as uow:
            staff = await find_staff(uow, by)
            found = await find_group(uow, group)
            chat = await uow.group_chats.get("telegram", chat_id.strip())
            if chat is None:
                raise click.ClickException(
                    f"the bot is in no Telegram group chat {chat_id}: add it to the chat first"
                )
            for group_id in {found.id, chat.group_id} - {None}:
                assert group_id is not None
                if not await uow.staff.serves(staff, group_id):
                    raise click.ClickException(
                        f"{staff.name} ({staff.role}) does not work with that group: it takes "
                        "an admin, or a staff user given the group"
                    )
            await uow.group_chats.link("telegram", chat.chat_id, chat.title, found.id, at=utc_now())
            await uow.audit.record(
                staff.id, "linked_chat", at=utc_now(), detail=f"chat {chat.id} to group {found.id}"
            )
            return f'Linked "{chat.title}" to {found.name}.'

    click.echo(app.run(work))
