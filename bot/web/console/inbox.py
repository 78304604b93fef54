"""`/console/`: the conversations of the viewer's groups, newest activity first, 50 a page,
filtered by group, channel, language and state; the Search field finds members by name or
phone and lines by their words."""

from __future__ import annotations

from typing import Final, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.web.console.access import Permission, Viewer
from bot.web.console.context import ConsoleContext
from bot.web.console.highlighting import highlight
from storage.repositories.conversations import (
    CONVERSATION_STATES,
    ConversationState,
    InboxFilters,
)
from storage.vocabulary import CHANNELS

PAGE_SIZE: Final = 50


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def routes(console: ConsoleContext) -> list[Route]:
    @console.gate.guard(Permission.SIGNED_IN)
    async def inbox(request: Request, viewer: Viewer) -> Response:
        if not viewer.may(Permission.READ_CONVERSATIONS):
            return await console.page(request, viewer, "no_transcripts.html", {})
        params = request.query_params
        state = params.get("state") or None
        words = params.get("q", "").strip()[:200]
        filters = InboxFilters(
            group_id=_int(params.get("group")),
            channel=params.get("channel") if params.get("channel") in CHANNELS else None,
            language=params.get("language") or None,
            state=cast(ConversationState, state) if state in CONVERSATION_STATES else None,
            words=words,
        )
        page = max(1, _int(params.get("page")) or 1)
        async with console.database.read() as uow:
            rows = await uow.conversations.inbox(
                viewer.groups, filters, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1
            )
            hits = await uow.conversations.search(viewer.groups, words) if words else []
            groups = [g for g in await uow.groups.list() if viewer.sees_group(g.id)]
        if words:
            async with console.database.transaction() as uow:
                await uow.audit.record(
                    viewer.staff.id, "search", at=console.clock(), detail=f"{len(words)} chars"
                )
        query = {k: v for k, v in params.items() if k != "page" and v}
        return await console.page(
            request,
            viewer,
            "inbox.html",
            {
                "rows": rows[:PAGE_SIZE],
                "hits": [(hit, highlight(hit.text, words)) for hit in hits],
                "filters": filters,
                "groups": groups,
                "channels": CHANNELS,
                "states": CONVERSATION_STATES,
                "page": page,
                "has_next": len(rows) > PAGE_SIZE,
                "query": query,
                "words": words,
            },
        )

    return [Route("/", inbox, methods=["GET"])]
