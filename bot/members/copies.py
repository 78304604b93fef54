"""A member's copy of their data: one CSV file of every table, and the one-time links that let a
member download it from `web` (on WhatsApp and SMS no file can be sent; on Telegram the link
works the same way).

The links are made in chat (`bot.turns.data_rights.new_copy_link`): a random token, of which
only the SHA-256 is stored; it opens the copy once and for a day, and the download is written to
the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.reports.exports import to_csv
from bot.turns.data_rights import copy_token_hash
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
