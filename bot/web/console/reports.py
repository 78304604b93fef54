"""`/console/reports`: the evidence report of one group or the whole program, from a date, with
its charts and how each figure is computed; the same report as XLSX and JSON; and the program's
exports for others' tools (Flow Results Packages) and for evaluators (the research export).

Who sees what: admins any group or the whole program; coordinators one of their groups at a
time (another group is 404, as for a group that does not exist), never the whole program: the
help network names members, and a coordinator sees the names of their own groups' members only.
Staff users (stories and broadcasts) have no reports, like they have no transcripts. Every
reading of a report, download and export is audited.

The page and its XLSX are in the reader's language, methods and kinds of help included (see
`bot.reports.wording`); the JSON stays English, for programs.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from babel import Locale
from babel.numbers import format_decimal, format_percent
from pydantic import SecretStr
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from bot.reports import evidence_files, floip
from bot.reports.evidence import Change, EvidenceReport, build_report
from bot.reports.method import Method
from bot.reports.research import MIN_KEY_LENGTH, check_key, write_research
from bot.reports.wording import COUNT_LABELS, MEASURE_LABELS, Wording, help_kind_labels
from bot.web.console import charts
from bot.web.console.access import Permission, Viewer
from bot.web.console.context import ConsoleContext
from bot.web.console.language import babel_locale
from conversations.engine import CheckinLibrary
from conversations.i18n import N_
from storage.records import GroupRecord

NO_SUCH_GROUP: Final = N_("No such group.")
NO_GROUPS: Final = N_("You have no groups yet: an admin gives you yours.")
BAD_SINCE: Final = N_("Since must be a date, like 2026-08-03.")
NO_RESEARCH_KEY: Final = N_(
    "The research export is turned off: RESEARCH_EXPORT_KEY is not set. It must be a secret of "
    "at least 16 characters kept by the deployment, because member ids in the file are hashes "
    "keyed with it."
)
SHORT_RESEARCH_KEY: Final = N_(
    "The research export is turned off: RESEARCH_EXPORT_KEY is shorter than 16 characters."
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class ReportScope:
    """What the viewer asked for, checked: a group of theirs (None: the whole program, for
    admins), from a day (None: from the start), and the groups they may choose from."""

    group: GroupRecord | None
    since: date | None
    choices: list[GroupRecord]

    @property
    def query(self) -> str:
        """The query string that asks for this scope again (for downloads and exports)."""
        params = {"group": str(self.group.id) if self.group else ""}
        if self.since:
            params["since"] = self.since.isoformat()
        return urlencode(params)

    @property
    def where(self) -> str:
        """The scope for the audit log: ids only, an audit line holds no personal data."""
        return f"group {self.group.id}" if self.group else "all groups"

    @property
    def audit_detail(self) -> str:
        return self.where + (f" since {self.since.isoformat()}" if self.since else "")


async def read_scope(console: ConsoleContext, request: Request, viewer: Viewer) -> ReportScope:
    """The scope of a report or export request; 404 for a group the viewer may not see (or
    that does not exist), 400 for a date that is not one."""
    params = request.query_params
    async with console.database.read() as uow:
        choices = [group for group in await uow.groups.list() if viewer.sees_group(group.id)]
    wanted = params.get("group", "").strip()
    group: GroupRecord | None
    if not wanted:
        if viewer.groups is not None and not choices:
            raise HTTPException(404, NO_GROUPS)
        group = None if viewer.groups is None else choices[0]
    else:
        number = int(wanted) if wanted.isascii() and wanted.isdigit() else None
        group = next((g for g in choices if g.id == number), None)
        if group is None:
            raise HTTPException(404, NO_SUCH_GROUP)
    text = params.get("since", "").strip()
    since = None
    if text:
        if not _DATE.fullmatch(text):
            raise HTTPException(400, BAD_SINCE)
        try:
            since = date.fromisoformat(text)
        except ValueError as error:
            raise HTTPException(400, BAD_SINCE) from error
    return ReportScope(group, since, choices)


@dataclass(frozen=True, slots=True)
class Formats:
    """Numbers as the reader's language writes them."""

    locale: Locale

    def amount(self, value: Decimal | None) -> str:
        if value is None:
            return "–"
        return format_decimal(value, format="#,##0.00", locale=self.locale)

    def short_amount(self, value: Decimal) -> str:
        return format_decimal(value, format="#,##0.##", locale=self.locale)

    def percent(self, share: Decimal | None) -> str:
        if share is None:
            return "–"
        return format_percent(share, format="#,##0.#%", locale=self.locale)

    def count(self, value: int) -> str:
        return format_decimal(value, locale=self.locale)


