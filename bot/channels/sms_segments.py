"""SMS segments: how many a text takes, and splitting a long text into parts that fit.

Carriers bill and deliver SMS by the segment, so a long reply is split before it is queued
(`bot.channels.splitting`). Pure text arithmetic, apart from the Twilio channel so that what
splits a text needs no Twilio client loaded.
"""

from __future__ import annotations

from typing import Final

# GSM 03.38: the basic character set (without the escape) and the extension table, whose
# characters take two septets (escape + character).
_GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
_GSM_SINGLE, _GSM_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67


def _units(text: str) -> tuple[list[int], int, int]:
    """Per character: septets (GSM-7) or UTF-16 code units (UCS-2), and the segment sizes."""
    if all(char in _GSM_BASIC or char in _GSM_EXTENSION for char in text):
        return [2 if char in _GSM_EXTENSION else 1 for char in text], _GSM_SINGLE, _GSM_PART
    return [2 if ord(char) > 0xFFFF else 1 for char in text], _UCS2_SINGLE, _UCS2_PART


def sms_segments(text: str) -> int:
    """How many SMS segments `text` takes (0 for an empty text). GSM-7 when every character is
    in the GSM basic or extension table (extension characters take two septets): 160 in one
    segment, 153 per segment beyond. Otherwise UCS-2: 70 UTF-16 code units, 67 per segment.
    Like carriers, an escape pair or a surrogate pair is never cut across two segments."""
    units, single, part = _units(text)
    total = sum(units)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments, used = segments + 1, size
        else:
            used += size
    return segments


_SEPARATORS: Final = ("\n\n", "\n", " ")


def split_for_sms(text: str, max_segments: int = 10) -> list[str]:
    """`text` in as few parts as the boundaries allow, each within `max_segments` segments:
    split on paragraphs, then lines, then words, and only inside a word when one alone is too
    long (never inside a surrogate pair). Separators where parts meet are dropped, so the
    parts hold the original words in order."""
    if max_segments < 1:
        raise ValueError(f"max_segments must be at least 1: {max_segments!r}")
    if sms_segments(text) <= max_segments:
        return [text]
    parts = [part.strip() for part in _split(text, 0, max_segments)]
    return [part for part in parts if part]


def _split(text: str, level: int, max_segments: int) -> list[str]:
    if sms_segments(text) <= max_segments:
        return [text]
    if level == len(_SEPARATORS):
        return _split_inside_word(text, max_segments)
    separator = _SEPARATORS[level]
    parts: list[str] = []
    current: str | None = None
    for chunk in text.split(separator):
        if sms_segments(chunk) > max_segments:
            if current is not None:
                parts.append(current)
                current = None
            parts.extend(_split(chunk, level + 1, max_segments))
            continue
        candidate = chunk if current is None else current + separator + chunk
        if sms_segments(candidate) <= max_segments:
            current = candidate
        else:
            if current is not None:
                parts.append(current)
            current = chunk
    if current is not None:
        parts.append(current)
    return parts


def _is_surrogate_pair(first: str, second: str) -> bool:
    return 0xD800 <= ord(first) <= 0xDBFF and 0xDC00 <= ord(second) <= 0xDFFF


def _split_inside_word(text: str, max_segments: int) -> list[str]:
    parts: list[str] = []
    while text:
        # The longest prefix that fits: segments only grow as a prefix grows.
        low, high = 1, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            if sms_segments(text[:middle]) <= max_segments:
                low = middle
            else:
                high = middle - 1
        cut = low
        # A str holds surrogate pairs only as two lone code points; keep them together.
        if 1 < cut < len(text) and _is_surrogate_pair(text[cut - 1], text[cut]):
            cut -= 1
        parts.append(text[:cut])
        text = text[cut:]
    return parts
