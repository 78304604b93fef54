"""`mutuality broadcast`: staff messages to a group, a language and/or a segment.

    mutuality broadcast --group "Kibera Market Peers" --segment "business_type=food" \\
        --text-file news.txt [--language sw] [--at "2026-12-01 09:00"] [--dry-run] [--by 1]
    mutuality broadcast status 12
    mutuality broadcast list

Sending now plans and queues the broadcast here (with a progress bar); the sender of a `run` or
`worker` process sends it within the channels' limits, which `--wait` watches. A broadcast for
later is sent by the clock when its time comes. Nothing here imports a channel library until a
broadcast is queued, so the command starts quickly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from bot.broadcasts import composing, segments
from bot.cli.app import App, find_group
from bot.cli.progress import Progress
from bot.cli.staff import find_staff
from bot.i18n.catalogs import load_catalogs
from bot.settings import Settings
from bot.turns.service import utc_now
from storage.database import Database
from storage.errors import NotFound
from storage.records import GroupRecord
from storage.repositories.broadcasts import (
    Audience,
    AudienceCounts,
    BroadcastProgress,
    BroadcastRecord,
    CancelledBroadcast,
    InvalidBroadcast,
)
from storage.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from bot.broadcasts.running import Wake

UNTIL_SENT: Final = 0
"""`--wait` without seconds: watch until no message is left to send."""
MESSAGE_STATUSES = ("queued", "sent", "delivered", "read", "failed", "undelivered")
STATUS_NOTES = {
    "scheduled": " (waiting for its time)",
    "planning": " (finding its audience)",
    "sending": " (queuing)",
    "done": " (every recipient queued or skipped; the sender delivers)",
    "cancelled": "",
}
REASONS = {
    "opted_out": "opted out",
    "no_consent": "without recorded consent",
    "unreachable": "with no reachable address",
}


@click.group(invoke_without_command=True)
@click.option("--group", "group_ref", help="Only this group (its name or join code).")
@click.option(
    "--segment",
    default="",
    help="Conditions that must all hold, comma-separated: member fields (business_type=food, "
    "language=sw) and the latest weekly check-in answers (sales>=1000, saved>0, "
    "gave_help=yes). Operators: = != > >= < <=.",
)
@click.option(
    "--text-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The text: blocks that start with a line [en], [sw], ... one per language (members "
    "get theirs, or the first); without such lines, one text for everyone. At most 1,600 "
    "characters each.",
)
@click.option("--language", help="Only members whose language is this code (like sw).")
@click.option(
    "--at",
    "at_text",
    metavar="'YYYY-MM-DD HH:MM'",
    help="When to send it: in the group's time zone with --group, else in UTC. Default: now. "
    "The clock process sends broadcasts for later.",
)
@click.option("--dry-run", is_flag=True, help="Only say who would get it; write nothing.")
@click.option(
    "--by", "sender", help="Who sends it: a staff id, phone, Telegram id or name (unique)."
)
@click.option(
    "--wait",
    type=click.IntRange(min=0),
    is_flag=False,
    flag_value=UNTIL_SENT,
    default=None,
    metavar="[SECONDS]",
    help="Watch it go out with a progress bar (sent, failed, left, ETA) until every message "
    "is sent or failed (or for at most SECONDS). Ctrl-C stops watching, not the broadcast.",
)
@click.option("--batch", type=click.IntRange(min=1), default=1000, hidden=True)
@click.pass_context
def broadcast(
    ctx: click.Context,
    group_ref: str | None,
    segment: str,
    text_file: Path | None,
    language: str | None,
    at_text: str | None,
    dry_run: bool,
    sender: str | None,
    wait: int | None,
    batch: int,
) -> None:
    """Send a message to a group, a language and/or a segment, now or later.

    Subcommands: `status ID` and `list`."""
    given = group_ref or segment or text_file or language or at_text or dry_run or sender
    if ctx.invoked_subcommand is not None:
        if given or wait is not None:
            raise click.UsageError(
                f"the options go with a new broadcast, not with {ctx.invoked_subcommand}"
            )
        return
    if text_file is None:
        raise click.UsageError("give the text with --text-file FILE (or see: broadcast --help)")
    app: App = ctx.obj
    codes = tuple(load_catalogs(app.settings.locales_path).codes)
    if language is not None:
        language = language.strip()
        if language not in codes:
            raise click.BadParameter(
                f"'{language}' is not a shipped language ({', '.join(codes)})",
                param_hint="--language",
            )
    schema = segments.load_schema(app.settings.checkins_path, codes)
    try:
        parsed = segments.parse(segment, schema)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--segment") from error
    try:
        source = text_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise click.BadParameter(
            f"cannot read {text_file}: {error}", param_hint="--text-file"
        ) from error

    async def work(database: Database) -> None:
        now = utc_now()
        async with database.transaction() as uow:
            group = await _group(uow, group_ref)
            staff_id = (await find_staff(uow, sender)).id if sender is not None else None
            texts = _texts(source, language or (group.language if group else "en"), codes)
            zone = group.timezone if group else "UTC"
            scheduled_at = _when(at_text, zone, now)
            if at_text is not None and group is not None:
                _outside_quiet_hours(scheduled_at, group)
            if dry_run:
                audience = Audience(group.id if group else None, language, parsed.conditions)
                counts = await uow.broadcasts.audience_counts(audience)
                _report_dry_run(counts, texts, scheduled_at, zone, now)
                return
            try:
                record = await uow.broadcasts.create(
                    created_by_id=staff_id,
                    group_id=group.id if group else None,
                    language=language,
                    segment=parsed.text,
                    texts=texts,
                    scheduled_at=scheduled_at,
                    at=now,
                )
            except InvalidBroadcast as error:
                raise click.ClickException(str(error)) from error
        if scheduled_at > now:
            click.echo(
                f"Scheduled broadcast #{record.id} for "
                f"{composing.local_time(scheduled_at, zone)}; the clock process sends it then."
            )
            click.echo(f"Check it with: mutuality broadcast status {record.id}")
            return
        async with app.sender_wake() as wake:
            await _send_now(database, record, batch, wait, schema, zone, wake, app.settings)

    app.run(work)


@broadcast.command("status")
@click.argument("broadcast_id", type=int)
@click.pass_obj
def status(app: App, broadcast_id: int) -> None:
    """Where a broadcast is: its recipients and their messages' delivery."""

    async def work(database: Database) -> tuple[BroadcastProgress, GroupRecord | None]:
        async with database.transaction() as uow:
            if await uow.broadcasts.get(broadcast_id) is None:
                raise click.ClickException(f"no broadcast #{broadcast_id}")
            progress = await uow.broadcasts.progress(broadcast_id, utc_now())
            group_id = progress.broadcast.group_id
            group = await uow.groups.get(group_id) if group_id is not None else None
            return progress, group

    progress, group = app.run(work)
    record = progress.broadcast
    zone = group.timezone if group else "UTC"
    by = f" by staff #{record.created_by_id}" if record.created_by_id else ""
    queued = progress.messages.get("queued", 0)
    if record.status == "done" and queued:
        # every recipient is queued, but the sender is still at work: say so, and when it ends
        eta = _eta(progress, app.settings)
        click.echo(f"Broadcast #{record.id}: sending{by} ({queued} messages to go, {eta})")
    else:
        click.echo(f"Broadcast #{record.id}: {record.status}{by}{STATUS_NOTES[record.status]}")
    click.echo(f"  to:        {_audience_text(record, group)}")
    click.echo(f"  scheduled: {composing.local_time(record.scheduled_at, zone)}")
    if record.finished_at is not None:
        click.echo(f"  finished:  {composing.local_time(record.finished_at, zone)}")
    click.echo(f"  texts:     {', '.join(record.texts)}")
    if record.planned_at is None:
        click.echo("  not planned yet")
        return
    click.echo(f"  {_recipients_line(progress)}")
    click.echo(f"  {_messages_line(progress)}")
    deferred = _deferred_line(progress, zone)
    if deferred:
        click.echo(f"  {deferred}")


