"""Naming another member of the group, and answering "which one did you mean?"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from conversations.answers import MemberRef
from conversations.parsing._text import folded_key
from conversations.words import normalize

FUZZY_RATIO = 0.75
_NAME_SEPARATORS = re.compile(r"[\s\-.]+")
_MAX_MENU_NUMBER_DIGITS = 4


@dataclass(frozen=True, slots=True)
class MemberMatch:
    """Who a reply names: `found` when it is one member, `ambiguous` (all the candidates it may
    mean, in the order given) when it is several, both empty when it is nobody."""

    found: MemberRef | None
    ambiguous: tuple[MemberRef, ...]


_NOBODY = MemberMatch(None, ())


def match_member(text: str, candidates: Sequence[MemberRef]) -> MemberMatch:
    """The member among `candidates` a reply names, ignoring case, accents and a leading "@".

    In order: the exact full name; the members having every word of the reply among the words
    of their name ("Grace", "grace w" with initials); else the closest full name or name word
    (difflib ratio at least 0.75, "Grase" for Grace). One member found is `found`; several
    equally good are `ambiguous`.
    """
    key = folded_key(text)
    if not key:
        return _NOBODY
    key = key.lstrip("@").strip()
    if not key:
        return _NOBODY
    names = [(candidate, normalize(candidate.name)) for candidate in candidates]
    exact = [candidate for candidate, name in names if name == key]
    if exact:
        return _outcome(exact)
    asked = _words(key)
    by_words = [candidate for candidate, name in names if _has_words(_words(name), asked)]
    if by_words:
        return _outcome(by_words)
    return _outcome(_closest(key, names))


def pick_candidate(text: str, candidates: Sequence[MemberRef]) -> MemberRef | None:
    """The member a reply picks from a numbered list of `candidates` (from 1), by number or by
    name as `match_member` reads it; None unless exactly one."""
    key = folded_key(text)
    if key is None:
        return None
    key = key.lstrip("#").strip()
    if key.isdigit() and len(key) <= _MAX_MENU_NUMBER_DIGITS:
        number = int(key)
        return candidates[number - 1] if 1 <= number <= len(candidates) else None
    return match_member(text, candidates).found


def _outcome(members: list[MemberRef]) -> MemberMatch:
    unique = tuple(dict.fromkeys(members))
    if not unique:
        return _NOBODY
    if len(unique) == 1:
        return MemberMatch(unique[0], ())
    return MemberMatch(None, unique)


def _words(name: str) -> list[str]:
    return [word for word in _NAME_SEPARATORS.split(name) if word]


def _has_words(name_words: list[str], asked: list[str]) -> bool:
    """Every asked word is a distinct word of the name; with several asked words, a single
    letter may stand for a word's initial."""
    if not asked:
        return False
    left = list(name_words)
    for word in asked:
        match = next((w for w in left if w == word), None)
        if match is None and len(word) == 1 and len(asked) > 1:
            match = next((w for w in left if w.startswith(word)), None)
        if match is None:
            return False
        left.remove(match)
    return True


def _closest(key: str, names: Sequence[tuple[MemberRef, str]]) -> list[MemberRef]:
    best: list[MemberRef] = []
    best_ratio = FUZZY_RATIO
    for candidate, name in names:
        ratio = max(_ratio(key, option) for option in (name, *_words(name)))
        if ratio > best_ratio:
            best, best_ratio = [candidate], ratio
        elif ratio == best_ratio:
            best.append(candidate)
    return best


def _ratio(key: str, name: str) -> float:
    matcher = SequenceMatcher(None, key, name)
    if matcher.real_quick_ratio() < FUZZY_RATIO or matcher.quick_ratio() < FUZZY_RATIO:
        return 0.0
    return matcher.ratio()
