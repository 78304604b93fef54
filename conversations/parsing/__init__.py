"""Locale-aware answer parsing: what a member's reply means, or None when it is not understood.

Every function is pure, cheap (tables are built once, on first use) and never raises on any
text: a reply that cannot be read is None (or an empty `MemberMatch`), and the caller re-asks.
"""

from conversations.parsing.choices import match_choice, match_choices
from conversations.parsing.currency import parse_currency
from conversations.parsing.dates import parse_date
from conversations.parsing.digits import normalize_digits
from conversations.parsing.durations import parse_duration
from conversations.parsing.join_codes import find_join_code
from conversations.parsing.members import MemberMatch, match_member, pick_candidate
from conversations.parsing.money import parse_money
from conversations.parsing.numbers import ambiguous_number, parse_integer, parse_number
from conversations.parsing.yes_no import parse_yes_no

__all__ = [
    "MemberMatch",
    "ambiguous_number",
    "find_join_code",
    "match_choice",
    "match_choices",
    "match_member",
    "normalize_digits",
    "parse_currency",
    "parse_date",
    "parse_duration",
    "parse_integer",
    "parse_money",
    "parse_number",
    "parse_yes_no",
    "pick_candidate",
]