@broadcast.command("cancel")
@click.argument("broadcast_id", type=int)
@click.pass_obj
def cancel(app: App, broadcast_id: int) -> None:
    """Stop a broadcast: nobody more is queued and its queued messages are not sent. Messages a
    sender has already taken are on their way and cannot be called back."""

    async def work(database: Database) -> CancelledBroadcast:
        async with database.transaction() as uow:
            try:
                return await uow.broadcasts.cancel(broadcast_id, utc_now())
            except NotFound as error:
                raise click.ClickException(str(error)) from error
            except InvalidBroadcast as error:
                raise click.ClickException(str(error)) from error

    done = app.run(work)
    click.echo(
        f"Broadcast #{broadcast_id} cancelled: {done.lines} queued messages will not be sent, "
        f"{done.recipients} members not yet queued are left out."
    )


@broadcast.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.pass_obj
def list_broadcasts(app: App, limit: int) -> None:
    """The latest broadcasts, newest first."""

    async def work(database: Database) -> list[tuple[BroadcastRecord, GroupRecord | None]]:
        async with database.transaction() as uow:
            rows = []
            for record in await uow.broadcasts.list(limit):
                group = await uow.groups.get(record.group_id) if record.group_id else None
                rows.append((record, group))
            return rows

    rows = app.run(work)
    if not rows:
        click.echo("No broadcasts yet. Send one with:")
        click.echo('  mutuality broadcast --group "Name" --text-file news.txt --dry-run')
        return
    click.echo(f"{'id':>5}  {'status':<10} {'scheduled (UTC)':<17} to")
    for record, group in rows:
        when = record.scheduled_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        click.echo(
            f"{record.id:>5}  {record.status:<10} {when:<17} {_audience_text(record, group)}"
        )


