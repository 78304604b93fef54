"""Yes or no, in the member's words."""

from __future__ import annotations

import re

from conversations.parsing._text import folded_key, phrases, tokens
from conversations.words import AnswerWords

_MENU = {"1": True, "2": False}
_STRETCHED = re.compile(r"(.)\1{2,}")


def parse_yes_no(text: str, words: AnswerWords) -> bool | None:
    """True for yes, False for no, None when the reply is neither or both.

    A reply is yes (no) when, after `conversations.words.normalize`, it is a word of `words.yes`
    (`words.no`), or "1" ("2") as numbered in menus, or when it starts with such a word and no
    word of the other kind follows: "yes please", "sí, claro!", "oo po". Letters stretched for
    emphasis ("siii", "nooo") count as the word.
    """
    key = folded_key(text)
    if not key:
        return None
    if key in _MENU:
        return _MENU[key]
    whole = _kind(key, words)
    if whole is not None:
        return whole
    found = tokens(key)
    for size, phrase in phrases(found, 0):
        kind = _kind(phrase, words) if size > 1 else _stretched_kind(phrase, words)
        if kind is not None:
            other = words.no if kind else words.yes
            return None if _mentions(found[size:], other) else kind
    return None


def _kind(phrase: str, words: AnswerWords) -> bool | None:
    is_yes, is_no = phrase in words.yes, phrase in words.no
    return None if is_yes == is_no else is_yes


def _stretched_kind(word: str, words: AnswerWords) -> bool | None:
    kind = _kind(word, words)
    if kind is not None or not _STRETCHED.search(word):
        return kind
    for replacement in (r"\1", r"\1\1"):
        kind = _kind(_STRETCHED.sub(replacement, word), words)
        if kind is not None:
            return kind
    return None


def _mentions(found: list[str], other: frozenset[str]) -> bool:
    for start in range(len(found)):
        for _, phrase in phrases(found, start):
            if phrase in other and not (len(phrase) == 1 and phrase.isascii() and phrase.isalpha()):
                return True
    return False
