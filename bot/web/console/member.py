"""`/console/members/{id}`: a member's conversation (the last 200 lines, newest at the bottom,
earlier pages on request), new lines as they come (`/since`, polled by the page's script),
and the coordinator's actions: take over, reply (or, on WhatsApp outside its 24-hour window, send
an approved template), hand back. Each read and each action writes a
line to the audit log."""

from __future__ import annotations

import contextlib
from typing import Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.web.console.access import Permission, Viewer
from bot.web.console.context import ConsoleContext
from bot.web.console.flash import take_flash
from bot.web.console.replies import (
    NO_SUCH_TEMPLATE,
    NOT_TAKEN_OVER,
    ReplyRefused,
    queue_reply,
    queue_template,
    reply_address,
    window_closed,
)
from conversations.messages import BOT_IS_BACK
from storage.records import MemberRecord, MessageRecord
from storage.repositories.conversations import TranscriptNote
from storage.unit_of_work import UnitOfWork

TRANSCRIPT_LINES: Final = 200
MAX_NOTE_LENGTH: Final = 4000


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def media_of(line: MessageRecord) -> str | None:
    """What a line carries besides text: photo, location, voice (or other media), contact."""
    payload = line.payload if isinstance(line.payload, dict) else {}
    if "photo" in payload:
        return "photo"
    if "location" in payload:
        return "location"
    if "contact" in payload:
        return "contact"
    kind = payload.get("media_kind")
    return str(kind) if kind else None


def attach_notes(
    lines: list[MessageRecord], notes: list[TranscriptNote]
) -> dict[int, list[TranscriptNote]]:
    """Each note beside the first line stored at or after it: a turn's answers, help records,
    stories and check-in changes carry the time of the member's line that caused them."""
    attached: dict[int, list[TranscriptNote]] = {}
    position = 0
    for note in notes:
        while position < len(lines) and lines[position].created_at < note.at:
            position += 1
        if position < len(lines):
            attached.setdefault(lines[position].id, []).append(note)
    return attached


async def notes_for(
    uow: UnitOfWork, member_id: int, lines: list[MessageRecord]
) -> dict[int, list[TranscriptNote]]:
    if not lines:
        return {}
    notes = await uow.conversations.notes(member_id, lines[0].created_at, lines[-1].created_at)
    return attach_notes(lines, notes)


