"""Matching words marked in a line of text, escaped for HTML."""

from __future__ import annotations

from markupsafe import Markup, escape


def highlight(text: str, words: str) -> Markup:
    """`text` escaped, with each case-insensitive occurrence of `words` in `<mark>`."""
    words = words.strip()
    if not words:
        return escape(text)
    folded, needle = text.lower(), words.lower()
    if len(folded) != len(text):  # a case change altered lengths: mark nothing, stay correct
        return escape(text)
    parts: list[str] = []
    start = 0
    while (found := folded.find(needle, start)) >= 0:
        parts.append(str(escape(text[start:found])))
        parts.append(f"<mark>{escape(text[found : found + len(needle)])}</mark>")
        start = found + len(needle)
    parts.append(str(escape(text[start:])))
    return Markup("".join(parts))
