"""How a figure is computed, as a text that can be read in any shipped language.

A report is plain data that needs no locale: each figure carries a `Method`, an English message
id (marked with `N_`, so it is in the catalogs) and the values of its placeholders. Rendered
without a translation it is the English text, the same words the report has always printed;
rendered with a catalog's `gettext` it is that language's text, with the same numbers.

Placeholders are Python's named ones (`%(days)s`), as in the console's other messages; a value
is a number or another `Method` (a sentence several methods share, like how weeks run), which
is rendered in the same language before it is put in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


def _same(message: str) -> str:
    return message


@dataclass(frozen=True, slots=True)
class Method:
    """A message id and its placeholders' values, in the order they were given."""

    message: str
    params: tuple[tuple[str, int | Method], ...] = ()

    @classmethod
    def of(cls, message: str, **params: int | Method) -> Method:
        return cls(message, tuple(params.items()))

    def render(self, gettext: Callable[[str], str] = _same) -> str:
        """The text in the language `gettext` translates to (by default, the English).

        A translation whose placeholders do not fit its values (which `mutuality i18n check`
        reports before it ships) gives the whole English text rather than an error: a page or
        file is never lost to one translated sentence."""
        text = gettext(self.message)
        if not self.params:
            return text
        values = {
            name: value.render(gettext) if isinstance(value, Method) else str(value)
            for name, value in self.params
        }
        try:
            return text % values
        except (KeyError, ValueError, TypeError):
            if gettext is _same:
                raise
            return self.render()

    def __str__(self) -> str:
        return self.render()
