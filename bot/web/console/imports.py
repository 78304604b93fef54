"""`/console/members/import`: enrol members from a roster file, for admins, with the rules of
`mutuality members import` (`bot.members.roster`): first the dry run's report, then **Apply**.

Apply writes exactly the file that was checked, without a second upload: the checked bytes
come back with the Apply form, and are accepted only if their SHA-256 is the one the check
recorded in this browser's signed session, by this staff user, within `CHECK_MINUTES`. The
file is planned again against the members stored now; if that plan differs from the one shown
(someone changed a member meanwhile), nothing is written and the new report is shown instead.

A file is at most `MAX_FILE_BYTES` and `MAX_LINES` members: a whole program's roster, which
`apply_import` writes in seconds (set-based, in chunks; figures in docs/benchmarks.md). A
request that declares more bytes is refused before its body is parsed, and one that declares
no length is refused too. CSV only (UTF-8, with `,`, `;` or tab), as the command line reads
it; a spreadsheet saved as XLSX is refused with what to do.

Reading a file checks every phone number, CPU work of about a second for `MAX_LINES` members:
it runs in a worker thread, so the web process keeps answering webhooks meanwhile, and before
the Apply's transaction begins, so the database's write lock (SQLite) is held only while
planning and writing. Nothing else bounds a request's time here (uvicorn and Starlette set no
limit on it); the page says that it is working while the browser waits.

The check and the apply are each audited, with the file's hash and the counts, never its
contents.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.members.roster import (
    Action,
    ImportPlan,
    ParsedFile,
    PlannedMember,
    RowError,
    apply_import,
    decode_members_file,
    parse_members_csv,
    plan_import,
)
from bot.web.console.access import LOGIN_PATH, Permission, Viewer
from bot.web.console.context import ConsoleContext
from conversations.i18n import N_
from storage.errors import AddressInUse
from storage.unit_of_work import UnitOfWork

MAX_FILE_BYTES: Final = 2 * 1024 * 1024
"""Room for `MAX_LINES` members with a spreadsheet's extra columns (about 200 bytes a line)."""
ENVELOPE_BYTES: Final = 16 * 1024
"""Room for the form around the file: the multipart boundaries, the CSRF token."""
MAX_CHECK_REQUEST: Final = MAX_FILE_BYTES + ENVELOPE_BYTES
MAX_APPLY_REQUEST: Final = math.ceil(MAX_FILE_BYTES / 3) * 4 + ENVELOPE_BYTES
"""The Apply form carries the checked file in URL-safe base64 (4 characters per 3 bytes,
none of which form encoding escapes). Its one field is larger than the 1 MB Starlette allows
a form field by default, so the form is read with this limit instead (see `capped`)."""
DRAIN_LIMIT: Final = 16 * 1024 * 1024
"""A too large request up to this size is read to its end (and dropped) so that the browser
shows our answer instead of a broken connection; a larger one is answered at once."""
MAX_LINES: Final = 10_000
"""Members per file: a whole program. Checking and applying 10,000 take a few seconds each on
PostgreSQL and on SQLite (docs/benchmarks.md), inside one request."""
CHECK_MINUTES: Final = 30
SHOWN_LINES: Final = 500
"""A report lists at most this many changes and as many errors, then says how many more."""
SESSION_KEY: Final = "member_import"
SPREADSHEET_SIGNATURES: Final = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # XLSX/ODS (zip), XLS

TOO_LARGE = N_("The file is larger than 2 MB. Split it into smaller files and import each.")
TOO_MANY_LINES = N_(
    "The file has %(lines)s members; the console imports at most %(most)s at a time. Split it "
    "into several files, or import it with mutuality members import on the server."
)
NO_LENGTH = N_("The upload did not say its size; send it again from the form.")
NO_FILE = N_("Choose a CSV file to check.")
SPREADSHEET = N_(
    "This is a spreadsheet file (XLSX or XLS), not CSV. In the spreadsheet, choose Save as "
    "and the type “CSV UTF-8”, then check that file."
)
EXPIRED = N_("This check has expired or was for another file: check the file again, then apply it.")
CHANGED = N_(
    "The members stored changed since the check, so nothing was written. Here is the report "
    "against them now: apply again if it is right."
)
ADDRESS_TAKEN = N_(
    "Someone wrote to the bot from a number or Telegram id in the file since the check, so "
    "nothing was written: check the file again."
)


