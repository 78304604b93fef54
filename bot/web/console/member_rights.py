"""A member's data rights, exercised by staff for a member who asks in person: a copy of
everything kept about them (`/console/members/{id}/copy.csv`, as `mutuality members export-one`
writes it: admins, and coordinators of the member's group) and its erasure
(`/console/members/{id}/erase`, as `mutuality members erase`: admins only, confirmed by typing
the member's number). Both are audited."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.members.copies import member_copy_csv
from bot.web.console.access import Permission, Viewer
from bot.web.console.context import ConsoleContext
from bot.web.console.flash import flash
from conversations.i18n import N_

ERASED = N_("Member #%(id)s's personal data was erased.")
ALREADY_ERASED = N_("Member #%(id)s's personal data was already erased.")
NOT_CONFIRMED = N_("Nothing was erased: type the member's number to confirm.")


def routes(console: ConsoleContext) -> list[Route]:
    gate = console.gate

    @gate.guard(Permission.READ_CONVERSATIONS)
    async def copy(request: Request, viewer: Viewer) -> Response:
        member_id = int(request.path_params["member_id"])
        async with console.database.transaction() as uow:
            await gate.member_in_scope(uow, viewer, member_id)
            data = await uow.member_data.copy(member_id)
            await uow.audit.record(
                viewer.staff.id, "exported", at=console.clock(), member_id=member_id
            )
        return Response(
            member_copy_csv(data),
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="member-{member_id}.csv"',
                "cache-control": "no-store",
            },
        )

    @gate.guard(Permission.ERASE_MEMBERS)
    async def erase(request: Request, viewer: Viewer) -> Response:
        member_id = int(request.path_params["member_id"])
        typed = str((await request.form()).get("confirm", "")).strip().lstrip("#")
        page = RedirectResponse(f"/console/members/{member_id}#rights", status_code=303)
        now = console.clock()
        async with console.database.transaction() as uow:
            await gate.member_in_scope(uow, viewer, member_id)
            if typed != str(member_id):
                language = console.pages.language(request, viewer.staff.language)
                flash(
                    request,
                    console.pages.catalogs.gettext(language, NOT_CONFIRMED),
                    None,
                    error=True,
                )
                return page
            if await uow.member_data.erased(member_id):
                flash(request, ALREADY_ERASED, member_id)
                return page
            erasure = await uow.member_data.erase(member_id, now)
            await uow.audit.record(
                viewer.staff.id, "erased", at=now, member_id=member_id, detail=erasure.describe()
            )
        flash(request, ERASED, member_id)
        return page

    return [
        Route("/members/{member_id:int}/copy.csv", copy, methods=["GET"]),
        Route("/members/{member_id:int}/erase", erase, methods=["POST"]),
    ]
