"""A member's data rights in chat: `mydata` shows what is stored about them, `delete` erases it.

Both are command words in every shipped language (`conversations.words`). They are answered
here, before the engine, because they read and erase stored data, which the engine never
touches. Erasure takes a confirmation: `delete` answers with a word of five capital letters
(derived from the member, so it needs no state of its own), and only that word, sent as the
member's very next message, erases (`storage.repositories.member_data`). After an erasure the
bot says nothing more: a goodbye would put the address back in the message log.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.channels.base import DOCUMENT_CHANNELS
from bot.turns.checkins import Checkins
from conversations import messages
from conversations.events import Say
from conversations.inputs import Reply
from conversations.words import Command
from storage.records import MemberRecord
from storage.unit_of_work import UnitOfWork
from storage.vocabulary import Channel

log = logging.getLogger(__name__)

CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"
CODE_LENGTH = 5
_CODE = re.compile(rf"[{CODE_LETTERS}]{{{CODE_LENGTH}}}")


MEMBER_COPY = "member_copy"
"""The document a `mydata` line carries where the channel sends files: the member's copy, made
when the line goes out (see `bot.pipeline.documents`)."""
COPY_FILENAME = "my-data.csv"

COPY_PATH = "/data"
"""Where `web` serves a member's copy: `{PUBLIC_URL}/data/{token}`."""
COPY_LINK_LIFETIME = timedelta(hours=24)


def copy_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def new_copy_link(uow: UnitOfWork, member_id: int, public_url: str, now: datetime) -> str:
    """A one-time link to the member's copy, valid for `COPY_LINK_LIFETIME`."""
    token = secrets.token_urlsafe(24)
    expires = now + COPY_LINK_LIFETIME
    await uow.member_data.issue_copy(member_id, copy_token_hash(token), now, expires)
    return f"{public_url}{COPY_PATH}/{token}"


def erase_code(member: MemberRecord) -> str:
    """The word that confirms `member`'s erasure: five consonants (no word, no number)."""
    digest = hashlib.sha256(f"erase:{member.id}:{member.created_at.isoformat()}".encode()).digest()
    return "".join(CODE_LETTERS[byte % len(CODE_LETTERS)] for byte in digest[:CODE_LENGTH])


@dataclass(frozen=True, slots=True)
class Answered:
    """What to say instead of running the engine (nothing after an erasure). `copy` is a
    caption whose line carries the member's copy as a file."""

    says: tuple[Say, ...]
    copy: Say | None = None

    def lines(self) -> list[tuple[Say, dict[str, Any] | None]]:
        """Each line to say, with what it carries besides its words."""
        lines: list[tuple[Say, dict[str, Any] | None]] = [(say, None) for say in self.says]
        if self.copy is not None:
            lines.append((self.copy, {"document": MEMBER_COPY}))
        return lines


class DataRights:
    def __init__(self, checkins: Checkins, public_url: str | None = None) -> None:
        self.checkins = checkins
        self.public_url = public_url
        """With it, `mydata` on a channel that cannot send files also gives a one-time link to
        a full copy, served by `web`."""

    def command(self, text: str) -> Command | None:
        command = self.checkins.lexicon.command(text) if text else None
        return command if command in (Command.MYDATA, Command.DELETE) else None

    def may_take(self, text: str) -> bool:
        """Whether `handle` may answer this text (the worker then runs it on its own)."""
        return self.command(text) is not None or bool(_CODE.fullmatch(text.strip().upper()))

    async def answer(
        self,
        uow: UnitOfWork,
        member: MemberRecord,
        reply: Reply,
        now: datetime,
        channel: Channel,
    ) -> Answered | None:
        """The answer to `mydata`, `delete` or the erasure's confirmation; None for any other
        message (the engine's to answer). Called after the inbound message is logged.

        `mydata` on a channel that sends files (Telegram) brings the full copy as a CSV file in
        the chat; elsewhere a one-time link to it, when `web` is reachable (`public_url`)."""
        text = reply.text or ""
        if reply.choice is not None or not self.may_take(text):
            return None
        command = self.command(text)
        if command is Command.MYDATA:
            summary = await self._summary(uow, member)
            if channel in DOCUMENT_CHANNELS:
                return Answered((summary,), copy=Say(messages.MY_DATA_FILE, member.locale))
            if self.public_url:
                link = await new_copy_link(uow, member.id, self.public_url, now)
                return Answered(
                    (summary, Say(messages.MY_DATA_LINK, member.locale, {"link": link}))
                )
            return Answered((summary,))
        if command is Command.DELETE:
            return Answered(
                (Say(messages.DELETE_CONFIRM, member.locale, {"code": erase_code(member)}),)
            )
        if text.strip().upper() != erase_code(member) or not await self._asked(uow, member):
            return None
        erasure = await uow.member_data.erase(member.id, now)
        detail = "asked in chat; " + erasure.describe()
        await uow.audit.record(None, "erased", at=now, member_id=member.id, detail=detail)
        log.info("member %s erased at their request in chat (%s)", member.id, erasure.describe())
        return Answered(())

    async def _asked(self, uow: UnitOfWork, member: MemberRecord) -> bool:
        """Whether the bot's latest line to the member is the erasure's confirmation."""
        latest = await uow.messages.for_member(member.id, limit=5)
        said = [message for message in latest if message.direction == "out"]
        return bool(said) and erase_code(member) in said[-1].text

    async def _summary(self, uow: UnitOfWork, member: MemberRecord) -> Say:
        stored = await uow.member_data.summary(member.id)
        catalogs = self.checkins.catalogs
        none = catalogs.gettext(member.locale, messages.NOT_GIVEN)
        latest = "\n".join(
            f"- {answer.step_id}: {answer.value} ({answer.at.date().isoformat()})"
            for answer in stored.latest
        )
        params = {
            "name": stored.name or none,
            "group": stored.group or none,
            "addresses": ", ".join(f"{channel} {value}" for channel, value in stored.addresses)
            or none,
            "checkins": stored.checkins,
            "answers": stored.answers,
            "messages": stored.messages,
            "stories": stored.stories,
            "latest": latest or none,
        }
        return Say(messages.MY_DATA, member.locale, params)