class TooManyLines(ValueError):
    def __init__(self, lines: int) -> None:
        super().__init__(f"{lines} members")
        self.lines = lines


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What a check found, for the page: the same facts `mutuality members import` prints."""

    plan: ImportPlan
    parsed: ParsedFile

    @property
    def changing(self) -> list[PlannedMember]:
        return [planned for planned in self.plan.members if planned.action is not Action.UNCHANGED]

    @property
    def errors(self) -> tuple[RowError, ...]:
        return self.plan.errors

    def count(self, action: str) -> int:
        return self.plan.count(Action(action))

    @property
    def fingerprint(self) -> str:
        """The plan in short: two checks of the same file against the same members agree."""
        digest = hashlib.sha256()
        for planned in self.plan.members:
            digest.update(repr((planned.row, planned.action, planned.changes)).encode())
        for error in self.plan.errors:
            digest.update(repr(error).encode())
        return digest.hexdigest()

    def summary(self) -> str:
        """For the audit log: counts only."""
        return (
            f"create {self.count('create')}, update {self.count('update')}, "
            f"unchanged {self.count('unchanged')}, lines with errors {self.plan.error_lines}"
        )


def routes(console: ConsoleContext, default_country: str) -> list[Route]:
    languages = console.pages.catalogs.codes

    async def read(data: bytes) -> ParsedFile:
        """The file read and checked, in a worker thread (see the module's docstring). Raises
        `ValueError` saying what is wrong with a file that cannot be read, and `TooManyLines`
        for one longer than `MAX_LINES`."""
        parsed = await asyncio.to_thread(
            lambda: parse_members_csv(decode_members_file(data), languages)
        )
        lines = len(parsed.rows) + len({error.line for error in parsed.errors})
        if lines > MAX_LINES:
            raise TooManyLines(lines)
        return parsed

    async def report_of(uow: UnitOfWork, parsed: ParsedFile) -> ImportReport:
        plan = await plan_import(uow, parsed, languages=languages, default_country=default_country)
        return ImportReport(plan, parsed)

    async def show(
        request: Request, viewer: Viewer, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        values = {
            "report": None,
            "content": None,
            "problem": None,
            "notice": None,
            "done": None,
            "lines": None,
            "shown_lines": SHOWN_LINES,
            **context,
        }
        return await console.page(request, viewer, "import.html", values, status_code=status_code)

    def capped(limit: int, endpoint: Callable[[Request], Awaitable[Response]]) -> Any:
        """`endpoint`, for requests that declare a body of at most `limit` bytes, its form
        closed after it; others get a page saying so (the gate's answer first, for those it
        would not let in)."""

        async def guarded(request: Request) -> Response:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) <= limit:
                try:
                    await request.form(max_part_size=limit)  # kept for the gate and endpoint
                    return await endpoint(request)
                finally:
                    await request.close()  # the form's uploaded file, whatever the answer
            if declared.isdigit() and int(declared) <= DRAIN_LIMIT:
                async for _ in request.stream():
                    pass
            viewer = await console.gate.viewer(request)
            if viewer is None:
                return RedirectResponse(LOGIN_PATH, status_code=303)
            if not viewer.may(Permission.IMPORT_MEMBERS):
                raise HTTPException(403, N_("Your role cannot open this page."))
            too_large = declared.isdigit()
            return await show(
                request,
                viewer,
                {"problem": TOO_LARGE if too_large else NO_LENGTH},
                status_code=413 if too_large else 411,
            )

        return guarded

    @console.gate.guard(Permission.IMPORT_MEMBERS)
    async def form(request: Request, viewer: Viewer) -> Response:
        return await show(request, viewer, {})

    @console.gate.guard(Permission.IMPORT_MEMBERS)
    async def check(request: Request, viewer: Viewer) -> Response:
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await show(request, viewer, {"problem": NO_FILE}, status_code=400)
        data = await upload.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            return await show(request, viewer, {"problem": TOO_LARGE}, status_code=413)
        if data.startswith(SPREADSHEET_SIGNATURES):
            return await show(request, viewer, {"problem": SPREADSHEET}, status_code=400)
        digest = hashlib.sha256(data).hexdigest()
        try:
            parsed = await read(data)
            async with console.database.read() as uow:
                report = await report_of(uow, parsed)
        except TooManyLines as error:
            request.session.pop(SESSION_KEY, None)
            many = {"problem": TOO_MANY_LINES, "lines": error.lines, "most": MAX_LINES}
            return await show(request, viewer, many, status_code=413)
        except ValueError as error:  # not UTF-8: said with the line where it stops
            request.session.pop(SESSION_KEY, None)
            return await show(request, viewer, {"problem": str(error)}, status_code=400)
        async with console.database.transaction() as uow:
            await uow.audit.record(
                viewer.staff.id,
                "members_import_checked",
                at=console.clock(),
                detail=f"file {digest[:16]}: {report.summary()}",
            )
        if report.errors:
            request.session.pop(SESSION_KEY, None)
            return await show(request, viewer, {"report": report}, status_code=400)
        remember(request, viewer, digest, report)
        return await show(request, viewer, {"report": report, "content": encode(data)})

    @console.gate.guard(Permission.IMPORT_MEMBERS)
    async def apply(request: Request, viewer: Viewer) -> Response:
        data = decode((await request.form()).get("content"))
        checked = request.session.get(SESSION_KEY)
        now = int(console.clock().timestamp())
        if (
            data is None
            or not isinstance(checked, dict)
            or checked.get("staff") != viewer.staff.id
            or not isinstance(checked.get("at"), int)
            or not 0 <= now - checked["at"] <= CHECK_MINUTES * 60
            or checked.get("sha256") != hashlib.sha256(data).hexdigest()
        ):
            return await show(request, viewer, {"problem": EXPIRED}, status_code=409)
        digest = checked["sha256"]
        try:
            parsed = await read(data)  # read before, not in, the transaction
        except ValueError:  # the checked file was readable: it is no longer the same
            request.session.pop(SESSION_KEY, None)
            return await show(request, viewer, {"problem": EXPIRED}, status_code=409)
        try:
            async with console.database.transaction() as uow:
                report = await report_of(uow, parsed)
                if report.errors or report.fingerprint != checked.get("plan"):
                    outcome = "changed"
                else:
                    await apply_import(uow, report.plan, at=console.clock())
                    await uow.audit.record(
                        viewer.staff.id,
                        "members_import_applied",
                        at=console.clock(),
                        detail=f"file {digest[:16]}: {report.summary()}",
                    )
                    outcome = "applied"
        except AddressInUse:
            request.session.pop(SESSION_KEY, None)
            return await show(request, viewer, {"problem": ADDRESS_TAKEN}, status_code=409)
        if outcome == "changed":
            if report.errors:
                request.session.pop(SESSION_KEY, None)
                return await show(
                    request, viewer, {"report": report, "notice": CHANGED}, status_code=409
                )
            remember(request, viewer, digest, report)
            return await show(
                request,
                viewer,
                {"report": report, "content": encode(data), "notice": CHANGED},
                status_code=409,
            )
        request.session.pop(SESSION_KEY, None)
        return await show(request, viewer, {"report": report, "done": True})

    def remember(request: Request, viewer: Viewer, digest: str, report: ImportReport) -> None:
        request.session[SESSION_KEY] = {
            "staff": viewer.staff.id,
            "sha256": digest,
            "plan": report.fingerprint,
            "at": int(console.clock().timestamp()),
        }

    return [
        Route("/members/import", form, methods=["GET"]),
        Route("/members/import", capped(MAX_CHECK_REQUEST, check), methods=["POST"]),
        Route("/members/import/apply", capped(MAX_APPLY_REQUEST, apply), methods=["POST"]),
    ]


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def decode(content: object) -> bytes | None:
    if not isinstance(content, str) or len(content) > MAX_APPLY_REQUEST:
        return None
    try:
        return base64.urlsafe_b64decode(content.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
