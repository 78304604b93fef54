"""Finding the amounts in a reply: numbers, their multiplier words and "nothing" words.

Private to the package; `numbers` and `money` build their contracts on `scan_amounts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Context, Decimal
from functools import lru_cache

from babel.core import UnknownLocaleError
from babel.numbers import get_decimal_symbol

from conversations.words import AnswerWords

MAX_DIGITS = 64
"""A number written with more digits than this is not read at all."""

CONTEXT = Context(prec=MAX_DIGITS * 3)
"""Exact for every amount a reply can hold (digits plus a million multiplier)."""

_AMBIGUOUS_LANGUAGES = frozenset({"es"})
"""Languages written both ways: es-MX has 1,500.50 and es-CO 1.500,50."""

_SEPARATOR = re.compile(r"[., ]")
_THOUSAND = 3
_MILLION = 6


@dataclass(frozen=True, slots=True)
class Amount:
    """One amount read from a reply, and where it was written (`start`/`end` in the text)."""

    value: Decimal
    start: int
    end: int
    alternative: Decimal | None = None
    """The other reading of a number a member may have meant either way: "2.000" in English is
    2 by the book, but a member copying "2.000" from a receipt meant 2,000."""


@dataclass(frozen=True, slots=True)
class _Convention:
    decimal: str
    ambiguous: bool
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int
    sign: str = ""


@lru_cache(maxsize=64)
def _convention(locale: str) -> _Convention:
    locale = locale.replace("-", "_")
    try:
        decimal = get_decimal_symbol(locale)
    except (UnknownLocaleError, ValueError, TypeError):
        decimal = "."
    # a space groups thousands in every language ("ksh 2 000"), not only where it is the
    # locale's own group sign: members copy amounts from receipts and phones that write them so
    joiner = r"[.,]| (?=[0-9]{3}(?![0-9]))"
    pattern = re.compile(
        rf"(?P<sign>(?<![\w.,])[-\u2212](?=[.,]?[0-9]))?"
        rf"(?P<num>[0-9]+(?:(?:{joiner})[0-9]+)*|(?<![\w.,])[.,][0-9]+)"
        r"|(?P<word>[^\W\d_]+(?:'[^\W\d_]+)*)"
    )
    return _Convention(
        decimal=decimal if decimal in ".," else ".",
        ambiguous=locale.split("_", 1)[0].lower() in _AMBIGUOUS_LANGUAGES,
        pattern=pattern,
    )


def tidy(value: Decimal) -> Decimal:
    """The same value without exponent or trailing fractional zeros: 2000, 1500.5, 0."""
    if not value:
        return Decimal(0)
    if value == value.to_integral_value():
        return value.quantize(Decimal(1), context=CONTEXT)
    return value.normalize(CONTEXT)


def _is_group_head(run: str) -> bool:
    return 1 <= len(run) <= 3 and not run.startswith("0")


def _grouped(runs: list[str]) -> str | None:
    if not _is_group_head(runs[0]) or any(len(run) != 3 for run in runs[1:]):
        return None
    return "".join(runs)


def _read(body: str, convention: _Convention) -> Decimal | None:
    """The value of one written number (digits and separators only), None if malformed."""
    runs = _SEPARATOR.split(body)
    seps = [ch for ch in body if ch in "., "]
    if not seps:
        return Decimal(body)
    if not runs[0]:
        return Decimal("0." + runs[1]) if len(runs) == 2 else None
    last = seps[-1]
    kinds = set(seps)
    if last == " " or (len(kinds) == 1 and len(seps) > 1):
        whole = _grouped(runs) if len(kinds) == 1 else None
        return None if whole is None else Decimal(whole)
    if len(kinds) > 1:
        if seps.count(last) > 1 or len(kinds) > 2:
            return None
        whole = _grouped(runs[:-1])
        return None if whole is None else Decimal(f"{whole}.{runs[-1]}")
    head, tail = runs
    if len(tail) == 3 and _is_group_head(head):
        if convention.ambiguous or last != convention.decimal:
            return Decimal(head + tail)
    return Decimal(f"{head}.{tail}")


def _grouped_reading(body: str, convention: _Convention) -> Decimal | None:
    """The thousands reading of a number written with one decimal sign and exactly three
    digits after it ("2.000", "1,500" in French), where the book reads a fraction."""
    seps = [ch for ch in body if ch in ".,"]
    if convention.ambiguous or len(seps) != 1 or seps[0] != convention.decimal or " " in body:
        return None
    head, tail = body.split(seps[0])
    if len(tail) != 3 or not _is_group_head(head):
        return None
    return Decimal(head + tail)


def _tokens(folded: str, convention: _Convention) -> list[_Token] | None:
    found: list[_Token] = []
    for match in convention.pattern.finditer(folded):
        number = match.group("num")
        if number is None:
            found.append(_Token("word", match.group("word").casefold(), *match.span()))
            continue
        if sum(ch.isdigit() for ch in number) > MAX_DIGITS:
            return None
        found.append(_Token("num", number, *match.span(), sign=match.group("sign") or ""))
    return found


def _multiplier(token: _Token, words: AnswerWords) -> int | None:
    if token.kind != "word":
        return None
    if token.text in words.million:
        return _MILLION
    if token.text in words.thousand:
        return _THOUSAND
    return None


def _close(folded: str, first: _Token, second: _Token) -> bool:
    return not folded[first.end : second.start].strip()


def scan_amounts(folded: str, words: AnswerWords) -> list[Amount] | None:
    """Every amount in a folded reply, in order; None when a number in it is malformed.

    A multiplier word right after a number ("2 mil", "1.5k") or, if it is longer than a letter,
    right before it ("elfu 2") scales it. Words in `words.nothing` are amounts of zero.
    """
    convention = _convention(words.locale)
    found = _tokens(folded, convention)
    if found is None:
        return None
    amounts: list[Amount] = []
    used: set[int] = set()
    for index, token in enumerate(found):
        if token.kind != "num":
            continue
        value = _read(token.text, convention)
        if value is None:
            return None
        alternative = _grouped_reading(token.text, convention)
        if token.sign:
            value = -value
            alternative = -alternative if alternative is not None else None
        start, end = token.start, token.end
        after = found[index + 1] if index + 1 < len(found) else None
        before = found[index - 1] if index > 0 else None
        scale = None
        if after is not None and _close(folded, token, after):
            scale = _multiplier(after, words)
            if scale is not None:
                used.add(index + 1)
                end = after.end
        if scale is None and before is not None and index - 1 not in used:
            if len(before.text) > 1 and _close(folded, before, token):
                scale = _multiplier(before, words)
                if scale is not None:
                    used.add(index - 1)
                    start = before.start
        if scale is not None:
            value = value.scaleb(scale, CONTEXT)
            alternative = alternative.scaleb(scale, CONTEXT) if alternative is not None else None
        if alternative is not None and tidy(alternative) == tidy(value):
            alternative = None
        amounts.append(
            Amount(tidy(value), start, end, tidy(alternative) if alternative is not None else None)
        )
    amounts.extend(_nothing(found, used, words))
    amounts.sort(key=lambda amount: amount.start)
    return amounts


def _nothing(found: list[_Token], used: set[int], words: AnswerWords) -> list[Amount]:
    zeros: list[Amount] = []
    for index, token in enumerate(found):
        if token.kind != "word" or index in used:
            continue
        run = [token]
        for follower in found[index + 1 : index + 3]:
            if follower.kind != "word":
                break
            run.append(follower)
        for size in range(len(run), 0, -1):
            if " ".join(part.text for part in run[:size]) in words.nothing:
                zeros.append(Amount(Decimal(0), token.start, run[size - 1].end))
                break
    return zeros
