"""`mutuality highlights`: preview a group's weekly highlight, or send it now.

`bot.cli` adds this group to the `mutuality` command; the `App` it shares comes in as the click
context's object (imported only for the type checker, which keeps the two modules acyclic).
"""

from __future__ import annotations

import click

from bot.cli.app import App, find_group
from bot.highlights.weekly import (
    DeliveryPlan,
    HighlightPreview,
    current_week,
    deliver,
    iso_week,
)
from bot.highlights.weekly import preview as preview_highlight
from bot.i18n.catalogs import load_catalogs
from bot.turns.service import utc_now
from storage.database import Database
from storage.records import GroupRecord

WEEK_HELP = "An ISO week, like 2026-W48 (default: the current week in the group's time zone)."


@click.group()
def highlights() -> None:
    """The weekly peer highlight of a group."""


@highlights.command("preview")
@click.argument("group")
@click.option("--week", help=WEEK_HELP)
@click.pass_obj
def preview(app: App, group: str, week: str | None) -> None:
    """Print exactly what GROUP (a name or join code) will receive."""
    chosen = _parse_week(week)
    catalogs = load_catalogs(app.settings.locales_path)

    async def work(database: Database) -> HighlightPreview:
        async with database.read() as uow:
            found = await find_group(uow, group)
            return await preview_highlight(uow, found, chosen, catalogs, utc_now())

    shown = app.run(work)
    status = "already sent" if shown.sent else "not sent yet"
    click.echo(f"{shown.group.name}, {shown.week} ({shown.group.language}, {status}):", err=True)
    click.echo(shown.text)


@highlights.command("send")
@click.argument("group")
@click.option("--week", help=WEEK_HELP)
@click.pass_obj
def send(app: App, group: str, week: str | None) -> None:
    """Queue GROUP's highlight (a name or join code) in the outbox, once per week."""
    chosen = _parse_week(week)
    catalogs = load_catalogs(app.settings.locales_path)

    async def work(database: Database) -> tuple[GroupRecord, DeliveryPlan]:
        async with database.transaction() as uow:
            found = await find_group(uow, group)
            now = utc_now()
            year, number = chosen or current_week(found.timezone, now)
            plan = await deliver(uow, found, year, number, catalogs, now)
        if plan.delivered:
            async with app.sender_wake() as wake:
                if wake is not None:
                    await wake()
        return found, plan

    found, plan = app.run(work)
    if plan.already_sent:
        click.echo(f"The {plan.week} highlight of {found.name} was already sent: nothing queued.")
        return
    channels = ", ".join(f"{channel} {count}" for channel, count in plan.by_channel.items())
    click.echo(f"Queued the {plan.week} highlight of {found.name}: {channels or 'nobody'}.")
    click.echo(
        f"  group chats {sum(plan.group_chats.values())}, members {sum(plan.members.values())}"
        f" (skipped: {plan.skipped.get('in_group_chat', 0)} read the group chat,"
        f" {plan.skipped.get('opted_out', 0)} opted out,"
        f" {plan.skipped.get('no_consent', 0)} without recorded consent,"
        f" {plan.skipped.get('unreachable', 0)} unreachable);"
        f" stories published {len(plan.published_story_ids)}"
    )


def _parse_week(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        return iso_week(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--week") from error