@dataclass(frozen=True, slots=True)
class Distribution:
    """One measure's change in one currency: its figures, bins and chart."""

    change: Change
    bins: list[charts.Bin]
    svg: Any


@dataclass(frozen=True, slots=True)
class Currency:
    currency: str
    distributions: list[Distribution]


def _by_currency(
    changes: tuple[Change, ...], prefix: str, _: Callable[[str], str], formats: Formats
) -> list[Currency]:
    found: dict[str, list[Distribution]] = {}
    for change in changes:
        histogram = charts.bins(change.changes)
        label = _(MEASURE_LABELS.get(change.measure, change.measure))
        labels = charts.Labels(
            f"{prefix}-{change.currency}-{change.measure}".lower(),
            _("Change in %(measure)s, %(currency)s")
            % {"measure": label, "currency": change.currency},
            _(
                "How many members changed by how much, from their baseline to now. The line "
                "marked with a triangle is the median change; the other line is no change."
            ),
        )
        svg = charts.histogram_svg(histogram, change.median_change, labels, formats.short_amount)
        found.setdefault(change.currency, []).append(Distribution(change, histogram, svg))
    return [Currency(currency, items) for currency, items in found.items()]


def _methods(changes: tuple[Change, ...]) -> list[tuple[str, Method]]:
    """Each measure's method once, in the report's order (it is the same in every currency)."""
    return list({change.measure: change.method for change in changes}.items())


def _report_view(
    report: EvidenceReport, scope: ReportScope, _: Callable[[str], str], formats: Formats
) -> dict[str, Any]:
    weeks = charts.every_week(report.participation.weeks)
    trend = charts.trend_svg(
        weeks,
        charts.Labels(
            "trend",
            _("Weekly check-ins completed and response rate"),
            _(
                "Bars: members who completed the weekly check-in each week (left axis). Line "
                "and dots: the response rate, completed divided by invited (right axis)."
            ),
        ),
        formats.percent,
        (_("Completed"), _("Response rate")),
    )
    network = None
    if scope.group is not None and report.mutuality.network:
        network = charts.network_svg(
            report.mutuality.network,
            charts.Labels(
                "network",
                _("Who helped whom in %(group)s") % {"group": scope.group.name},
                _(
                    "Each dot is a member; each arrow goes from the member who helped to the "
                    "member who was helped, as thick as the help records between them are many, "
                    "with their number."
                ),
            ),
        )
    return {
        "report": report,
        "weeks": weeks,
        "trend": trend,
        "business": _by_currency(report.business, "business", _, formats),
        "household": _by_currency(report.household, "household", _, formats),
        "business_methods": _methods(report.business),
        "household_methods": _methods(report.household),
        "network": network,
    }


def research_refusal(secret: str | None) -> str | None:
    """Why the research export cannot be made here, or None when it can."""
    if not secret:
        return NO_RESEARCH_KEY
    if len(secret) < MIN_KEY_LENGTH:
        return SHORT_RESEARCH_KEY
    return None


async def _audit(console: ConsoleContext, viewer: Viewer, action: str, detail: str) -> None:
    async with console.database.transaction() as uow:
        await uow.audit.record(viewer.staff.id, action, at=console.clock(), detail=detail)


def _zip_folder(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())


def _download(path: Path, name: str, media_type: str, workspace: Path) -> FileResponse:
    """A file sent from a temporary folder that is removed once the file has gone."""
    return FileResponse(
        path,
        media_type=media_type,
        filename=name,
        background=BackgroundTask(shutil.rmtree, workspace, ignore_errors=True),
    )


def _file_name(stem: str, group: GroupRecord | None, since: date | None, suffix: str) -> str:
    where = f"group-{group.id}" if group else "program"
    return f"{stem}-{where}{f'-since-{since.isoformat()}' if since else ''}.{suffix}"


