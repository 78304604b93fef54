"""`/console/stories`: the stories of the viewer's groups, the moderation queue first, each
shown as its group's highlight will quote it, in the group's language.

Coordinators and admins approve, edit and reject, as `mutuality stories` does (the same
repository moves, so the same states and rules); anyone who sees the page may write a story for
one of their groups, which a coordinator or an admin's is approved at once and a `staff` user's
waits for one of them. Every action writes a line to the audit log.
"""

from __future__ import annotations

from typing import Any, Final, cast

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.highlights.weekly import story_as_quoted
from bot.web.console.access import Endpoint, Permission, Viewer
from bot.web.console.context import ConsoleContext
from bot.web.console.flash import flash, take_flash
from conversations.i18n import N_
from storage.errors import NotFound
from storage.records import StoryRecord, can_moderate
from storage.repositories.highlights import FeaturedStory
from storage.repositories.stories import (
    EDITABLE,
    MAX_STORY_LENGTH,
    TRANSITIONS,
    InvalidStory,
    InvalidTransition,
)
from storage.unit_of_work import UnitOfWork
from storage.vocabulary import STORY_STATUSES, StoryStatus

PAGE_SIZE: Final = 50
DEFAULT_LANGUAGE: Final = "en"
NO_SUCH_STORY = N_("No such story.")
APPROVED = N_("Story #%(id)s approved: it goes out in its group's next highlight.")
REJECTED = N_("Story #%(id)s rejected.")
EDITED = N_("Story #%(id)s edited; the original text is kept.")
UNCHANGED = N_("Story #%(id)s already has this text; nothing changed.")
ADDED_APPROVED = N_("Story #%(id)s added and approved.")
ADDED_PROPOSED = N_("Story #%(id)s added: it waits for a coordinator or an admin to approve it.")
CHOOSE_GROUP = N_("Choose one of your groups.")
MODERATION_ERRORS: Final = (InvalidTransition, InvalidStory)


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value else None
    except ValueError:
        return None


def _back(value: object) -> str:
    """Where to go after an action: a stories page of this console, never anywhere else."""
    text = str(value or "")
    return text if text.startswith("/console/stories") and "\\" not in text else "/console/stories"


async def _story_in_scope(uow: UnitOfWork, viewer: Viewer, story_id: int) -> StoryRecord:
    """The story, or 404 when it does not exist or belongs to a group outside the viewer's
    (the same answer either way)."""
    story = await uow.stories.get(story_id)
    if story is None or not viewer.sees_group(story.group_id):
        raise HTTPException(404, NO_SUCH_STORY)
    return story


