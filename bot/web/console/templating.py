"""Rendering console pages: Jinja2 templates (autoescaped) in the staff member's language.

Templates mark their texts with `_("...")`; the texts are Babel message ids like the bot's, in
the same catalogs (`mutuality i18n extract` finds them here too). Times are shown in the
group's time zone, formatted for the staff member's language, and so are numbers (`number`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.web.console.language import babel_locale, choose
from conversations.i18n import Catalogs

ENVIRONMENT = Environment(
    loader=PackageLoader("bot.web.console", "templates"),
    autoescape=select_autoescape(default=True),
    enable_async=False,
)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


class Pages:
    def __init__(self, catalogs: Catalogs) -> None:
        self.catalogs = catalogs

    def language(self, request: Request, chosen: str | None = None) -> str:
        preferred = chosen or request.session.get("language")
        return choose(
            preferred if isinstance(preferred, str) else None,
            request.headers.get("accept-language", ""),
            self.catalogs.codes,
        )

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        language: str,
        status_code: int = 200,
    ) -> HTMLResponse:
        translator = self.catalogs.translator(language)
        locale = babel_locale(language)

        def when(moment: datetime, zone: str | None = None) -> str:
            return format_datetime(moment.astimezone(_zone(zone)), "short", locale=locale)

        def number(value: int) -> str:
            return format_decimal(value, locale=locale)

        html = ENVIRONMENT.get_template(template).render(
            _=translator.gettext,
            when=when,
            number=number,
            language=language,
            languages=self.catalogs.languages,
            request_path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status_code)
