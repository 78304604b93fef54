"""The staff member's language: the one they chose in the console, else the first of their
browser's languages that the catalogs ship, else English."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError

from conversations.i18n import SOURCE_LOCALE


def from_accept_language(header: str, codes: tuple[str, ...]) -> str:
    """The best shipped language for an `Accept-Language` header (`es-MX,es;q=0.9,en;q=0.5`)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            ranked.append((-quality, position, tag.strip().replace("_", "-").lower()))
    for _, _, tag in sorted(ranked):
        if tag in codes:
            return tag
        base = tag.split("-", 1)[0]
        if base in codes:
            return base
    return SOURCE_LOCALE


def choose(chosen: str | None, accept_language: str, codes: tuple[str, ...]) -> str:
    if chosen and chosen in codes:
        return chosen
    return from_accept_language(accept_language, codes)


def babel_locale(code: str) -> Locale:
    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE_LOCALE)