# --- sending ------------------------------------------------------------------------------------


async def _send_now(
    database: Database,
    record: BroadcastRecord,
    batch: int,
    wait: int | None,
    schema: segments.SegmentSchema,
    zone: str,
    wake: Wake | None,
    settings: Settings,
) -> None:
    from bot.broadcasts.running import run_broadcast  # imports the channels' splitting rules

    bar: Progress | None = None

    def advance(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = Progress(total, f"Queuing broadcast #{record.id}").__enter__()
        bar.update(done)

    try:
        totals = await run_broadcast(
            database, record.id, utc_now, batch=batch, progress=advance, schema=schema, wake=wake
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    skipped = sum(totals.skipped.values())
    click.echo(
        f"Broadcast #{record.id}: {totals.queued} messages queued, {skipped} members skipped"
        f"{_reasons(totals.skipped)}."
    )
    if totals.recipients == 0:
        click.echo("Nobody matched: nothing to send.")
        return
    async with database.transaction() as uow:
        progress = await uow.broadcasts.progress(record.id, utc_now())
    deferred = _deferred_line(progress, zone)
    if deferred:
        click.echo(deferred)
    if wait is not None:
        await _watch(database, record.id, wait, settings)
        return
    click.echo(
        f"The sender of a running `mutuality run` or `mutuality worker` sends them. Check later "
        f"with: mutuality broadcast status {record.id}"
    )


async def _watch(database: Database, broadcast_id: int, seconds: int, settings: Settings) -> None:
    """Show the broadcast going out, checking every second, until no message is left to send
    or `seconds` (unless UNTIL_SENT) have passed; then a summary. Ctrl-C stops the watching
    only: the broadcast's messages stay queued for the sender, and `broadcast status` shows
    them again."""
    deadline = None if seconds == UNTIL_SENT else time.monotonic() + seconds
    async with database.transaction() as uow:
        progress = await uow.broadcasts.progress(broadcast_id)
    try:
        with Progress(sum(progress.messages.values()), f"Broadcast #{broadcast_id}") as bar:
            while True:
                async with database.transaction() as uow:
                    progress = await uow.broadcasts.progress(broadcast_id, utc_now())
                tally = Tally.of(progress)
                bar.total = tally.total
                bar.update(tally.settled, tally.detail(), _eta_seconds(progress, settings))
                if tally.left == 0 or (deadline is not None and time.monotonic() >= deadline):
                    break
                await asyncio.sleep(1.0)
    except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels the command's task
        click.echo(
            f"\nStopped watching; broadcast #{broadcast_id} goes on. Watch it again with: "
            f"mutuality broadcast status {broadcast_id}"
        )
        return
    if tally.left:
        click.echo(f"Stopped watching after {seconds} s: {tally.summary()}.")
        click.echo(f"The sender goes on; check with: mutuality broadcast status {broadcast_id}")
        return
    click.echo(f"Broadcast #{broadcast_id} sent: {tally.summary()}.")
    click.echo(f"  {_messages_line(progress)}")


@dataclass(frozen=True, slots=True)
class Tally:
    """A broadcast's messages as the progress bar counts them: sent (delivered and read
    included), failed (undelivered and cancelled included) and left to send."""

    sent: int
    failed: int
    left: int

    @classmethod
    def of(cls, progress: BroadcastProgress) -> Tally:
        counts = progress.messages
        return cls(
            sent=sum(counts.get(status, 0) for status in ("sent", "delivered", "read")),
            failed=sum(counts.get(status, 0) for status in ("failed", "undelivered")),
            left=counts.get("queued", 0),
        )

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.left

    @property
    def settled(self) -> int:
        return self.sent + self.failed

    def detail(self) -> str:
        return f"sent {self.sent} · failed {self.failed} · left {self.left}"

    def summary(self) -> str:
        return f"{self.sent} sent, {self.failed} failed, {self.left} left"


# --- parsing and printing -----------------------------------------------------------------------


async def _group(uow: UnitOfWork, reference: str | None) -> GroupRecord | None:
    if reference is None:
        return None
    return await find_group(uow, reference)


def _texts(source: str, default_language: str, codes: tuple[str, ...]) -> dict[str, str]:
    from bot.broadcasts.running import parse_texts

    try:
        texts = parse_texts(source, default_language)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--text-file") from error
    try:
        return composing.check_texts(texts, codes)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--text-file") from error


def _when(text: str | None, zone: str, now: datetime) -> datetime:
    """--at as an aware UTC moment: a wall-clock time in `zone` (unless it names an offset)."""
    try:
        return composing.send_time(text, zone, now)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--at") from error


def _outside_quiet_hours(moment: datetime, group: GroupRecord) -> None:
    """An --at inside the group's quiet hours is refused, with the first moment allowed."""
    try:
        composing.check_quiet_hours(moment, group)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--at") from error


def _report_dry_run(
    counts: AudienceCounts,
    texts: Mapping[str, str],
    scheduled_at: datetime,
    zone: str,
    now: datetime,
) -> None:
    when = "now" if scheduled_at <= now else composing.local_time(scheduled_at, zone)
    click.echo("Dry run: nothing was written.")
    click.echo(
        f"Sent {when}, it would reach {counts.receiving} of {counts.total} matching members:"
    )
    for channel, count in sorted(counts.channels.items(), key=lambda item: (-item[1], item[0])):
        click.echo(f"    {channel:<9} {count}")
    if counts.skipped.get("unreachable"):
        click.echo(f"    {'none':<9} {counts.skipped['unreachable']}  (no reachable address)")
    skipped = sum(counts.skipped.values())
    click.echo(f"  skipped: {skipped}{_reasons(counts.skipped)}")
    if counts.locales:
        by_text = composing.text_shares(texts, counts.locales)
        shares = ", ".join(f"[{code}] {count}" for code, count in by_text.items())
        click.echo(f"  texts: {shares}")


def _reasons(skipped: Mapping[str, int]) -> str:
    """The reasons in REASONS' order (then any other), whatever order the database gave."""
    order = [*REASONS, *sorted(set(skipped) - set(REASONS))]
    parts = [
        f"{skipped[reason]} {REASONS.get(reason, reason)}"
        for reason in order
        if skipped.get(reason)
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _audience_text(record: BroadcastRecord, group: GroupRecord | None) -> str:
    parts = [f'group "{group.name}"' if group else "every group"]
    if record.language:
        parts.append(f"language {record.language}")
    if record.segment:
        parts.append(f"segment {record.segment}")
    return ", ".join(parts)


def _recipients_line(progress: BroadcastProgress) -> str:
    recipients = progress.recipients
    skipped = recipients.get("skipped", 0)
    line = f"recipients: {progress.total} (queued {recipients.get('queued', 0)}"
    if progress.unqueued:
        line += f", still to queue {progress.unqueued}"
    return line + f", skipped {skipped}{_reasons(progress.skipped)})"


def _deferred_line(progress: BroadcastProgress, zone: str) -> str:
    if not progress.deferred or progress.deferred_until is None:
        return ""
    return (
        f"{progress.deferred} wait for quiet hours to end (or a retry), the last until "
        f"{composing.local_time(progress.deferred_until, zone)}."
    )


def _eta_seconds(progress: BroadcastProgress, settings: Settings) -> float:
    """How long the queued messages take at the channels' sending rates (channels send side
    by side, so the slowest decides); quiet hours and retries can make it longer."""
    rates = {
        "telegram": settings.telegram_rate_per_second,
        "whatsapp": settings.whatsapp_rate_per_second,
        "sms": settings.sms_rate_per_second,
    }
    return max(
        (
            counts.get("queued", 0) / rates[channel]
            for channel, counts in progress.messages_by_channel.items()
            if channel in rates and rates[channel] > 0
        ),
        default=0.0,
    )


def _eta(progress: BroadcastProgress, settings: Settings) -> str:
    seconds = _eta_seconds(progress, settings)
    if seconds < 60:
        return f"about {max(1, round(seconds))} s at the channels' rates"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min at the channels' rates"
    return f"about {seconds / 3600:.1f} h at the channels' rates"


def _messages_line(progress: BroadcastProgress) -> str:
    counts = ", ".join(
        f"{status} {progress.messages.get(status, 0)}" for status in MESSAGE_STATUSES
    )
    return f"messages: {counts}"
