"""`/console/export/answers.csv` and `/console/export/help.csv`: the answers and the help ledger
of the groups the viewer may see (one group with `?group=ID`), as the `mutuality export`
command writes them (formula-safe CSV). Each export is audited."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.reports.exports import ExportFormat, answer_table, help_table, render
from bot.web.console.access import Permission, Viewer
from bot.web.console.context import ConsoleContext
from conversations.i18n import N_

NO_SUCH_EXPORT = N_("There is no such export.")


def routes(console: ConsoleContext) -> list[Route]:
    @console.gate.guard(Permission.READ_CONVERSATIONS)
    async def export(request: Request, viewer: Viewer) -> Response:
        kind = request.path_params["kind"]
        if kind not in ("answers", "help"):
            raise HTTPException(404, NO_SUCH_EXPORT)
        wanted = request.query_params.get("group", "")
        async with console.database.read() as uow:
            groups = [group.id for group in await uow.groups.list() if viewer.sees_group(group.id)]
            if wanted.isdigit():
                groups = [group_id for group_id in groups if group_id == int(wanted)]
            everything = viewer.groups is None and not wanted
            if kind == "answers":
                answers = (
                    await uow.exports.answer_rows()
                    if everything
                    else [
                        row
                        for group_id in groups
                        for row in await uow.exports.answer_rows(group_id)
                    ]
                )
                table = answer_table(answers)
            else:
                helps = (
                    await uow.exports.help_rows()
                    if everything
                    else [
                        row for group_id in groups for row in await uow.exports.help_rows(group_id)
                    ]
                )
                table = help_table(helps)
        async with console.database.transaction() as uow:
            detail = "all groups" if everything else f"groups {','.join(map(str, groups)) or '-'}"
            await uow.audit.record(
                viewer.staff.id, f"export_{kind}", at=console.clock(), detail=detail
            )
        return Response(
            render(kind, ExportFormat.CSV, table),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{kind}.csv"'},
        )

    return [
        Route("/export/{kind:str}.csv", export, methods=["GET"]),
    ]
