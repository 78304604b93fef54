"""`/console/audit`: the audit log, newest first, for admins."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.web.console.access import Permission, Viewer
from bot.web.console.context import ConsoleContext

PAGE_SIZE: Final = 100


def routes(console: ConsoleContext) -> list[Route]:
    @console.gate.guard(Permission.AUDIT)
    async def audit(request: Request, viewer: Viewer) -> Response:
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page = 1
        async with console.database.read() as uow:
            lines = await uow.audit.page((page - 1) * PAGE_SIZE, PAGE_SIZE + 1)
        return await console.page(
            request,
            viewer,
            "audit.html",
            {"lines": lines[:PAGE_SIZE], "page": page, "has_next": len(lines) > PAGE_SIZE},
        )

    return [Route("/audit", audit, methods=["GET"])]
