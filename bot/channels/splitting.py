"""Cut what the bot says into messages each channel accepts, before they enter the outbox.

Every part becomes its own outbox row with its own delivery status, so the message log shows
exactly what each member received. Telegram takes 4,096 characters a message; WhatsApp through
Twilio 1,600; SMS is cut at 10 segments (1,530 GSM-7 or 670 UCS-2 characters), because longer
SMS are expensive and often arrive garbled. Channels without buttons get choices as a numbered
list in the text itself; Telegram gets them as buttons on the last part.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.sms_segments import split_for_sms
from conversations.rendering import RenderedChoice, RenderedMessage
from storage.vocabulary import Channel

MAX_CHARACTERS: dict[str, int] = {"telegram": 4096, "whatsapp": 1600}
BUTTON_CHANNELS = frozenset({"telegram", "console"})


@dataclass(frozen=True, slots=True)
class Part:
    text: str
    choices: tuple[RenderedChoice, ...] = ()


def split_plain(text: str, limit: int) -> list[str]:
    """Split at paragraph, then line, then word boundaries (a word longer than the limit is
    cut) so that every part has at most `limit` characters."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for separator in ("\n\n", "\n", " "):
        if separator in text:
            for piece in text.split(separator):
                candidate = piece if not current else current + separator + piece
                if len(candidate) <= limit:
                    current = candidate
                    continue
                if current:
                    parts.append(current)
                if len(piece) <= limit:
                    current = piece
                else:
                    chunks = split_plain(piece, limit)
                    parts.extend(chunks[:-1])
                    current = chunks[-1]
            if current:
                parts.append(current)
            return parts
    return [text[i : i + limit] for i in range(0, len(text), limit)]


def outbound_parts(channel: Channel, message: RenderedMessage) -> list[Part]:
    if channel in BUTTON_CHANNELS:
        limit = MAX_CHARACTERS.get(channel)
        texts = split_plain(message.text, limit) if limit else [message.text]
        return [*(Part(text) for text in texts[:-1]), Part(texts[-1], message.choices)]
    full = message.with_numbered_choices()
    texts = split_for_sms(full) if channel == "sms" else split_plain(full, MAX_CHARACTERS[channel])
    return [*(Part(text) for text in texts[:-1]), Part(texts[-1], message.choices)]