def routes(console: ConsoleContext) -> list[Route]:
    gate = console.gate
    catalogs = console.pages.catalogs

    async def _shown(
        uow: UnitOfWork, found: list[tuple[StoryRecord, str | None]]
    ) -> list[dict[str, Any]]:
        groups = {group.id: group for group in await uow.groups.list()}
        staff = {person.id: person.name for person in await uow.staff.list()}
        shown = []
        for story, member_name in found:
            group = groups.get(story.group_id) if story.group_id is not None else None
            language = group.language if group else DEFAULT_LANGUAGE
            quoted = FeaturedStory(story.id, story.text, story.member_id, member_name)
            shown.append(
                {
                    "story": story,
                    "group": group,
                    "language": language,
                    "quoted": story_as_quoted(catalogs, language, quoted),
                    "author": member_name
                    if story.member_id is not None
                    else staff.get(story.author_staff_id or 0),
                    "by_staff": story.member_id is None,
                    "too_long": len(story.text.strip()) > MAX_STORY_LENGTH,
                    "may": TRANSITIONS[story.status],
                    "editable": story.status in EDITABLE,
                }
            )
        return shown

    @gate.guard(Permission.STORIES)
    async def stories(request: Request, viewer: Viewer) -> Response:
        params = request.query_params
        status_text = params.get("status", "proposed")
        status = cast(StoryStatus, status_text) if status_text in STORY_STATUSES else None
        group_id = _int(params.get("group"))
        page = max(1, _int(params.get("page")) or 1)
        scope = viewer.groups
        if group_id is not None:
            scope = frozenset({group_id}) if viewer.sees_group(group_id) else frozenset()
        async with console.database.read() as uow:
            found = await uow.stories.page(
                status, scope, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1
            )
            shown = await _shown(uow, found[:PAGE_SIZE])
            groups = [g for g in await uow.groups.list() if viewer.sees_group(g.id)]
        query = {k: v for k, v in params.items() if k != "page" and v}
        return await console.page(
            request,
            viewer,
            "stories.html",
            {
                "stories": shown,
                "groups": groups,
                "statuses": STORY_STATUSES,
                "status": status_text if status else "",
                "group_id": group_id,
                "page": page,
                "has_next": len(found) > PAGE_SIZE,
                "query": query,
                "here": str(request.url.path)
                + (f"?{request.url.query}" if request.url.query else ""),
                "moderator": viewer.may(Permission.MODERATE),
                "max_length": MAX_STORY_LENGTH,
                "flash": take_flash(request),
            },
        )

    @gate.guard(Permission.STORIES)
    async def story(request: Request, viewer: Viewer) -> Response:
        story_id = int(request.path_params["story_id"])
        async with console.database.read() as uow:
            found = await _story_in_scope(uow, viewer, story_id)
            member = await uow.members.get(found.member_id) if found.member_id else None
            shown = (await _shown(uow, [(found, member.name if member else None)]))[0]
        return await console.page(
            request,
            viewer,
            "story.html",
            {
                "shown": shown,
                "moderator": viewer.may(Permission.MODERATE),
                "max_length": MAX_STORY_LENGTH,
                "flash": take_flash(request),
            },
        )

    def _moderation(action: str) -> Endpoint:
        @gate.guard(Permission.MODERATE)
        async def endpoint(request: Request, viewer: Viewer) -> Response:
            story_id = int(request.path_params["story_id"])
            form = await request.form()
            back = _back(form.get("next")) if action != "edit" else f"/console/stories/{story_id}"
            now = console.clock()
            try:
                async with console.database.transaction() as uow:
                    before = await _story_in_scope(uow, viewer, story_id)
                    if action == "approve":
                        await uow.stories.approve(story_id, viewer.staff.id, now)
                        done = APPROVED
                    elif action == "reject":
                        await uow.stories.reject(story_id, viewer.staff.id, now)
                        done = REJECTED
                    else:
                        text = str(form.get("text", ""))
                        after = await uow.stories.edit(story_id, viewer.staff.id, text, now)
                        if after == before:
                            flash(request, UNCHANGED, story_id)
                            return RedirectResponse(back, status_code=303)
                        done = EDITED
                    await uow.audit.record(
                        viewer.staff.id, f"story_{action}", at=now, detail=f"story #{story_id}"
                    )
            except MODERATION_ERRORS as error:
                flash(request, str(error), story_id, error=True)
                return RedirectResponse(back, status_code=303)
            except NotFound as error:
                raise HTTPException(404, NO_SUCH_STORY) from error
            flash(request, done, story_id)
            return RedirectResponse(back, status_code=303)

        return endpoint

    @gate.guard(Permission.STORIES)
    async def add(request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        group_id = _int(form.get("group"))
        back = _back(form.get("next"))
        now = console.clock()
        if group_id is None or not viewer.sees_group(group_id):
            flash(request, CHOOSE_GROUP, None, error=True)
            return RedirectResponse(back, status_code=303)
        approved = can_moderate(viewer.staff.role)
        try:
            async with console.database.transaction() as uow:
                if await uow.groups.get(group_id) is None:
                    raise HTTPException(404, CHOOSE_GROUP)
                added = await uow.stories.add_by_staff(
                    viewer.staff.id, group_id, str(form.get("text", "")), now, approved=approved
                )
                await uow.audit.record(
                    viewer.staff.id, "story_add", at=now, detail=f"story #{added.id}"
                )
        except InvalidStory as error:
            flash(request, str(error), None, error=True)
            return RedirectResponse(back, status_code=303)
        flash(request, ADDED_APPROVED if approved else ADDED_PROPOSED, added.id)
        return RedirectResponse(back, status_code=303)

    return [
        Route("/stories", stories, methods=["GET"]),
        Route("/stories", add, methods=["POST"]),
        Route("/stories/{story_id:int}", story, methods=["GET"]),
        Route("/stories/{story_id:int}/approve", _moderation("approve"), methods=["POST"]),
        Route("/stories/{story_id:int}/reject", _moderation("reject"), methods=["POST"]),
        Route("/stories/{story_id:int}/edit", _moderation("edit"), methods=["POST"]),
    ]
