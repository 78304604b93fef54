"""A member's copy of their data: one CSV file of every table, sent as a file in a Telegram chat,
or downloaded from `web` through a one-time link on WhatsApp and SMS (where a bot cannot send a
file of its own).

On Telegram the copy is made when its line goes out (`member_copy_document`, called by the
sender), so it is never stored anywhere: the outbox row only names it. The links are made in chat
(`bot.turns.data_rights.new_copy_link`): a random token, of which only the SHA-256 is stored; it
opens the copy once and for a day. Both the download and the file sent are written to the audit
log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.channels.base import OutgoingDocument
from bot.reports.exports import to_csv
from bot.turns.data_rights import COPY_FILENAME, copy_token_hash
from storage.repositories.member_data import MemberCopy
from storage.unit_of_work import UnitOfWork


def member_copy_csv(copy: MemberCopy) -> bytes:
    """A member's copy as one CSV file: for each table, a line naming it and its columns
    (`# answers`, then the column names), then its rows, each led by the table's name."""
    lines: list[list[Any]] = []
    for name, (header, rows) in copy.sections.items():
        lines.append([f"# {name}", *header])
        lines.extend([name, *("" if cell is None else cell for cell in row)] for row in rows)
    width = max(len(line) for line in lines)
    return to_csv(["table", *(f"c{i}" for i in range(1, width))], lines)


async def redeem(uow: UnitOfWork, token: str, now: datetime) -> bytes | None:
    """The copy a link's token opens (used up now), or None for an unknown, used or expired
    token."""
    member_id = await uow.member_data.redeem_copy(copy_token_hash(token), now)
    if member_id is None:
        return None
    await uow.audit.record(None, "copy_downloaded", at=now, member_id=member_id)
    return member_copy_csv(await uow.member_data.copy(member_id))


async def member_copy_document(uow: UnitOfWork, member_id: int) -> OutgoingDocument | None:
    """The member's copy as the file a chat line carries, as it is now; None once the member
    is erased (or gone), so that nothing of theirs goes out after an erasure."""
    if await uow.members.get(member_id) is None or await uow.member_data.erased(member_id):
        return None
    return OutgoingDocument(COPY_FILENAME, member_copy_csv(await uow.member_data.copy(member_id)))
