"""The currency a member says they use."""

from __future__ import annotations

from conversations.parsing._currencies import find_markers, known_codes, resolve, whole_marker
from conversations.parsing._text import fold
from conversations.parsing.yes_no import parse_yes_no
from conversations.words import AnswerWords, normalize


def parse_currency(text: str, words: AnswerWords, default_currency: str) -> str | None:
    """The ISO 4217 code (one Babel knows) a reply names, or None.

    A reply names a currency by ISO code ("usd", "KES"), symbol ("$", "₱", "KSh", "L$") or word
    ("shillings", "euros", "naira", "Kenyan shillings"); family words and symbols are read as in
    `parse_money` ("pesos" is the default if it is a peso, else MXN). A yes-word, "ok" or "1"
    (the first menu entry) accepts `default_currency`. None for anything else, and for
    markers that disagree.
    """
    default = default_currency.strip().upper()
    folded = fold(text)
    if folded is None:
        return None
    key = normalize(folded)
    if not key:
        return None
    whole = whole_marker(key, default)
    if whole is not None:
        return _known(resolve([whole], default))
    found = find_markers(
        folded, default, words.thousand | words.million, lambda token, _s, _e: token.isupper()
    )
    if found:
        return _known(resolve([item.marker for item in found], default))
    if parse_yes_no(text, words) is True:
        return _known(default)
    return None


def _known(code: str | None) -> str | None:
    return code if code in known_codes() else None
