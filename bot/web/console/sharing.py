"""How a group's join code is shared: links that open a chat with the bot with the code
already in it, each as a QR code to print or show on a phone.

- Telegram: `https://t.me/<bot username>?start=join-CODE` (the deep link joins the group at
  once); the username is the bot's own, from `getMe`.
- WhatsApp: `https://wa.me/<number>?text=CODE`, the number being `TWILIO_WHATSAPP_FROM`; a new
  member's first message that is a join code joins the group.

A channel that is not configured gets no link, and the page says why. QR codes are SVG drawn on
the server by `segno` (no script, nothing fetched), dark on white so that they scan on any
screen or paper.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

import segno
from markupsafe import Markup

from conversations.i18n import N_

log = logging.getLogger(__name__)

GET_ME_SECONDS: Final = 5.0
QR_SCALE: Final = 5

NOT_CONFIGURED_TELEGRAM = N_(
    "No Telegram link: Telegram is not configured here (TELEGRAM_BOT_TOKEN is not set)."
)
NO_USERNAME_TELEGRAM = N_(
    "No Telegram link: Telegram did not tell the bot's username (getMe failed). Open this page "
    "again in a moment."
)
NOT_CONFIGURED_WHATSAPP = N_(
    "No WhatsApp link: WhatsApp is not configured here (TWILIO_WHATSAPP_FROM and the Twilio "
    "account are not set)."
)


@dataclass(frozen=True, slots=True)
class JoinLink:
    """One channel's way to join: a link and its QR code, or why there is none (`missing`,
    a message id)."""

    channel: str
    url: str | None = None
    missing: str | None = None

    @property
    def qr_svg(self) -> Markup:
        assert self.url is not None
        return qr_svg(self.url)


def qr_svg(text: str) -> Markup:
    """`text` as a QR code, an inline SVG element (safe to put in a page: segno writes only
    its own elements and the path's coordinates)."""
    code = segno.make(text, error="m")
    return Markup(code.svg_inline(scale=QR_SCALE, dark="#000", light="#fff", title=None))


class JoinLinks:
    """The join links of a code on the channels this deployment has."""

    def __init__(
        self,
        telegram_username: Callable[[], Awaitable[str]] | None,
        whatsapp_from: str | None,
    ) -> None:
        self._telegram_username = telegram_username
        self._whatsapp_number = _digits(whatsapp_from) if whatsapp_from else None

    async def of(self, join_code: str) -> list[JoinLink]:
        return [await self._telegram(join_code), self._whatsapp(join_code)]

    async def _telegram(self, join_code: str) -> JoinLink:
        if self._telegram_username is None:
            return JoinLink("telegram", missing=NOT_CONFIGURED_TELEGRAM)
        try:
            username = await asyncio.wait_for(self._telegram_username(), GET_ME_SECONDS)
        except Exception as error:  # any failure of the Bot API only costs the link
            log.warning("getMe failed, no Telegram join link: %s", type(error).__name__)
            return JoinLink("telegram", missing=NO_USERNAME_TELEGRAM)
        if not username:
            return JoinLink("telegram", missing=NO_USERNAME_TELEGRAM)
        return JoinLink(
            "telegram", url=f"https://t.me/{quote(username)}?start=join-{quote(join_code)}"
        )

    def _whatsapp(self, join_code: str) -> JoinLink:
        if not self._whatsapp_number:
            return JoinLink("whatsapp", missing=NOT_CONFIGURED_WHATSAPP)
        return JoinLink(
            "whatsapp", url=f"https://wa.me/{self._whatsapp_number}?text={quote(join_code)}"
        )


def _digits(sender: str) -> str:
    """`whatsapp:+14155238886` or `+14155238886` as wa.me wants it: 14155238886."""
    return "".join(character for character in sender if character.isdigit())
