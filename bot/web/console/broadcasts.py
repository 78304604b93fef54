"""`/console/broadcasts`: compose a broadcast to the viewer's groups with a segment, see its
audience counted as the segment changes, preview it per language, dry-run it, send it now or
schedule it; then watch it go out, recipient by recipient, and cancel or resume it.

Everything a broadcast is checked against is what `mutuality broadcast` checks
(`bot.broadcasts.composing` and `segments`), and sending is the same resumable
`run_broadcast`: started here after the response, and resumed by the clock (or the Resume
button) if this process stops half way. Admins and the `staff` role broadcast; a `staff`
user only to their groups. Every action writes a line to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from starlette.background import BackgroundTask
from starlette.datastructures import FormData, ImmutableMultiDict
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.broadcasts import composing, segments
from bot.broadcasts.running import run_broadcast, split_for_channel
from bot.settings import Settings
from bot.web.console.access import Permission, Viewer
from bot.web.console.context import ConsoleContext
from bot.web.console.flash import flash, take_flash
from conversations.i18n import N_
from storage.errors import NotFound
from storage.records import GroupRecord
from storage.repositories.broadcasts import (
    Audience,
    AudienceCounts,
    BroadcastRecord,
    InvalidBroadcast,
)
from storage.unit_of_work import UnitOfWork

PAGE_SIZE: Final = 50
RECIPIENTS_PAGE: Final = 50
CONDITION_ROWS: Final = 3
"""Empty condition rows the builder offers beyond those filled in."""
MAX_CONDITION_ROWS: Final = 12
FINAL_STATUSES: Final = frozenset({"done", "cancelled"})
NO_SUCH_BROADCAST = N_("No such broadcast.")
CHOOSE_GROUPS = N_("Choose at least one of your groups.")
WRITE_A_TEXT = N_("Write the text in at least one language.")
CANCELLED = N_("Broadcast #%(id)s cancelled: nothing more of it is sent.")
RESUMED = N_("Broadcast #%(id)s resumed.")
SCHEDULED = N_("Broadcast #%(id)s scheduled.")
SENDING = N_("Broadcast #%(id)s is being queued; the sender delivers it.")
CREATED_SEVERAL = N_("%(id)s broadcasts created, one per group.")


@dataclass
class Draft:
    """The compose form as typed: kept whole so the page shows it back after a dry run or a
    refusal."""

    group_ids: list[int] = field(default_factory=list)
    every_group: bool = False
    language: str = ""
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    at: str = ""

    @classmethod
    def read(cls, form: ImmutableMultiDict[str, Any] | FormData, codes: Sequence[str]) -> Draft:
        def text(name: str, limit: int = 2000) -> str:
            value = form.get(name)
            return value[:limit] if isinstance(value, str) else ""

        group_ids = [int(v) for v in form.getlist("group") if isinstance(v, str) and v.isdigit()]
        fields = form.getlist("field")[:MAX_CONDITION_ROWS]
        ops = form.getlist("op")[:MAX_CONDITION_ROWS]
        values = form.getlist("value")[:MAX_CONDITION_ROWS]
        rows = [
            (str(f).strip()[:64], str(o).strip()[:2], str(v).strip()[:64])
            for f, o, v in zip(fields, ops, values, strict=False)
        ]
        return cls(
            group_ids=sorted(set(group_ids)),
            every_group=text("every_group") == "1",
            language=text("language", 35).strip(),
            rows=rows,
            texts={code: text(f"text_{code}").strip() for code in codes},
            at=text("at", 40).strip(),
        )

    @property
    def segment_text(self) -> str:
        """The builder's rows as a segment expression (rows without a field are left out)."""
        return ", ".join(f"{f}{op}{value}" for f, op, value in self.rows if f)

    @property
    def shown_rows(self) -> list[tuple[str, str, str]]:
        filled = [row for row in self.rows if row[0]]
        return (filled + [("", "=", "")] * CONDITION_ROWS)[: max(len(filled) + 1, CONDITION_ROWS)]


@dataclass
class Checked:
    """A draft checked: what is wrong with it, else the groups (None: every group), the parsed
    segment, the texts as stored and the time for each group."""

    errors: list[str] = field(default_factory=list)
    groups: list[GroupRecord] | None = None
    segment: segments.Segment = field(default_factory=lambda: segments.Segment("", ()))
    texts: dict[str, str] = field(default_factory=dict)
    times: dict[int | None, datetime] = field(default_factory=dict)


