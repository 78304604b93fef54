"""The files outbox lines carry.

A line names its document by kind (`payload["document"]`) and never holds its bytes: they are
made from the database each time the line is tried, for the line's own member. So nothing is
lost when a process stops before the send (the row stays queued, and the file is made again),
and nothing personal is stored twice: the copy of a member's data exists only in memory while it
is sent, and an erasure, which deletes the member's queued lines and leaves nothing to make the
file from, stops it for good.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from bot.channels.base import OutgoingDocument
from bot.members.copies import member_copy_document
from bot.turns.data_rights import MEMBER_COPY
from storage.records import MessageRecord
from storage.unit_of_work import UnitOfWork

DocumentMaker = Callable[[UnitOfWork, int], Awaitable[OutgoingDocument | None]]

MAKERS: Final[Mapping[str, DocumentMaker]] = {MEMBER_COPY: member_copy_document}


def document_kind(row: MessageRecord) -> str | None:
    """The kind of document the line carries, if any."""
    kind = (row.payload or {}).get("document")
    return kind if isinstance(kind, str) else None


async def make_document(uow: UnitOfWork, row: MessageRecord) -> OutgoingDocument | None:
    """The line's document as it is now; None when there is nothing to send any more (an
    unknown kind, a line of no member, a member erased since)."""
    kind = document_kind(row)
    maker = MAKERS.get(kind) if kind is not None else None
    if maker is None or row.member_id is None:
        return None
    return await maker(uow, row.member_id)
