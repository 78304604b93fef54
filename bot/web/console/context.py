"""What every console page needs: storage, the clock, the gate, the page renderer, a way to
wake the sender after a coordinator's reply is queued, and the WhatsApp templates offered when
a free-form reply may not go."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.web.console.access import Gate, Viewer
from bot.web.console.template_offers import TemplateOffers
from bot.web.console.templating import Pages
from storage.database import Database


@dataclass(frozen=True)
class ConsoleContext:
    database: Database
    clock: Callable[[], datetime]
    gate: Gate
    pages: Pages
    wake_sender: Callable[[], Awaitable[None]]
    template_offers: TemplateOffers

    async def page(
        self,
        request: Request,
        viewer: Viewer | None,
        template: str,
        context: dict[str, Any],
        status_code: int = 200,
    ) -> HTMLResponse:
        """A page with the navigation: the viewer, their CSRF token and, for those who read
        conversations, how many members wait for a person."""
        waiting = None
        if viewer is not None and viewer.staff.role != "staff":
            async with self.database.read() as uow:
                waiting = await uow.conversations.waiting_count(viewer.groups)
        language = self.pages.language(request, viewer.staff.language if viewer else None)
        return self.pages.render(
            request,
            template,
            {"viewer": viewer, "waiting": waiting, **context},
            language=language,
            status_code=status_code,
        )
