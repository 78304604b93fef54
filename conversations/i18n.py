"""The translation seam of the pure core.

The core never reads catalogs itself: whoever calls it passes a `Catalogs` object (built from
`locales/` by `bot.i18n.catalogs`, or a plain dict-backed one in tests). Source strings are
English and are also the message ids; `N_` and `NP_` only mark them for extraction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

SOURCE_LOCALE = "en"


def N_(message: str) -> str:
    """Mark a source string for extraction; returns it unchanged."""
    return message


def NP_(context: str, message: str) -> tuple[str, str]:
    """Mark a source string with a message context (`msgctxt`) for extraction."""
    return (context, message)


class Translator(Protocol):
    def gettext(self, message: str) -> str: ...

    def pgettext(self, context: str, message: str) -> str: ...


class _Identity:
    def gettext(self, message: str) -> str:
        return message

    def pgettext(self, context: str, message: str) -> str:
        return message


IDENTITY: Translator = _Identity()


@dataclass(frozen=True)
class Language:
    code: str
    native_name: str


@dataclass(frozen=True)
class Catalogs:
    """Every shipped language: its translator and the name it calls itself by."""

    translators: Mapping[str, Translator] = field(default_factory=lambda: {SOURCE_LOCALE: IDENTITY})
    languages: tuple[Language, ...] = (Language(SOURCE_LOCALE, "English"),)

    def translator(self, locale: str) -> Translator:
        return self.translators.get(locale, IDENTITY)

    def gettext(self, locale: str, message: str) -> str:
        return self.translator(locale).gettext(message)

    def pgettext(self, locale: str, context: str, message: str) -> str:
        return self.translator(locale).pgettext(context, message)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(language.code for language in self.languages)
