"""Signing in and out, and choosing the console's language."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.web.console.access import (
    LOGIN_PATH,
    Permission,
    Viewer,
    check_csrf,
    csrf_token,
    start_session,
)
from bot.web.console.context import ConsoleContext
from bot.web.console.lockout import after_failure, is_locked
from bot.web.console.passwords import verify_password
from conversations.i18n import N_

WRONG = N_("That email or phone and password do not match an account.")
LOCKED = N_(
    "This account is locked for 15 minutes after too many wrong passwords. "
    "Try again later, or ask an admin."
)


def routes(console: ConsoleContext) -> list[Route]:
    async def login_form(request: Request) -> Response:
        if await console.gate.viewer(request) is not None:
            return RedirectResponse("/console/", status_code=303)
        return await _form(request, "", None, 200)

    async def _form(request: Request, login: str, error: str | None, status: int) -> Response:
        return await console.page(
            request,
            None,
            "login.html",
            {"login": login, "error": error, "csrf": csrf_token(request)},
            status_code=status,
        )

    async def login(request: Request) -> Response:
        await check_csrf(request)
        form = await request.form()
        login_value = str(form.get("login", "")).strip()
        password = str(form.get("password", ""))
        now = console.clock()
        async with console.database.transaction() as uow:
            credentials = await uow.sign_in.for_login(login_value)
            if credentials is not None and is_locked(credentials, now):
                await uow.audit.record(credentials.staff_id, "sign_in_locked", at=now)
                return await _form(request, login_value, LOCKED, 403)
            matched = await verify_password(
                credentials.password_hash if credentials else None, password
            )
            if credentials is None or not matched:
                if credentials is not None:
                    failures = after_failure(credentials, now)
                    await uow.sign_in.record_failures(
                        credentials.staff_id,
                        failed_logins=failures.failed_logins,
                        failed_since=failures.failed_since,
                        locked_until=failures.locked_until,
                    )
                    await uow.audit.record(credentials.staff_id, "sign_in_refused", at=now)
                return await _form(request, login_value, WRONG, 401)
            await uow.sign_in.record_failures(
                credentials.staff_id, failed_logins=0, failed_since=None, locked_until=None
            )
            await uow.audit.record(credentials.staff_id, "sign_in", at=now)
        start_session(request, credentials.staff_id, credentials.session_version, now)
        return RedirectResponse("/console/", status_code=303)

    @console.gate.guard(Permission.SIGNED_IN)
    async def logout(request: Request, viewer: Viewer) -> Response:
        async with console.database.transaction() as uow:
            await uow.sign_in.end_sessions(viewer.staff.id)
            await uow.audit.record(viewer.staff.id, "sign_out", at=console.clock())
        request.session.clear()
        return RedirectResponse(LOGIN_PATH, status_code=303)

    async def language(request: Request) -> Response:
        """Anyone may choose a language (the sign-in page has the choice too); a signed-in
        staff member's choice is kept on their account."""
        await check_csrf(request)
        form = await request.form()
        chosen = str(form.get("language", ""))
        if chosen not in console.pages.catalogs.codes:
            chosen = ""
        request.session["language"] = chosen
        viewer = await console.gate.viewer(request)
        if viewer is not None:
            async with console.database.transaction() as uow:
                await uow.staff.set_language(viewer.staff.id, chosen or None)
        back = str(form.get("next", "/console/"))
        return RedirectResponse(back if back.startswith("/console") else "/console/", 303)

    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/language", language, methods=["POST"]),
    ]
