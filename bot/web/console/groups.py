"""`/console/groups`: the peer groups a staff user works with (admins: every group), and a
group's page: its members, schedules, quiet hours, time zone, bound Telegram chat, and its join
code as links and QR codes to share.

Admins change a group's schedule here with the same rules and words as `mutuality groups
schedule` (`bot.calendar.schedules.changed_schedule`); each change is audited.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, Final
from zoneinfo import available_timezones

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.calendar.cron import ScheduleError, next_fire
from bot.calendar.schedules import (
    GroupSchedule,
    ScheduleField,
    ScheduleProblem,
    changed_schedule,
)
from bot.web.console.access import Permission, Viewer
from bot.web.console.context import ConsoleContext
from bot.web.console.sharing import JoinLinks
from storage.records import GroupRecord

GROUPS_PAGE: Final = 50
MEMBERS_PAGE: Final = 100
MAX_FIELD: Final = 100
"""A schedule field longer than this is no cron expression, time or zone name."""
FIELDS: Final[dict[str, ScheduleField]] = {
    "timezone": "timezone",
    "checkin": "checkin",
    "highlights": "highlights",
    "quiet_start": "quiet",
    "quiet_end": "quiet",
}
"""The schedule form's fields, and the part of the schedule each is about."""


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    return max(1, min(int(text), 100_000)) if text.isdigit() else 1


def routes(console: ConsoleContext, links: JoinLinks) -> list[Route]:
    @console.gate.guard(Permission.SIGNED_IN)
    async def group_list(request: Request, viewer: Viewer) -> Response:
        page = _page_number(request)
        async with console.database.read() as uow:
            groups = await uow.groups.page((page - 1) * GROUPS_PAGE, GROUPS_PAGE + 1, viewer.groups)
        return await console.page(
            request,
            viewer,
            "groups.html",
            {"groups": groups[:GROUPS_PAGE], "page": page, "has_next": len(groups) > GROUPS_PAGE},
        )

    async def group_page(
        request: Request,
        viewer: Viewer,
        group: GroupRecord,
        *,
        form: dict[str, str] | None = None,
        problem: ScheduleProblem | None = None,
        status_code: int = 200,
    ) -> Response:
        page = _page_number(request)
        async with console.database.read() as uow:
            members = await uow.groups.members(
                group.id, offset=(page - 1) * MEMBERS_PAGE, limit=MEMBERS_PAGE + 1
            )
            chats = await uow.group_chats.for_group(group.id)
        schedule = GroupSchedule.of(group)
        return await console.page(
            request,
            viewer,
            "group.html",
            {
                "group": group,
                "members": members[:MEMBERS_PAGE],
                "page": page,
                "has_next": len(members) > MEMBERS_PAGE,
                "reads_conversations": viewer.may(Permission.READ_CONVERSATIONS),
                "edits": viewer.may(Permission.MANAGE_GROUPS),
                "chats": chats,
                "links": await links.of(group.join_code),
                "next": _next_firings(schedule, console.clock()),
                "form": form or _form_of(schedule),
                "timezones": _timezones() if viewer.may(Permission.MANAGE_GROUPS) else (),
                "problem": problem,
                "saved": request.query_params.get("saved") == "1",
            },
            status_code=status_code,
        )

    @console.gate.guard(Permission.SIGNED_IN)
    async def group_view(request: Request, viewer: Viewer) -> Response:
        async with console.database.read() as uow:
            group = await console.gate.group_in_scope(
                uow, viewer, int(request.path_params["group_id"])
            )
        return await group_page(request, viewer, group)

    @console.gate.guard(Permission.MANAGE_GROUPS)
    async def set_schedule(request: Request, viewer: Viewer) -> Response:
        group_id = int(request.path_params["group_id"])
        form = _fields(await request.form())
        problem: ScheduleProblem | None = None
        async with console.database.transaction() as uow:
            group = await console.gate.group_in_scope(uow, viewer, group_id)
            try:
                wanted = _wanted(group, form, console.clock())
            except ScheduleProblem as refused:
                problem = refused
            else:
                await uow.groups.set_schedule(
                    group.id,
                    timezone=wanted.timezone,
                    checkin_schedule=wanted.checkin,
                    highlight_schedule=wanted.highlights,
                    quiet_start=wanted.quiet_start,
                    quiet_end=wanted.quiet_end,
                )
                await uow.audit.record(
                    viewer.staff.id,
                    "group_schedule",
                    at=console.clock(),
                    detail=(
                        f"group {group.id}: {wanted.timezone}, check-in {wanted.checkin}, "
                        f"highlights {wanted.highlights}, "
                        f"quiet {wanted.quiet_start}-{wanted.quiet_end}"
                    ),
                )
        if problem is not None:
            return await group_page(
                request, viewer, group, form=form, problem=problem, status_code=400
            )
        return RedirectResponse(f"/console/groups/{group_id}?saved=1", status_code=303)

    return [
        Route("/groups", group_list, methods=["GET"]),
        Route("/groups/{group_id:int}", group_view, methods=["GET"]),
        Route("/groups/{group_id:int}/schedule", set_schedule, methods=["POST"]),
    ]


def _fields(form: FormData) -> dict[str, str]:
    """The schedule form's fields as text, each at most `MAX_FIELD` characters long (longer
    is refused by the schedule's own checks, after being cut)."""
    fields = {}
    for name in FIELDS:
        value = form.get(name)
        fields[name] = value[: MAX_FIELD + 1] if isinstance(value, str) else ""
    return fields


def _wanted(group: GroupRecord, form: dict[str, str], now: datetime) -> GroupSchedule:
    for name, value in form.items():
        if len(value) > MAX_FIELD:
            raise ScheduleProblem(FIELDS[name], f"'{value[:20]}...' is too long")
    return changed_schedule(GroupSchedule.of(group), now=now, **form)


@lru_cache(maxsize=1)
def _timezones() -> tuple[str, ...]:
    """The zone names the time zone field suggests as one types."""
    return tuple(sorted(available_timezones()))


def _form_of(schedule: GroupSchedule) -> dict[str, str]:
    return {
        "timezone": schedule.timezone,
        "checkin": schedule.checkin,
        "highlights": schedule.highlights,
        "quiet_start": schedule.quiet_start,
        "quiet_end": schedule.quiet_end,
    }


def _next_firings(schedule: GroupSchedule, now: datetime) -> dict[str, Any]:
    """When the check-in invitation and the highlight next go out (None if a stored schedule
    cannot fire: the page says so rather than failing)."""
    found: dict[str, Any] = {}
    for name, expression in (("checkin", schedule.checkin), ("highlights", schedule.highlights)):
        try:
            found[name] = next_fire(expression, schedule.timezone, now)
        except ScheduleError:
            found[name] = None
    return found
