"""Digits from any script, made ASCII so the other parsers only ever see 0-9."""

from __future__ import annotations

import unicodedata


def normalize_digits(text: str) -> str:
    """Replace every Unicode decimal digit (Arabic-Indic, Devanagari, fullwidth...) by 0-9.

    Every other character, including non-decimal numerals such as "²" or "½", is left as is.
    """
    if text.isascii():
        return text
    return "".join(_ascii_digit(ch) for ch in text)


def _ascii_digit(ch: str) -> str:
    if ch.isascii() or not ch.isdecimal():
        return ch
    return str(unicodedata.decimal(ch, ch))
