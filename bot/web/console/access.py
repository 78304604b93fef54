"""The one place where a console request is let in: its session, the idle timeout, the role's
permission, the CSRF token of a form, and the group scope of a member it names.

The session is a signed cookie (Starlette's `SessionMiddleware`) holding the staff id, the
account's `session_version` when it was issued (signing out anywhere raises it, which ends every
older cookie), a random session id replaced at each sign-in, the CSRF token, and when the
staff user was last seen (for `CONSOLE_IDLE_MINUTES`).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from conversations.i18n import N_
from storage.database import Database
from storage.records import GroupRecord, StaffRecord
from storage.unit_of_work import UnitOfWork

LOGIN_PATH: Final = "/console/login"
CSRF_FIELD: Final = "csrf_token"


class Permission(StrEnum):
    SIGNED_IN = "signed in"
    READ_CONVERSATIONS = "read conversations"  # read, search, reply, take over
    AUDIT = "audit"
    MANAGE_STAFF = "manage staff"
    STORIES = "stories"  # the stories of their groups: read, write (proposed unless moderator)
    MODERATE = "moderate stories"  # approve, edit, reject
    BROADCAST = "broadcast"  # compose, schedule, send, cancel broadcasts to their groups
    MANAGE_GROUPS = "manage groups"  # schedules, quiet hours, time zones
    IMPORT_MEMBERS = "import members"
    ERASE_MEMBERS = "erase members"  # a member's personal data, at their request


ROLE_PERMISSIONS: Final[dict[str, frozenset[Permission]]] = {
    "admin": frozenset(Permission),
    "coordinator": frozenset(
        {
            Permission.SIGNED_IN,
            Permission.READ_CONVERSATIONS,
            Permission.STORIES,
            Permission.MODERATE,
        }
    ),
    "staff": frozenset({Permission.SIGNED_IN, Permission.STORIES, Permission.BROADCAST}),
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in staff user and what they may see: `groups` is None for every group
    (admins), else the ids of their groups."""

    staff: StaffRecord
    groups: frozenset[int] | None
    csrf_token: str

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.staff.role, frozenset())

    def sees_group(self, group_id: int | None) -> bool:
        return self.groups is None or (group_id is not None and group_id in self.groups)


Handler = Callable[[Request, Viewer], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (the sign-in form has one too)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuse (403) a state-changing request whose form does not carry the session's token."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if not (
        isinstance(sent, str)
        and isinstance(expected, str)
        and expected
        and secrets.compare_digest(sent, expected)
    ):
        raise HTTPException(403, N_("This form has expired or did not come from this console."))


def start_session(request: Request, staff_id: int, session_version: int, now: datetime) -> None:
    """A new session: everything of the old one (its id, its CSRF token) is dropped."""
    language = request.session.get("language")
    request.session.clear()
    request.session.update(
        sid=secrets.token_urlsafe(16),
        staff=staff_id,
        v=session_version,
        seen=int(now.timestamp()),
        csrf=secrets.token_urlsafe(32),
    )
    if language:
        request.session["language"] = language


class Gate:
    """Lets a request in, or answers it: 303 to the sign-in page without a (live) session, 403
    without the permission or the CSRF token."""

    def __init__(
        self, database: Database, clock: Callable[[], datetime], idle_minutes: int
    ) -> None:
        self.database = database
        self.clock = clock
        self.idle_seconds = idle_minutes * 60

    def guard(self, permission: Permission) -> Callable[[Handler], Endpoint]:
        def wrap(handler: Handler) -> Endpoint:
            async def endpoint(request: Request) -> Response:
                viewer = await self.viewer(request)
                if viewer is None:
                    return RedirectResponse(LOGIN_PATH, status_code=303)
                if not viewer.may(permission):
                    raise HTTPException(403, N_("Your role cannot open this page."))
                if request.method not in ("GET", "HEAD"):
                    await check_csrf(request)
                return await handler(request, viewer)

            return endpoint

        return wrap

    async def viewer(self, request: Request) -> Viewer | None:
        session = request.session
        staff_id, version, seen = session.get("staff"), session.get("v"), session.get("seen")
        if not (isinstance(staff_id, int) and isinstance(version, int) and isinstance(seen, int)):
            return None
        now = int(self.clock().timestamp())
        if now - seen > self.idle_seconds:
            session.clear()
            return None
        async with self.database.read() as uow:
            credentials = await uow.sign_in.get(staff_id)
            if credentials is None or credentials.session_version != version:
                session.clear()
                return None
            staff = await uow.staff.get(staff_id)
            if staff is None:  # removed since: their session ends with their next request
                session.clear()
                return None
            groups = None if staff.role == "admin" else await uow.staff.group_ids(staff_id)
        session["seen"] = now
        return Viewer(staff, groups, csrf_token(request))

    async def member_in_scope(self, uow: UnitOfWork, viewer: Viewer, member_id: int) -> None:
        """404 for a member who does not exist or is outside the viewer's groups: the same
        answer either way, so nothing is learnt about other groups."""
        member = await uow.members.get(member_id)
        if member is None or not viewer.sees_group(await uow.conversations.group_of(member_id)):
            raise HTTPException(404, N_("No such member."))

    async def group_in_scope(self, uow: UnitOfWork, viewer: Viewer, group_id: int) -> GroupRecord:
        """404 for a group that does not exist or is not one of the viewer's, alike."""
        group = await uow.groups.get(group_id) if viewer.sees_group(group_id) else None
        if group is None:
            raise HTTPException(404, N_("No such group."))
        return group
