"""`/console/highlights`: what each of the viewer's groups receives as its weekly highlight,
in the group's language, exactly as `mutuality highlights preview GROUP [--week]` prints it:
the recorded text of a week already sent, else the text composed from the data now.

Without `?week=` each group shows its current week in its own time zone, as the clock would
send it; with one (a week picker gives `2026-W49`), every group shows that week.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.highlights.weekly import HighlightPreview, iso_week, preview
from bot.web.console.access import Permission, Viewer
from bot.web.console.context import ConsoleContext

GROUPS_PAGE: Final = 20
"""Each highlight is composed on the page: a few queries per group."""


def routes(console: ConsoleContext) -> list[Route]:
    @console.gate.guard(Permission.SIGNED_IN)
    async def highlights(request: Request, viewer: Viewer) -> Response:
        text = request.query_params.get("week", "").strip()[:20]
        problem = None
        week = None
        if text:
            try:
                week = iso_week(text)
            except ValueError as error:
                problem = str(error)
        page_text = request.query_params.get("page", "1")
        page = max(1, min(int(page_text), 100_000)) if page_text.isdigit() else 1
        previews: list[HighlightPreview] = []
        has_next = False
        if problem is None:
            async with console.database.read() as uow:
                groups = await uow.groups.page(
                    (page - 1) * GROUPS_PAGE, GROUPS_PAGE + 1, viewer.groups
                )
                has_next = len(groups) > GROUPS_PAGE
                for group in groups[:GROUPS_PAGE]:
                    previews.append(
                        await preview(uow, group, week, console.pages.catalogs, console.clock())
                    )
        return await console.page(
            request,
            viewer,
            "highlights.html",
            {
                "previews": previews,
                "week": text,
                "problem": problem,
                "page": page,
                "has_next": has_next,
            },
            status_code=400 if problem else 200,
        )

    return [Route("/highlights", highlights, methods=["GET"])]
