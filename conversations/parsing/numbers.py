"""Numbers as members type them, in their language's way of writing them."""

from __future__ import annotations

from decimal import Decimal

from conversations.parsing._amounts import scan_amounts
from conversations.parsing._number_words import spell_out
from conversations.parsing._text import fold
from conversations.words import AnswerWords


def parse_number(text: str, words: AnswerWords) -> Decimal | None:
    """The one number a reply gives, or None when it gives none, several, or a malformed one.

    Separators follow `words.locale` (Babel's symbols): "1,500.50" in English, "1.500,50" and
    "1 500,50" in French; a lone separator followed by exactly three digits groups thousands
    unless it is the locale's decimal sign (Spanish, written both ways, always groups then).
    Multiplier words (`words.thousand`, `words.million`) scale the number ("1.5k", "2 mil",
    "elfu 2"); `words.nothing` means 0. The same number repeated counts once; surrounding words
    are ignored. Negative numbers stay negative; ranges are the caller's to check. Numbers of
    more than 64 digits are not read. The result has no exponent or trailing fractional zeros.
    """
    folded = fold(text)
    if folded is None:
        return None
    folded = spell_out(folded, words.locale)
    amounts = scan_amounts(folded, words)
    if not amounts:
        return None
    values = {amount.value for amount in amounts}
    return values.pop() if len(values) == 1 else None


def ambiguous_number(text: str, words: AnswerWords) -> tuple[Decimal, Decimal] | None:
    """(the book's reading, the thousands reading) of a reply whose one number a member may
    have meant either way ("2.000" in English: 2 or 2,000?); None when it is clear. The caller
    asks back rather than storing a number the member did not mean."""
    folded = fold(text)
    if folded is None:
        return None
    amounts = scan_amounts(spell_out(folded, words.locale), words)
    if not amounts or len({amount.value for amount in amounts}) != 1:
        return None
    alternatives = {amount.alternative for amount in amounts}
    if len(alternatives) != 1 or None in alternatives:
        return None
    alternative = alternatives.pop()
    assert alternative is not None
    return amounts[0].value, alternative


def parse_integer(text: str, words: AnswerWords) -> int | None:
    """`parse_number` for whole numbers: None when the number has a fractional part."""
    value = parse_number(text, words)
    if value is None or value != value.to_integral_value():
        return None
    return int(value)
