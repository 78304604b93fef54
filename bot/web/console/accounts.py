"""`/console/staff`: staff accounts for admins: who has which role, the groups each one works
with (a coordinator reads those groups' conversations only), editing and removing them. Removed
staff are listed apart, as removed. Every change is audited."""

from __future__ import annotations

from typing import TypedDict, cast

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.staff.accounts import Contacts, describe
from bot.web.console.access import Permission, Viewer
from bot.web.console.context import ConsoleContext
from conversations.i18n import N_
from storage.records import STAFF_ROLES, StaffRecord, StaffRole
from storage.repositories.staff import InvalidStaff
from storage.unit_of_work import UnitOfWork

NO_SUCH_STAFF = N_("No such staff user.")
NOT_CONFIRMED = N_("Tick the box to confirm the removal: nothing was changed.")


def routes(console: ConsoleContext) -> list[Route]:
    async def staff_page(
        request: Request, viewer: Viewer, error: str | None = None, status: int = 200
    ) -> Response:
        async with console.database.read() as uow:
            everyone = await uow.staff.list(include_removed=True)
            groups = await uow.groups.list()
            people = [person for person in everyone if not person.removed]
            memberships = {person.id: await uow.staff.group_ids(person.id) for person in people}
        return await console.page(
            request,
            viewer,
            "staff.html",
            {
                "people": people,
                "removed": [person for person in everyone if person.removed],
                "groups": groups,
                "memberships": memberships,
                "roles": STAFF_ROLES,
                "error": error,
                "done": request.query_params.get("done"),
            },
            status_code=status,
        )

    @console.gate.guard(Permission.MANAGE_STAFF)
    async def accounts(request: Request, viewer: Viewer) -> Response:
        return await staff_page(request, viewer)

    @console.gate.guard(Permission.MANAGE_STAFF)
    async def set_groups(request: Request, viewer: Viewer) -> Response:
        staff_id = int(request.path_params["staff_id"])
        form = await request.form()
        chosen = {
            int(value)
            for value in form.getlist("group")
            if isinstance(value, str) and value.isdigit()
        }
        now = console.clock()
        async with console.database.transaction() as uow:
            person = await _working(uow, staff_id)
            known = {group.id for group in await uow.groups.list()}
            await uow.staff.set_groups(person.id, sorted(chosen & known))
            names = ", ".join(await uow.staff.group_names(staff_id)) or "-"
            await uow.audit.record(
                viewer.staff.id, "staff_groups", at=now, detail=f"{person.name}: {names}"
            )
        return RedirectResponse("/console/staff", status_code=303)

    @console.gate.guard(Permission.MANAGE_STAFF)
    async def edit(request: Request, viewer: Viewer) -> Response:
        staff_id = int(request.path_params["staff_id"])
        form = await request.form()
        now = console.clock()
        try:
            async with console.database.transaction() as uow:
                person = await _working(uow, staff_id)
                edited = await uow.staff.edit(person.id, **_changes(form))
                await uow.audit.record(
                    viewer.staff.id,
                    "staff_edited",
                    at=now,
                    detail=f"{describe(person)} -> {describe(edited)}",
                )
        except (InvalidStaff, ValueError) as error:
            return await staff_page(request, viewer, str(error), 400)
        return RedirectResponse(f"/console/staff?done=edited#person-{staff_id}", status_code=303)

    @console.gate.guard(Permission.MANAGE_STAFF)
    async def remove(request: Request, viewer: Viewer) -> Response:
        staff_id = int(request.path_params["staff_id"])
        if (await request.form()).get("confirm") != "yes":
            return await staff_page(request, viewer, NOT_CONFIRMED, 400)
        now = console.clock()
        try:
            async with console.database.transaction() as uow:
                person = await _working(uow, staff_id)
                await uow.staff.remove(person.id, at=now)
                await uow.audit.record(
                    viewer.staff.id, "staff_removed", at=now, detail=describe(person)
                )
        except InvalidStaff as error:
            return await staff_page(request, viewer, str(error), 409)
        return RedirectResponse("/console/staff?done=removed", status_code=303)

    return [
        Route("/staff", accounts, methods=["GET"]),
        Route("/staff/{staff_id:int}/groups", set_groups, methods=["POST"]),
        Route("/staff/{staff_id:int}/edit", edit, methods=["POST"]),
        Route("/staff/{staff_id:int}/remove", remove, methods=["POST"]),
    ]


async def _working(uow: UnitOfWork, staff_id: int) -> StaffRecord:
    """The working staff user `staff_id`, or 404 (a removed one is changed no more)."""
    person = await uow.staff.get(staff_id)
    if person is None:
        raise HTTPException(404, NO_SUCH_STAFF)
    return person


class Changes(TypedDict):
    name: str
    role: StaffRole | None
    email: str
    phone: str | None
    telegram_id: str | None


def _changes(form: FormData) -> Changes:
    """The edit form's fields as `StaffRepository.edit` takes them: an empty phone, Telegram id
    or email clears it. Raises `ValueError` for a phone or Telegram id that cannot be one."""

    def field(name: str) -> str:
        value = form.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    contacts = Contacts(field("phone"), field("telegram")).normalized()
    role = field("role")
    return {
        "name": field("name"),
        "role": cast(StaffRole, role) if role else None,
        "email": field("email"),
        "phone": contacts.phone,
        "telegram_id": contacts.telegram_id,
    }
