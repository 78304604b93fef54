"""The `mutuality` command: chat in the terminal, manage groups, export, validate, translate."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from bot import catalog_tools, exports
from bot.channels import console
from bot.checkins import DEFAULT_CHECKINS_PATH, Conversations, load_conversations, read_sources
from bot.highlights_cli import highlights
from bot.i18n import load_catalogs
from bot.service import ConversationService, utc_now
from bot.settings import Settings, load_settings
from conversations.loader import DefinitionError, parse_checkins
from storage.database import Database
from storage.errors import DatabaseUnavailable, InvalidGroup

T = TypeVar("T")


class App:
    """What every command shares: settings, and the database and conversations on demand."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def conversations(self) -> Conversations:
        try:
            catalogs = load_catalogs(self.settings.locales_path)
            return load_conversations(catalogs, self.settings.checkins_path)
        except DefinitionError as error:
            raise click.ClickException(
                f"the check-in definitions have problems:\n{error}"
            ) from error

    def run(self, work: Callable[[Database], Awaitable[T]]) -> T:
        async def main() -> T:
            database = Database(
                self.settings.database_url, pool_size=self.settings.database_pool_size
            )
            try:
                await database.upgrade()
                return await work(database)
            finally:
                await database.dispose()

        try:
            return asyncio.run(main())
        except DatabaseUnavailable as error:
            raise click.ClickException(str(error)) from error


pass_app = click.make_pass_decorator(App)


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Mutuality: a peer group's business journal as a chat bot."""
    try:
        settings = load_settings()
    except ValueError as error:
        raise click.ClickException(f"configuration: {error}") from error
    ctx.obj = App(settings)


@main.command()
@click.option(
    "--as", "address", required=True, help="Your phone number or any id; the same id resumes."
)
@pass_app
def chat(app: App, address: str) -> None:
    """Talk to the bot in this terminal, as a member. Ctrl-D ends."""
    conversations = app.conversations()
    address = address.strip()
    if not address:
        raise click.BadParameter("give a phone number or an id", param_hint="--as")

    async def work(database: Database) -> None:
        service = ConversationService(database, conversations, app.settings.default_country)
        await console.chat(service, address)

    app.run(work)


@main.command()
@click.option(
    "--as",
    "chat_as",
    help="Also talk to the bot in this terminal as this member (default: when no channel is "
    "configured and this is a terminal, as 'console').",
)
@pass_app
def run(app: App, chat_as: str | None) -> None:
    """Everything in one process: channels, workers, sender (and the console)."""
    settings = app.settings
    configured = bool(settings.telegram_bot_token or settings.twilio_enabled)
    if chat_as is None and not configured:
        if not sys.stdin.isatty():
            raise click.ClickException(
                "no channel is configured (TELEGRAM_BOT_TOKEN, or TWILIO_* and PUBLIC_URL); "
                "to talk to the bot here, run: mutuality run --as +254712345678"
            )
        chat_as = "console"
    if not configured:
        click.echo("No channel configured yet: talking to the bot here. Ctrl-D ends.", err=True)
    from bot import processes

    processes.configure_logging(quiet=chat_as is not None)
    _run_process(lambda: processes.run(settings, chat_as))


@main.command()
@pass_app
def web(app: App) -> None:
    """The web process: webhooks and health checks on PORT."""
    from bot import processes

    processes.configure_logging()
    _run_process(lambda: processes.web(app.settings))


@main.command()
@pass_app
def worker(app: App) -> None:
    """A worker process: handles stored messages and sends replies (run as many as needed)."""
    from bot import processes

    processes.configure_logging()
    _run_process(lambda: processes.worker(app.settings))


def _run_process(start: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a long-lived process; the channel libraries are imported only by these commands,
    which keeps `chat`, `groups` and `export` quick to start."""
    from bot.pipeline.factory import CoordinationUnavailable
    from bot.processes import run_process

    try:
        run_process(start())
    except (ValueError, DefinitionError, DatabaseUnavailable, CoordinationUnavailable) as error:
        raise click.ClickException(str(error)) from error


@main.command()
@pass_app
def clock(app: App) -> None:
    """The clock process: invitations, reminders, expiries, highlights, scheduled broadcasts.
    Run one; a second one waits for the first's lease and takes over if it dies."""
    from bot import processes

    processes.configure_logging()
    _run_process(lambda: processes.clock(app.settings))


@main.group()
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
    from bot.clock import ScheduleError, check_schedule, cron_trigger
    from bot.quiet_hours import parse_clock

    async def work(database: Database) -> Any:
        async with database.transaction() as uow:
            found = await uow.groups.by_code(group) or await uow.groups.by_name(group)
            if found is None:
                raise click.ClickException(f"no group named or coded '{group}'")
            zone = timezone or found.timezone
            quiet_start, quiet_end = found.quiet_start, found.quiet_end
            if quiet:
                start, _, end = quiet.partition("-")
                try:
                    parse_clock(start), parse_clock(end)
                except ValueError as error:
                    raise click.BadParameter(
                        f"{error}; write it like 21:00-07:00", param_hint="--quiet"
                    ) from error
                quiet_start, quiet_end = start.strip(), end.strip()
            try:
                check_schedule(checkin or found.checkin_schedule, zone, quiet_start, quiet_end)
                cron_trigger(highlights or found.highlight_schedule, zone)
            except ScheduleError as error:
                raise click.ClickException(str(error)) from error
            return await uow.groups.set_schedule(
                found.id,
                timezone=zone,
                checkin_schedule=checkin or found.checkin_schedule,
                highlight_schedule=highlights or found.highlight_schedule,
                quiet_start=quiet_start,
                quiet_end=quiet_end,
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


@main.command("export")
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
                group = await uow.groups.by_code(group_name) or await uow.groups.by_name(group_name)
                if group is None:
                    raise click.ClickException(f"no group named or coded '{group_name}'")
                group_id = group.id
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


@main.group()
def checkins() -> None:
    """Check-in definitions."""


@checkins.command("validate")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
def checkins_validate(path: Path | None) -> None:
    """Check definition files (a file or a folder; default: the shipped ones)."""
    target = path or DEFAULT_CHECKINS_PATH
    try:
        found = parse_checkins(read_sources(target))
    except DefinitionError as error:
        click.echo(str(error), err=True)
        raise SystemExit(1) from error
    for checkin in found.values():
        click.echo(
            f"ok  {checkin.source}: {checkin.id} v{checkin.version}, {len(checkin.steps)} steps"
        )


@main.group()
def i18n() -> None:
    """Translation catalogs (see docs/translating.md)."""


@i18n.command("extract")
def i18n_extract() -> None:
    """Write locales/messages.pot and merge it into every language's catalog."""
    template = catalog_tools.extract()
    click.echo(f"Wrote {catalog_tools.write_template(template)} ({len(template)} messages)")
    for path in catalog_tools.update(template):
        click.echo(f"Updated {path}")


@i18n.command("check")
def i18n_check() -> None:
    """Report missing, fuzzy and placeholder-breaking translations."""
    problems = catalog_tools.check(catalog_tools.extract())
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise SystemExit(1)
    click.echo("All catalogs are complete.")


@main.group()
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


main.add_command(highlights)


# Command groups defined in modules of their own (they need `App` only for type checking).
from bot.members_cli import members  # noqa: E402
from bot.staff_cli import staff  # noqa: E402
from bot.stories_cli import stories  # noqa: E402

main.add_command(members)
main.add_command(staff)
main.add_command(stories)

from bot.broadcast_cli import broadcast  # noqa: E402

main.add_command(broadcast)
