"""`mutuality whatsapp sync-content`: create, ahead of time, the WhatsApp contents that let
members tap their answers, so that a Monday morning's check-ins do not create them all at once."""

from __future__ import annotations

import click

from bot.channels.whatsapp_content import ContentCreator
from bot.cli.app import App
from bot.pipeline.interactive import InteractiveContents, shipped_questions
from bot.runtime import build_channels
from bot.turns.service import utc_now
from storage.database import Database

KINDS = {"twilio/quick-reply": "buttons", "twilio/list-picker": "list"}


@click.group()
def whatsapp() -> None:
    """WhatsApp's tap-to-answer questions (quick replies and list pickers)."""


@whatsapp.command("sync-content")
@click.pass_obj
def sync_content(app: App) -> None:
    """Create at Twilio every content the check-ins need, in every shipped language, and print
    what was created. Contents already created are kept; running it again creates nothing."""
    if not app.settings.twilio_whatsapp_from or not app.settings.twilio_enabled:
        raise click.ClickException(
            "WhatsApp is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
            "TWILIO_WHATSAPP_FROM"
        )
    checkins = app.checkins()

    async def work(database: Database) -> tuple[int, int, int, int]:
        channel = build_channels(app.settings)["whatsapp"]
        assert isinstance(channel, ContentCreator)
        contents = InteractiveContents(database, channel, checkins.catalogs, utc_now)
        created = kept = numbered = failed = 0
        seen: set[str] = set()
        try:
            for checkin_id, step_id, choices, language in shipped_questions(
                checkins.library, checkins.catalogs
            ):
                where = f"{checkin_id}/{step_id} ({language})"
                content = contents.content_for(step_id, choices, language)
                if content is None:
                    numbered += 1
                    click.echo(f"numbered list  {where}: the choices do not fit WhatsApp's")
                    continue
                if content.key in seen:  # the same question in two check-ins: one content
                    continue
                seen.add(content.key)
                async with database.transaction() as uow:
                    known = await uow.whatsapp_contents.sid(content.key)
                if known is not None:
                    kept += 1
                    continue
                sid = await contents.sid(content)
                if sid is None:
                    failed += 1
                    click.echo(f"failed         {where}: see the log", err=True)
                    continue
                created += 1
                click.echo(f"created {sid}  {where}: {KINDS.get(content.kind, content.kind)}")
        finally:
            await channel.close()
        return created, kept, numbered, failed

    created, kept, numbered, failed = app.run(work)
    click.echo(
        f"{created} created, {kept} already there, {numbered} kept as numbered lists, "
        f"{failed} failed"
    )
    if failed:
        raise SystemExit(1)
