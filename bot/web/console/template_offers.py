"""The approved WhatsApp templates offered to a coordinator when WhatsApp refuses a free-form
reply (the member last wrote more than 24 hours ago): those of the templates file's `console`
entry in the member's language, each shown with its text and its variables filled ({{1}} the
member's name, {{2}} the coordinator's), as the member would read it.

A template's text is Twilio's: read from its Content API once per sid and kept (an approved
template's text never changes; a new text is a new sid). A template whose text cannot be read
now is offered as unavailable, with the reason, and cannot be sent from here until it can.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.channels.templates import Templates
from bot.channels.whatsapp_content import ContentError

log = logging.getLogger(__name__)

BodyReader = Callable[[str], Awaitable[str]]
"""Reads an approved content's body by its sid (`TwilioChannel.content_body`)."""

_VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")


@dataclass(frozen=True, slots=True)
class TemplateOffer:
    name: str
    sid: str
    variables: dict[str, str]
    text: str
    """What the member reads: the body with its variables filled ("" when unavailable)."""
    available: bool = True


def filled(body: str, variables: dict[str, str]) -> str:
    """`body` with each `{{n}}` replaced by variable n (left as it is when there is none)."""
    return _VARIABLE.sub(lambda found: variables.get(found.group(1), found.group(0)), body)


class TemplateOffers:
    def __init__(self, templates: Templates, read_body: BodyReader | None) -> None:
        self._templates = templates
        self._read_body = read_body
        self._bodies: dict[str, str] = {}

    async def for_member(
        self, locale: str, member_name: str | None, coordinator_name: str
    ) -> list[TemplateOffer]:
        """The console templates in the member's language, by name."""
        variables = {"1": member_name or "", "2": coordinator_name}
        offers = []
        for name, sid in self._templates.for_console(locale).items():
            body = await self._body(sid)
            offers.append(
                TemplateOffer(
                    name,
                    sid,
                    variables,
                    filled(body, variables) if body is not None else "",
                    available=body is not None,
                )
            )
        return offers

    async def one(
        self, name: str, locale: str, member_name: str | None, coordinator_name: str
    ) -> TemplateOffer | None:
        """The offer called `name` for this member, if it is offered and available."""
        for offer in await self.for_member(locale, member_name, coordinator_name):
            if offer.name == name and offer.available:
                return offer
        return None

    async def _body(self, sid: str) -> str | None:
        if sid in self._bodies:
            return self._bodies[sid]
        if self._read_body is None:
            return None
        try:
            body = await self._read_body(sid)
        except ContentError as error:
            log.warning("the text of template %s could not be read: %s", sid, error)
            return None
        self._bodies[sid] = body
        return body