def routes(
    console: ConsoleContext, library: CheckinLibrary, research_secret: SecretStr | None
) -> list[Route]:
    """The reports page, its downloads and the exports; `library` names the check-ins of the
    FLOIP packages, `research_secret` is the deployment's RESEARCH_EXPORT_KEY (None: unset)."""
    research_key = research_secret.get_secret_value() if research_secret is not None else None
    help_kinds = help_kind_labels(library)

    def wording(request: Request, viewer: Viewer) -> Wording:
        """The page's language (as `ConsoleContext.page` chooses it), for the page and the
        files downloaded from it alike."""
        language = console.pages.language(request, viewer.staff.language)
        return Wording(console.pages.catalogs.translator(language), help_kinds)

    async def build(scope: ReportScope) -> EvidenceReport:
        return await build_report(
            console.database,
            group_id=scope.group.id if scope.group else None,
            group_name=scope.group.name if scope.group else None,
            since=scope.since,
            now=console.clock(),
        )

    @console.gate.guard(Permission.READ_CONVERSATIONS)
    async def page(request: Request, viewer: Viewer) -> Response:
        scope = await read_scope(console, request, viewer)
        report = await build(scope)
        await _audit(console, viewer, "report_view", scope.audit_detail)
        language = console.pages.language(request, viewer.staff.language)
        gettext = console.pages.catalogs.translator(language).gettext
        formats = Formats(babel_locale(language))
        return await console.page(
            request,
            viewer,
            "reports.html",
            {
                "scope": scope,
                "formats": formats,
                "count_labels": COUNT_LABELS,
                "measure_labels": MEASURE_LABELS,
                "wording": wording(request, viewer),
                "research_refusal": research_refusal(research_key),
                **_report_view(report, scope, gettext, formats),
            },
        )

    @console.gate.guard(Permission.READ_CONVERSATIONS)
    async def evidence_file(request: Request, viewer: Viewer) -> Response:
        kind = request.path_params["kind"]
        if kind not in ("xlsx", "json"):
            raise HTTPException(404, N_("There is no such export."))
        scope = await read_scope(console, request, viewer)
        report = await build(scope)
        await _audit(console, viewer, f"report_{kind}", scope.audit_detail)
        if kind == "xlsx":
            data = await asyncio.to_thread(evidence_files.to_xlsx, report, wording(request, viewer))
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            data = evidence_files.to_json(report)
            media = "application/json"
        name = _file_name("evidence", scope.group, scope.since, kind)
        disposition = f'attachment; filename="{name}"'
        return Response(data, media_type=media, headers={"content-disposition": disposition})

    @console.gate.guard(Permission.READ_CONVERSATIONS)
    async def floip_export(request: Request, viewer: Viewer) -> Response:
        scope = await read_scope(console, request, viewer)
        group_id = scope.group.id if scope.group else None
        workspace = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="mutuality-floip-"))
        try:
            packages = workspace / "packages"
            async with console.database.read() as uow:
                now = console.clock()
                for checkin_id in await uow.streams.checkin_ids(group_id):
                    await floip.write_package(
                        packages,
                        checkin_id,
                        library.get(checkin_id),
                        uow.streams.answers(checkin_id=checkin_id, group_id=group_id),
                        now,
                    )
            target = workspace / "floip.zip"
            await asyncio.to_thread(packages.mkdir, exist_ok=True)
            await asyncio.to_thread(_zip_folder, packages, target)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, workspace, True)
            raise
        await _audit(console, viewer, "export_floip", scope.audit_detail)
        name = _file_name("floip", scope.group, None, "zip")
        return _download(target, name, "application/zip", workspace)

    @console.gate.guard(Permission.READ_CONVERSATIONS)
    async def research_export(request: Request, viewer: Viewer) -> Response:
        refusal = research_refusal(research_key)
        if refusal is not None:
            raise HTTPException(409, refusal)
        scope = await read_scope(console, request, viewer)
        include_text = request.query_params.get("text") == "yes"
        key = check_key(research_key)
        workspace = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="mutuality-research-"))
        target = workspace / "research.zip"
        try:
            async with console.database.read() as uow:
                written = await write_research(
                    uow,
                    target,
                    key,
                    group_id=scope.group.id if scope.group else None,
                    include_text=include_text,
                    now=console.clock(),
                )
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, workspace, True)
            raise
        detail = f"{scope.where}, {written.answers} answers, {written.help} help records"
        detail += ", with free text" if include_text else ""
        await _audit(console, viewer, "export_research", detail)
        name = _file_name("research", scope.group, None, "zip")
        return _download(target, name, "application/zip", workspace)

    return [
        Route("/reports", page, methods=["GET"]),
        Route("/reports/evidence.{kind:str}", evidence_file, methods=["GET"]),
        Route("/reports/floip.zip", floip_export, methods=["GET"]),
        Route("/reports/research.zip", research_export, methods=["GET"]),
    ]
