"""Amounts of money: a number and, optionally, the currency it is in."""

from __future__ import annotations

from conversations.answers import Money
from conversations.parsing._amounts import Amount, scan_amounts
from conversations.parsing._currencies import find_markers, resolve
from conversations.parsing._number_words import spell_out
from conversations.parsing._text import fold
from conversations.words import AnswerWords


def parse_money(text: str, words: AnswerWords, default_currency: str) -> Money | None:
    """The amount a reply gives, in the currency it names or else `default_currency`.

    The amount is read as `parse_number` reads it. The currency may be written before or after
    it as an ISO code ("KES 2,000", "2000 ugx"), a symbol ("$20", "₱500", "KSh2000", "L$ 300")
    or a word ("shillings", "pesos", "dollars"). A family word or symbol means the default when
    the default belongs to the family ("pesos" with PHP is PHP) and the family's usual currency
    otherwise ("pesos" with USD is MXN; "bob" KES; "$" USD); "francs" outside a franc default
    has no safe guess. ISO codes other than the default and the usual ones of the programme's
    regions count only in capitals next to the amount ("500 ALL", not "sold 500 to all").
    None when the amount is not understood or the markers disagree.
    """
    default = default_currency.strip().upper()
    folded = fold(text)
    if folded is None:
        return None
    folded = spell_out(folded, words.locale)
    amounts = scan_amounts(folded, words)
    if not amounts:
        return None
    values = {amount.value for amount in amounts}
    if len(values) != 1:
        return None

    def next_to_amount(token: str, start: int, end: int) -> bool:
        return token.isupper() and any(_adjacent(folded, start, end, a) for a in amounts)

    found = find_markers(folded, default, words.thousand | words.million, next_to_amount)
    if not found:
        return Money(values.pop(), default)
    currency = resolve([item.marker for item in found], default)
    return None if currency is None else Money(values.pop(), currency)


def _adjacent(text: str, start: int, end: int, amount: Amount) -> bool:
    if end <= amount.start:
        return not text[end : amount.start].strip()
    return amount.end <= start and not text[amount.end : start].strip()