def routes(console: ConsoleContext) -> list[Route]:
    gate = console.gate

    async def _member_page(
        request: Request, viewer: Viewer, member_id: int, refused: str | None = None
    ) -> Response:
        before = _int(request.query_params.get("before"))
        now = console.clock()
        async with console.database.transaction() as uow:
            await gate.member_in_scope(uow, viewer, member_id)
            member = await uow.members.get(member_id)
            assert member is not None
            group = await uow.members.current_group(member_id)
            addresses = await uow.members.addresses(member_id)
            lines = await uow.conversations.transcript(
                member_id, before_id=before, limit=TRANSCRIPT_LINES
            )
            taken_by = (
                await uow.staff.get(member.taken_over_by_id, include_removed=True)
                if member.taken_over_by_id
                else None
            )
            notes = await notes_for(uow, member_id, lines)
            private_notes = await uow.conversations.private_notes(member_id)
            erased = await uow.member_data.erased(member_id)
            await uow.audit.record(viewer.staff.id, "read", at=now, member_id=member_id)
            closed = member.taken_over_by_id is not None and await _window_closed(uow, member_id)
        offers = (
            await console.template_offers.for_member(member.locale, member.name, viewer.staff.name)
            if closed
            else []
        )
        return await console.page(
            request,
            viewer,
            "member.html",
            {
                "member": member,
                "group": group,
                "addresses": addresses,
                "lines": lines,
                "notes": notes,
                "private_notes": private_notes,
                "media_of": media_of,
                "earlier": lines[0].id if len(lines) == TRANSCRIPT_LINES else None,
                "live": before is None,
                "last_id": lines[-1].id if lines else 0,
                "taken_by": taken_by,
                "refused": refused,
                "window_closed": closed,
                "offers": offers,
                "zone": group.timezone if group else None,
                "flash": take_flash(request),
                "erased": erased,
            },
            status_code=409 if refused else 200,
        )

    @gate.guard(Permission.READ_CONVERSATIONS)
    async def transcript(request: Request, viewer: Viewer) -> Response:
        return await _member_page(request, viewer, int(request.path_params["member_id"]))

    @gate.guard(Permission.READ_CONVERSATIONS)
    async def since(request: Request, viewer: Viewer) -> Response:
        member_id = int(request.path_params["member_id"])
        after = _int(request.query_params.get("after")) or 0
        async with console.database.read() as uow:
            await gate.member_in_scope(uow, viewer, member_id)
            lines = await uow.conversations.since(member_id, after)
            group = await uow.members.current_group(member_id)
            notes = await notes_for(uow, member_id, lines)
        return console.pages.render(
            request,
            "lines.html",
            {
                "lines": lines,
                "notes": notes,
                "media_of": media_of,
                "zone": group.timezone if group else None,
            },
            language=console.pages.language(request, viewer.staff.language),
        )

    @gate.guard(Permission.READ_CONVERSATIONS)
    async def take_over(request: Request, viewer: Viewer) -> Response:
        member_id = int(request.path_params["member_id"])
        now = console.clock()
        async with console.database.transaction() as uow:
            await gate.member_in_scope(uow, viewer, member_id)
            await uow.conversations.take_over(member_id, viewer.staff.id, now)
            await uow.audit.record(viewer.staff.id, "take_over", at=now, member_id=member_id)
        return RedirectResponse(f"/console/members/{member_id}", status_code=303)

    @gate.guard(Permission.READ_CONVERSATIONS)
    async def hand_back(request: Request, viewer: Viewer) -> Response:
        member_id = int(request.path_params["member_id"])
        now = console.clock()
        async with console.database.transaction() as uow:
            await gate.member_in_scope(uow, viewer, member_id)
            await uow.conversations.hand_back(member_id)
            await uow.audit.record(viewer.staff.id, "hand_back", at=now, member_id=member_id)
            member = await uow.members.get(member_id)
            assert member is not None
            text = console.pages.catalogs.gettext(member.locale, BOT_IS_BACK)
            # Tell the member what to send next, where the channel allows a message now.
            with contextlib.suppress(ReplyRefused):
                await queue_reply(uow, member_id, member.locale, text, now)
        await console.wake_sender()
        return RedirectResponse(f"/console/members/{member_id}", status_code=303)

    async def _taken_over(uow: UnitOfWork, viewer: Viewer, member_id: int) -> MemberRecord:
        """The member, in the viewer's scope and taken over by a person; else `ReplyRefused`."""
        await gate.member_in_scope(uow, viewer, member_id)
        member = await uow.members.get(member_id)
        assert member is not None
        if member.taken_over_by_id is None:
            raise ReplyRefused(NOT_TAKEN_OVER)
        return member

    @gate.guard(Permission.READ_CONVERSATIONS)
    async def reply(request: Request, viewer: Viewer) -> Response:
        member_id = int(request.path_params["member_id"])
        text = str((await request.form()).get("reply", ""))
        now = console.clock()
        try:
            async with console.database.transaction() as uow:
                member = await _taken_over(uow, viewer, member_id)
                ids = await queue_reply(uow, member_id, member.locale, text, now)
                await uow.audit.record(
                    viewer.staff.id, "reply", at=now, member_id=member_id, detail=f"{len(ids)}"
                )
        except ReplyRefused as refused:
            return await _member_page(request, viewer, member_id, refused.reason)
        await console.wake_sender()
        return RedirectResponse(f"/console/members/{member_id}", status_code=303)

    async def _window_closed(uow: UnitOfWork, member_id: int) -> bool:
        found = await reply_address(uow, member_id)
        return found is not None and await window_closed(uow, *found, console.clock())

    @gate.guard(Permission.READ_CONVERSATIONS)
    async def send_template(request: Request, viewer: Viewer) -> Response:
        member_id = int(request.path_params["member_id"])
        name = str((await request.form()).get("template", ""))
        now = console.clock()
        try:
            async with console.database.transaction() as uow:
                member = await _taken_over(uow, viewer, member_id)
                offer = await console.template_offers.one(
                    name, member.locale, member.name, viewer.staff.name
                )
                if offer is None:
                    raise ReplyRefused(NO_SUCH_TEMPLATE)
                await queue_template(uow, member_id, offer, now)
                await uow.audit.record(
                    viewer.staff.id, "template", at=now, member_id=member_id, detail=offer.name
                )
        except ReplyRefused as refused:
            return await _member_page(request, viewer, member_id, refused.reason)
        await console.wake_sender()
        return RedirectResponse(f"/console/members/{member_id}", status_code=303)

    @gate.guard(Permission.READ_CONVERSATIONS)
    async def add_note(request: Request, viewer: Viewer) -> Response:
        member_id = int(request.path_params["member_id"])
        text = str((await request.form()).get("note", "")).strip()[:MAX_NOTE_LENGTH]
        now = console.clock()
        async with console.database.transaction() as uow:
            await gate.member_in_scope(uow, viewer, member_id)
            if text:
                await uow.conversations.add_private_note(member_id, viewer.staff.id, text, now)
                await uow.audit.record(viewer.staff.id, "note", at=now, member_id=member_id)
        return RedirectResponse(f"/console/members/{member_id}#notes", status_code=303)

    return [
        Route("/members/{member_id:int}", transcript, methods=["GET"]),
        Route("/members/{member_id:int}/notes", add_note, methods=["POST"]),
        Route("/members/{member_id:int}/since", since, methods=["GET"]),
        Route("/members/{member_id:int}/take-over", take_over, methods=["POST"]),
        Route("/members/{member_id:int}/hand-back", hand_back, methods=["POST"]),
        Route("/members/{member_id:int}/reply", reply, methods=["POST"]),
        Route("/members/{member_id:int}/template", send_template, methods=["POST"]),
    ]
