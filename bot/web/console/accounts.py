"""`/console/staff`: staff accounts for admins: who has which role, and the groups each one
works with (a coordinator reads those groups' conversations only). Changes are audited."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.web.console.access import Permission, Viewer
from bot.web.console.context import ConsoleContext
from conversations.i18n import N_

NO_SUCH_STAFF = N_("No such staff user.")


def routes(console: ConsoleContext) -> list[Route]:
    @console.gate.guard(Permission.MANAGE_STAFF)
    async def accounts(request: Request, viewer: Viewer) -> Response:
        async with console.database.read() as uow:
            people = await uow.staff.list()
            groups = await uow.groups.list()
            memberships = {person.id: await uow.staff.group_ids(person.id) for person in people}
        return await console.page(
            request,
            viewer,
            "staff.html",
            {"people": people, "groups": groups, "memberships": memberships},
        )

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
            person = await uow.staff.get(staff_id)
            if person is None:
                raise HTTPException(404, NO_SUCH_STAFF)
            known = {group.id for group in await uow.groups.list()}
            await uow.staff.set_groups(staff_id, sorted(chosen & known))
            names = ", ".join(await uow.staff.group_names(staff_id)) or "-"
            await uow.audit.record(
                viewer.staff.id, "staff_groups", at=now, detail=f"{person.name}: {names}"
            )
        return RedirectResponse("/console/staff", status_code=303)

    return [
        Route("/staff", accounts, methods=["GET"]),
        Route("/staff/{staff_id:int}/groups", set_groups, methods=["POST"]),
    ]
