"""The console as a Starlette application, mounted by the web process at `/console`."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from bot.runtime import Runtime
from bot.web.console import (
    accounts,
    audit,
    broadcasts,
    exports,
    groups,
    highlights,
    imports,
    inbox,
    member,
    member_rights,
    reports,
    signin,
    stories,
)
from bot.web.console.access import Gate
from bot.web.console.context import ConsoleContext
from bot.web.console.headers import SecurityHeaders
from bot.web.console.sharing import JoinLinks
from bot.web.console.template_offers import TemplateOffers
from bot.web.console.templating import Pages

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "mutuality_console"


def console_app(runtime: Runtime) -> Starlette:
    settings = runtime.settings
    secret = settings.console_secret
    if secret is None:
        log.warning(
            "CONSOLE_SECRET is not set: console sessions end when this process restarts and "
            "are not shared with other web processes"
        )
        secret = secrets.token_urlsafe(32)

    async def wake_sender() -> None:
        await runtime.coordination.outbox_wakeup.push("1")

    console = ConsoleContext(
        database=runtime.database,
        clock=runtime.clock,
        gate=Gate(runtime.database, runtime.clock, settings.console_idle_minutes),
        pages=Pages(runtime.checkins.catalogs),
        wake_sender=wake_sender,
        template_offers=TemplateOffers(
            runtime.sender.templates,
            getattr(runtime.channels.get("whatsapp"), "content_body", None),
        ),
    )

    async def error_page(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        viewer = await console.gate.viewer(request)
        return await console.page(
            request, viewer, "error.html", {"error": error}, status_code=error.status_code
        )

    return Starlette(
        routes=[
            *signin.routes(console),
            *inbox.routes(console),
            *member.routes(console),
            *audit.routes(console),
            *accounts.routes(console),
            *exports.routes(console),
            *member_rights.routes(console),
            *reports.routes(console, runtime.checkins.library, settings.research_export_key),
            *stories.routes(console),
            *broadcasts.routes(console, settings),
            *groups.routes(console, join_links(runtime)),
            *imports.routes(console, runtime.settings.default_country),
            *highlights.routes(console),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie=COOKIE,
                max_age=settings.console_idle_minutes * 60,
                path="/console",
                same_site="lax",
                https_only=settings.console_cookie_secure,
            ),
        ],
        exception_handlers={HTTPException: error_page},
    )


def join_links(runtime: Runtime) -> JoinLinks:
    """Join links on the channels configured here: the bot's Telegram username (getMe) and
    the WhatsApp sender number."""
    settings, telegram = runtime.settings, runtime.telegram
    return JoinLinks(
        telegram.bot_username if telegram is not None else None,
        settings.twilio_whatsapp_from if settings.twilio_enabled else None,
    )
