"""WhatsApp's tap-to-answer contents, created at Twilio once and named by sid ever after.

A question whose choices fit WhatsApp's interactive messages goes as a content (see
`bot.channels.whatsapp_content`): created on first use, kept in the database by the key of what
it holds, so it is created once per step, language and choices for every member, worker and
restart. When it cannot be created the question goes as today's numbered list; the failure is
logged once and the creation tried again after a pause, not on every message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Final

from bot.channels.base import OutgoingChoice
from bot.channels.whatsapp_content import (
    ContentCreator,
    ContentError,
    InteractiveContent,
    interactive_content,
)
from conversations import messages
from conversations.engine import CheckinLibrary, answered_by_one_tap, step_choices
from conversations.i18n import Catalogs
from storage.database import Database

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE: Final = 600.0
"""Seconds during which a content that could not be created is not asked for again."""


class InteractiveContents:
    """The sid of the content that offers a question's choices to tap, creating it when new."""

    def __init__(
        self,
        database: Database,
        creator: ContentCreator,
        catalogs: Catalogs,
        clock: Callable[[], datetime],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.creator = creator
        self.catalogs = catalogs
        self.clock = clock
        self.monotonic = monotonic
        self._sids: dict[str, str] = {}
        self._failed_until: dict[str, float] = {}
        self._creating: dict[str, asyncio.Lock] = {}

    def content_for(
        self, step_id: str | None, choices: Sequence[OutgoingChoice], locale: str
    ) -> InteractiveContent | None:
        """The content for a question's choices in `locale`, or None when they do not fit."""
        return tap_content(self.catalogs, step_id, choices, locale)

    async def sid(self, content: InteractiveContent) -> str | None:
        """The content's sid, created at Twilio and stored if new; None when it cannot be had
        now (then the caller sends the numbered list)."""
        key = content.key
        known = self._sids.get(key)
        if known is not None:
            return known
        if self._failed_until.get(key, 0.0) > self.monotonic():
            return None
        lock = self._creating.setdefault(key, asyncio.Lock())
        async with lock:  # members asked the same new question at once: one creation
            known = self._sids.get(key)
            if known is None:
                known = await self._stored_or_created(content)
            if known is not None:
                self._sids[key] = known
            return known

    async def _stored_or_created(self, content: InteractiveContent) -> str | None:
        key = content.key
        async with self.database.transaction() as uow:
            stored = await uow.whatsapp_contents.sid(key)
        if stored is not None:
            return stored
        try:
            created = await self.creator.create_content(content)
        except ContentError as error:
            if key not in self._failed_until:  # once per content, not once per message
                log.warning("WhatsApp content %s could not be created: %s", key[:12], error)
            self._failed_until[key] = self.monotonic() + RETRY_AFTER_FAILURE
            return None
        self._failed_until.pop(key, None)
        async with self.database.transaction() as uow:
            return await uow.whatsapp_contents.keep(
                key, created, content.kind, content.language, self.clock()
            )


def tap_content(
    catalogs: Catalogs, step_id: str | None, choices: Sequence[OutgoingChoice], locale: str
) -> InteractiveContent | None:
    """The content for a question's choices in `locale` (its list button in that language),
    or None when they do not fit WhatsApp's interactive messages."""
    button = catalogs.gettext(locale, messages.CHOOSE_FROM_LIST)
    return interactive_content(step_id, choices, locale, button)


def shipped_questions(
    library: CheckinLibrary, catalogs: Catalogs
) -> Iterator[tuple[str, str, tuple[OutgoingChoice, ...], str]]:
    """(check-in id, step id, choices as labelled in the language, language) for every
    tap-to-answer question of every check-in in every shipped language: the contents a
    deployment needs."""
    for checkin in library.checkins.values():
        for step in checkin.steps:
            if not answered_by_one_tap(step):
                continue
            for language in catalogs.codes:
                choices = tuple(
                    OutgoingChoice(choice.id, catalogs.gettext(language, choice.label))
                    for choice in step_choices(step, catalogs)
                )
                yield checkin.id, step.id, choices, language
