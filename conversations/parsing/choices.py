"""Picking from a numbered menu of options: by number, id, label or something close to it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from conversations.parsing._text import folded_key
from conversations.words import normalize

FUZZY_RATIO = 0.8
_MIN_PREFIX = 3
_MAX_MENU_NUMBER_DIGITS = 4
_LIST_SEPARATORS = re.compile(r"[,;/&+\n]+")
_AND_WORDS = frozenset({"and", "y", "e", "et", "na", "at", "plus"})


def match_choice(text: str, options: Sequence[tuple[str, str]]) -> str | None:
    """The id of the option a reply picks, or None.

    `options` are (choice id, label as shown) pairs, shown numbered from 1. A reply picks an
    option by its number ("2", "2)", "#2", in any script's digits), its label or id (ignoring
    case and accents), a prefix of at least three letters of a single label, or a label it
    resembles (difflib ratio at least 0.8) more than any other.
    """
    key = folded_key(text)
    return _match(key, options, loose=True) if key else None


def match_choices(text: str, options: Sequence[tuple[str, str]]) -> tuple[str, ...] | None:
    """The ids of the options a reply picks, in option order without repeats, or None.

    Picks are separated by commas, spaces or and-words ("1,3", "1 3", "1 and 3", "1 y 3",
    "eggs, milk"); each is read as `match_choice` reads a reply. None when any part picks
    nothing, or nothing is given.
    """
    key = folded_key(text)
    if not key:
        return None
    whole = _match(key, options, loose=False)
    if whole is not None:
        return (whole,)
    chosen: set[str] = set()
    for part in _LIST_SEPARATORS.split(key):
        if not part.strip():
            continue
        picked = _pick_part(part.strip(), options)
        if picked is None:
            whole = _match(key, options, loose=True)
            return None if whole is None else (whole,)
        chosen.update(picked)
    if not chosen:
        return None
    return tuple(dict.fromkeys(choice_id for choice_id, _ in options if choice_id in chosen))


def _pick_part(part: str, options: Sequence[tuple[str, str]]) -> list[str] | None:
    """The options one comma-separated part picks: exactly one option, else and-separated or
    space-separated picks, else one option read loosely."""
    whole = _match(part, options, loose=False)
    if whole is not None:
        return [whole]
    split = _split_part(part, options)
    if split is not None:
        return split
    loose = _match(part, options, loose=True)
    return None if loose is None else [loose]


def _split_part(part: str, options: Sequence[tuple[str, str]]) -> list[str] | None:
    pieces: list[list[str]] = [[]]
    for word in part.split():
        if word in _AND_WORDS:
            pieces.append([])
        else:
            pieces[-1].append(word)
    picked: list[str] = []
    for piece in pieces:
        if not piece:
            continue
        one = match_choice(" ".join(piece), options)
        if one is not None:
            picked.append(one)
            continue
        for word in piece:
            single = match_choice(word, options)
            if single is None:
                return None
            picked.append(single)
    return picked or None


def _match(key: str, options: Sequence[tuple[str, str]], *, loose: bool) -> str | None:
    """`match_choice` on a folded reply; without `loose`, by number, label or id only."""
    key = key.lstrip("#").strip()
    if key.isdigit() and len(key) <= _MAX_MENU_NUMBER_DIGITS:
        number = int(key)
        if 1 <= number <= len(options):
            return options[number - 1][0]
    labels = [(choice_id, normalize(label)) for choice_id, label in options]
    for choice_id, label in labels:
        if key == label:
            return choice_id
    for choice_id, _ in labels:
        if key == normalize(choice_id):
            return choice_id
    if not loose:
        return None
    if len(key) >= _MIN_PREFIX:
        starting = [choice_id for choice_id, label in labels if label.startswith(key)]
        if len(starting) == 1:
            return starting[0]
    return _closest(key, labels)


def _closest(key: str, labels: Sequence[tuple[str, str]]) -> str | None:
    best: list[str] = []
    best_ratio = FUZZY_RATIO
    for choice_id, label in labels:
        matcher = SequenceMatcher(None, key, label)
        if matcher.real_quick_ratio() < best_ratio or matcher.quick_ratio() < best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best, best_ratio = [choice_id], ratio
        elif ratio == best_ratio:
            best.append(choice_id)
    return best[0] if len(best) == 1 else None