def routes(console: ConsoleContext, settings: Settings) -> list[Route]:
    gate = console.gate
    catalogs = console.pages.catalogs
    codes = tuple(catalogs.codes)

    def schema() -> segments.SegmentSchema:
        return segments.load_schema(settings.checkins_path, codes)

    async def visible_groups(uow: UnitOfWork, viewer: Viewer) -> list[GroupRecord]:
        return [group for group in await uow.groups.list() if viewer.sees_group(group.id)]

    async def check(
        uow: UnitOfWork, viewer: Viewer, draft: Draft, *, full: bool, now: datetime | None = None
    ) -> Checked:
        """The draft against the command line's rules; with `full`, the texts and time too
        (the live count needs only the audience)."""
        checked = Checked()
        mine = {group.id: group for group in await visible_groups(uow, viewer)}
        if draft.every_group and viewer.groups is None:
            checked.groups = None
        else:
            chosen = [mine[group_id] for group_id in draft.group_ids if group_id in mine]
            if not chosen:
                checked.errors.append(CHOOSE_GROUPS)
            checked.groups = chosen
        if draft.language and draft.language not in codes:
            checked.errors.append(f"'{draft.language}' is not a shipped language")
        commas = [n for n, row in enumerate(draft.rows, start=1) if row[0] and "," in row[2]]
        try:
            if commas:  # one row is one condition: a comma would smuggle in another
                raise ValueError(
                    f"condition {commas[0]}: write the value without commas, like 1000"
                )
            checked.segment = segments.parse(draft.segment_text, schema())
        except ValueError as error:
            checked.errors.append(str(error))
        if not full:
            return checked
        texts = {code: text for code, text in draft.texts.items() if text}
        if not texts:
            checked.errors.append(WRITE_A_TEXT)
        else:
            try:
                checked.texts = composing.check_texts(texts, codes)
            except ValueError as error:
                checked.errors.append(str(error))
        now = now or console.clock()
        for group in checked.groups if checked.groups is not None else [None]:
            zone = group.timezone if group else "UTC"
            try:
                moment = composing.send_time(draft.at, zone, now)
                if draft.at and group is not None:
                    composing.check_quiet_hours(moment, group)
            except ValueError as error:
                checked.errors.append(str(error))
                continue
            checked.times[group.id if group else None] = moment
        return checked

    async def count(uow: UnitOfWork, draft: Draft, checked: Checked) -> AudienceCounts:
        """The audience over the chosen groups (each its own count, added up)."""
        language = draft.language or None
        conditions = checked.segment.conditions
        if checked.groups is None:
            return await uow.broadcasts.audience_counts(Audience(None, language, conditions))
        total = AudienceCounts(0, {}, {}, {})
        for group in checked.groups:
            found = await uow.broadcasts.audience_counts(Audience(group.id, language, conditions))
            total = AudienceCounts(
                total.total + found.total,
                _add(total.channels, found.channels),
                _add(total.skipped, found.skipped),
                _add(total.locales, found.locales),
            )
        return total

    async def compose_page(
        request: Request,
        viewer: Viewer,
        draft: Draft,
        *,
        checked: Checked | None = None,
        counts: AudienceCounts | None = None,
        dry_run: bool = False,
        status_code: int = 200,
    ) -> Response:
        async with console.database.read() as uow:
            groups = await visible_groups(uow, viewer)
            audience = await check(uow, viewer, draft, full=False)
            if counts is None and not audience.errors:
                counts = await count(uow, draft, audience)
        previews = _previews(checked.texts, counts) if checked and dry_run and counts else []
        return await console.page(
            request,
            viewer,
            "broadcast_compose.html",
            {
                "draft": draft,
                "groups": groups,
                "every_allowed": viewer.groups is None,
                "schema": schema(),
                "operators": segments.OPERATORS,
                "errors": checked.errors if checked else [],
                "audience_errors": audience.errors,
                "counts": counts,
                "dry_run": dry_run,
                "previews": previews,
                "times": checked.times if checked else {},
                "zones": {g.id: g.timezone for g in groups},
                "local_time": composing.local_time,
                "at_format": composing.AT_FORMAT,
            },
            status_code=status_code,
        )

    @gate.guard(Permission.BROADCAST)
    async def new(request: Request, viewer: Viewer) -> Response:
        draft = Draft.read(request.query_params, codes)
        if not request.query_params:
            draft.group_ids = list(viewer.groups or [])[:1]
        return await compose_page(request, viewer, draft)

    @gate.guard(Permission.BROADCAST)
    async def audience(request: Request, viewer: Viewer) -> Response:
        """The live count: a fragment the compose page's script swaps in as the form changes."""
        draft = Draft.read(request.query_params, codes)
        async with console.database.read() as uow:
            checked = await check(uow, viewer, draft, full=False)
            counts = None if checked.errors else await count(uow, draft, checked)
        return console.pages.render(
            request,
            "broadcast_audience.html",
            {"counts": counts, "audience_errors": checked.errors},
            language=console.pages.language(request, viewer.staff.language),
        )

    @gate.guard(Permission.BROADCAST)
    async def submit(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        draft = Draft.read(form, codes)
        action = form.get("action")
        if action == "count":  # the live count, for a browser without the script
            return await compose_page(request, viewer, draft)
        now = console.clock()
        async with console.database.read() as uow:
            checked = await check(uow, viewer, draft, full=True, now=now)
            counts = None if checked.errors else await count(uow, draft, checked)
        if checked.errors or counts is None:
            return await compose_page(request, viewer, draft, checked=checked, status_code=422)
        if action != "send":
            async with console.database.transaction() as uow:
                await uow.audit.record(
                    viewer.staff.id,
                    "broadcast_dry_run",
                    at=now,
                    detail=f"{counts.receiving} of {counts.total}",
                )
            return await compose_page(
                request, viewer, draft, checked=checked, counts=counts, dry_run=True
            )
        created: list[BroadcastRecord] = []
        try:
            async with console.database.transaction() as uow:
                for group_id, moment in checked.times.items():
                    record = await uow.broadcasts.create(
                        created_by_id=viewer.staff.id,
                        group_id=group_id,
                        language=draft.language or None,
                        segment=checked.segment.text,
                        texts=checked.texts,
                        scheduled_at=moment,
                        at=now,
                    )
                    created.append(record)
                    await uow.audit.record(
                        viewer.staff.id,
                        "broadcast_schedule" if moment > now else "broadcast_send",
                        at=now,
                        detail=f"broadcast #{record.id}",
                    )
        except InvalidBroadcast as error:
            checked.errors.append(str(error))
            return await compose_page(request, viewer, draft, checked=checked, status_code=422)
        due = [record.id for record in created if record.scheduled_at <= now]
        if len(created) == 1:
            flash(request, SENDING if due else SCHEDULED, created[0].id)
            target = f"/console/broadcasts/{created[0].id}"
        else:
            flash(request, CREATED_SEVERAL, len(created))
            target = "/console/broadcasts"
        task = BackgroundTask(queue_now, due) if due else None
        return RedirectResponse(target, status_code=303, background=task)

    async def queue_now(broadcast_ids: list[int]) -> None:
        """Plan and queue broadcasts due now, then wake the sender. Runs after the response;
        if this process stops half way the clock resumes them (`start_due`)."""
        for broadcast_id in broadcast_ids:
            await run_broadcast(console.database, broadcast_id, console.clock, schema=schema())
        await console.wake_sender()

    async def broadcast_in_scope(
        uow: UnitOfWork, viewer: Viewer, broadcast_id: int
    ) -> BroadcastRecord:
        """The broadcast, or 404 when it does not exist or goes to a group outside the
        viewer's (every group's broadcasts are for admins): the same answer either way."""
        record = await uow.broadcasts.get(broadcast_id)
        if record is None or not viewer.sees_group(record.group_id):
            raise HTTPException(404, NO_SUCH_BROADCAST)
        return record

    async def progress_context(
        uow: UnitOfWork, viewer: Viewer, broadcast_id: int, after: int
    ) -> dict[str, Any]:
        record = await broadcast_in_scope(uow, viewer, broadcast_id)
        now = console.clock()
        progress = await uow.broadcasts.progress(broadcast_id, now)
        group = await uow.groups.get(record.group_id) if record.group_id else None
        lines = await uow.broadcasts.recipient_lines(
            broadcast_id, after_member_id=after, limit=RECIPIENTS_PAGE + 1
        )
        author = await uow.staff.get(record.created_by_id) if record.created_by_id else None
        settled = progress.total - progress.unqueued - progress.messages.get("queued", 0)
        return {
            "record": record,
            "progress": progress,
            "group": group,
            "zone": group.timezone if group else "UTC",
            "author": author,
            "lines": lines[:RECIPIENTS_PAGE],
            "after": after,
            "next_after": lines[RECIPIENTS_PAGE - 1].member_id
            if len(lines) > RECIPIENTS_PAGE
            else None,
            "handled": max(settled, 0),
            # nothing to watch: every message settled, or its time has not come (reload then)
            "finished": (record.status in FINAL_STATUSES and progress.unsettled == 0)
            or (record.status == "scheduled" and record.scheduled_at > now),
            "stalled": record.status in ("scheduled", "planning", "sending")
            and record.scheduled_at <= now,
            "local_time": composing.local_time,
        }

    def _after(request: Request) -> int:
        value = request.query_params.get("after", "")
        return int(value) if value.isdigit() else 0

    @gate.guard(Permission.BROADCAST)
    async def show(request: Request, viewer: Viewer) -> Response:
        broadcast_id = int(request.path_params["broadcast_id"])
        async with console.database.read() as uow:
            context = await progress_context(uow, viewer, broadcast_id, _after(request))
        context["flash"] = take_flash(request)
        return await console.page(request, viewer, "broadcast.html", context)

    @gate.guard(Permission.BROADCAST)
    async def progress_fragment(request: Request, viewer: Viewer) -> Response:
        broadcast_id = int(request.path_params["broadcast_id"])
        async with console.database.read() as uow:
            context = await progress_context(uow, viewer, broadcast_id, _after(request))
        return console.pages.render(
            request,
            "broadcast_progress.html",
            {"viewer": viewer, **context},
            language=console.pages.language(request, viewer.staff.language),
        )

    @gate.guard(Permission.BROADCAST)
    async def cancel(request: Request, viewer: Viewer) -> Response:
        broadcast_id = int(request.path_params["broadcast_id"])
        now = console.clock()
        try:
            async with console.database.transaction() as uow:
                await broadcast_in_scope(uow, viewer, broadcast_id)
                done = await uow.broadcasts.cancel(broadcast_id, now)
                await uow.audit.record(
                    viewer.staff.id,
                    "broadcast_cancel",
                    at=now,
                    detail=f"broadcast #{broadcast_id}: {done.lines} lines, "
                    f"{done.recipients} recipients",
                )
        except InvalidBroadcast as error:
            flash(request, str(error), broadcast_id, error=True)
        except NotFound as error:
            raise HTTPException(404, NO_SUCH_BROADCAST) from error
        else:
            flash(request, CANCELLED, broadcast_id)
        return RedirectResponse(f"/console/broadcasts/{broadcast_id}", status_code=303)

    @gate.guard(Permission.BROADCAST)
    async def resume(request: Request, viewer: Viewer) -> Response:
        """Run an unfinished broadcast whose time has come again: safe while another process
        runs it too (nothing is queued twice)."""
        broadcast_id = int(request.path_params["broadcast_id"])
        now = console.clock()
        async with console.database.transaction() as uow:
            record = await broadcast_in_scope(uow, viewer, broadcast_id)
            runnable = record.status not in FINAL_STATUSES and record.scheduled_at <= now
            if runnable:
                await uow.audit.record(
                    viewer.staff.id, "broadcast_resume", at=now, detail=f"broadcast #{broadcast_id}"
                )
        target = f"/console/broadcasts/{broadcast_id}"
        if not runnable:
            return RedirectResponse(target, status_code=303)
        flash(request, RESUMED, broadcast_id)
        return RedirectResponse(
            target, status_code=303, background=BackgroundTask(queue_now, [broadcast_id])
        )

    @gate.guard(Permission.BROADCAST)
    async def listing(request: Request, viewer: Viewer) -> Response:
        value = request.query_params.get("page", "")
        page = max(1, int(value)) if value.isdigit() else 1
        async with console.database.read() as uow:
            found = await uow.broadcasts.page(
                viewer.groups, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1
            )
            groups = {group.id: group for group in await uow.groups.list()}
        return await console.page(
            request,
            viewer,
            "broadcasts.html",
            {
                "broadcasts": found[:PAGE_SIZE],
                "groups": groups,
                "page": page,
                "has_next": len(found) > PAGE_SIZE,
                "flash": take_flash(request),
                "local_time": composing.local_time,
            },
        )

    return [
        Route("/broadcasts", listing, methods=["GET"]),
        Route("/broadcasts/new", new, methods=["GET"]),
        Route("/broadcasts/new", submit, methods=["POST"]),
        Route("/broadcasts/audience", audience, methods=["GET"]),
        Route("/broadcasts/{broadcast_id:int}", show, methods=["GET"]),
        Route("/broadcasts/{broadcast_id:int}/progress", progress_fragment, methods=["GET"]),
        Route("/broadcasts/{broadcast_id:int}/cancel", cancel, methods=["POST"]),
        Route("/broadcasts/{broadcast_id:int}/resume", resume, methods=["POST"]),
    ]


def _add(left: dict[str, int], right: dict[str, int]) -> dict[str, int]:
    added = dict(left)
    for key, value in right.items():
        added[key] = added.get(key, 0) + value
    return added


@dataclass(frozen=True, slots=True)
class Preview:
    """One text as its readers get it: how many receive it, and into how many messages each
    channel they are reached on cuts it."""

    language: str
    text: str
    readers: int
    parts: dict[str, int]


def _previews(texts: dict[str, str], counts: AudienceCounts) -> list[Preview]:
    shares = composing.text_shares(texts, counts.locales)
    return [
        Preview(
            language,
            text,
            shares.get(language, 0),
            {channel: len(split_for_channel(channel, text)) for channel in sorted(counts.channels)},
        )
        for language, text in texts.items()
    ]
