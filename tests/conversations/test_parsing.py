"""Answer parsing across the five shipped languages: a table of replies and what they mean,
and a property that no text whatsoever makes a parser raise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.answers import MemberRef, Money
from conversations.parsing import (
    MemberMatch,
    find_join_code,
    match_choice,
    match_choices,
    match_member,
    normalize_digits,
    parse_currency,
    parse_date,
    parse_duration,
    parse_integer,
    parse_money,
    parse_number,
    parse_yes_no,
    pick_candidate,
)
from conversations.words import AnswerWords
from tests.conversations.answer_words_fixture import LOCALES, WORDS

WEDNESDAY = date(2024, 5, 8)
FRIDAY = date(2024, 5, 10)
NEW_YEAR = date(2025, 1, 5)

OPTIONS = (
    ("eggs", "Eggs"),
    ("milk", "Leche"),
    ("bread", "Pan dulce"),
    ("eggplant", "Eggplant"),
    ("veg", "Vegetables"),
)

GRACE_W = MemberRef(1, "Grace Wanjiru")
GRACE_A = MemberRef(2, "Grace Achieng")
PETER = MemberRef(3, "Peter Otieno")
JOSE = MemberRef(4, "José Pérez")
MARY_ANN = MemberRef(5, "Mary-Ann Cruz")
MEMBERS = (GRACE_W, GRACE_A, PETER, JOSE, MARY_ANN)
NOBODY = MemberMatch(None, ())


def found(member: MemberRef) -> MemberMatch:
    return MemberMatch(member, ())


def ambiguous(*members: MemberRef) -> MemberMatch:
    return MemberMatch(None, members)


# --- adapters: every parser as (text, words) -> answer --------------------------------------


def number(text: str, words: AnswerWords) -> Decimal | None:
    return parse_number(text, words)


def integer(text: str, words: AnswerWords) -> int | None:
    return parse_integer(text, words)


def money_in(default: str) -> Callable[[str, AnswerWords], Money | None]:
    def money(text: str, words: AnswerWords) -> Money | None:
        return parse_money(text, words, default)

    money.__name__ = f"money_{default.lower()}"
    return money


def currency_in(default: str) -> Callable[[str, AnswerWords], str | None]:
    def currency(text: str, words: AnswerWords) -> str | None:
        return parse_currency(text, words, default)

    currency.__name__ = f"currency_{default.lower()}"
    return currency


def date_on(today: date) -> Callable[[str, AnswerWords], date | None]:
    def when(text: str, words: AnswerWords) -> date | None:
        return parse_date(text, words, today)

    when.__name__ = f"date_on_{today.isoformat()}"
    return when


def yes_no(text: str, words: AnswerWords) -> bool | None:
    return parse_yes_no(text, words)


def choice(text: str, _words: AnswerWords) -> str | None:
    return match_choice(text, OPTIONS)


def choices(text: str, _words: AnswerWords) -> tuple[str, ...] | None:
    return match_choices(text, OPTIONS)


def member(text: str, _words: AnswerWords) -> MemberMatch:
    return match_member(text, MEMBERS)


def pick_grace(text: str, _words: AnswerWords) -> MemberRef | None:
    return pick_candidate(text, (GRACE_W, GRACE_A))


def duration(text: str, _words: AnswerWords) -> timedelta | None:
    return parse_duration(text)


def join_code(text: str, _words: AnswerWords) -> str | None:
    return find_join_code(text)


def digits(text: str, _words: AnswerWords) -> str:
    return normalize_digits(text)


money_kes, money_usd, money_ugx, money_tzs = map(money_in, ("KES", "USD", "UGX", "TZS"))
money_php, money_cop, money_lrd, money_xaf = map(money_in, ("PHP", "COP", "LRD", "XAF"))
currency_kes, currency_usd, currency_ugx = map(currency_in, ("KES", "USD", "UGX"))
currency_cop, currency_lrd, currency_mxn, currency_xof = map(
    currency_in, ("COP", "LRD", "MXN", "XOF")
)
on_wednesday, on_friday, on_new_year = map(date_on, (WEDNESDAY, FRIDAY, NEW_YEAR))

D = Decimal

CASES: list[tuple[Callable[[str, AnswerWords], Any], str, str, Any]] = [
    # numbers: separators by locale
    (number, "1500", "en", D("1500")),
    (number, "1,500", "en", D("1500")),
    (number, "1,500.50", "en", D("1500.50")),
    (number, "1.500", "en", D("1.5")),
    (number, "12,50", "en", D("12.5")),
    (number, "1,500,000", "en", D("1500000")),
    (number, "1.500,50", "es", D("1500.50")),
    (number, "1500,50", "es", D("1500.50")),
    (number, "1.500", "es", D("1500")),
    (number, "1,5", "es", D("1.5")),
    (number, "1,50", "es", D("1.50")),
    (number, "1,500", "es", D("1500")),
    (number, "1.500.000", "es", D("1500000")),
    (number, "1 500,50", "fr", D("1500.50")),
    (number, "1\u202f500,50", "fr", D("1500.50")),
    (number, "1\u00a0500", "fr", D("1500")),
    (number, "1.500", "fr", D("1500")),
    (number, "1,500", "fr", D("1.5")),
    (number, "1500,50", "fr", D("1500.50")),
    (number, "1\u202f500.50", "en", D("1500.50")),
    (number, "2,500", "sw", D("2500")),
    (number, "2.5", "sw", D("2.5")),
    (number, "1,250.75", "fil", D("1250.75")),
    # numbers: digits of other scripts, multipliers, nothing-words
    (number, "٢٠٠٠", "en", D("2000")),
    (number, "۱۵۰۰", "sw", D("1500")),
    (number, "१२३", "en", D("123")),
    (number, "２０００", "fil", D("2000")),
    (number, "1.5k", "en", D("1500")),
    (number, "2k", "en", D("2000")),
    (number, "2K", "sw", D("2000")),
    (number, "1.2m", "en", D("1200000")),
    (number, "3 thousand", "en", D("3000")),
    (number, "2 mil", "es", D("2000")),
    (number, "5 lucas", "es", D("5000")),
    (number, "2 palos", "es", D("2000000")),
    (number, "1,5 millones", "es", D("1500000")),
    (number, "elfu 2", "sw", D("2000")),
    # numbers in words, in every shipped language (and English in any)
    (number, "elfu mbili", "sw", D("2000")),
    (number, "laki moja", "sw", D("100000")),
    (number, "elfu mbili mia tano", "sw", D("2500")),
    (number, "elfu kumi na mbili", "sw", D("12000")),
    (number, "elfu mia mbili", "sw", D("200000")),
    (number, "milioni mbili laki tano", "sw", D("2500000")),
    (number, "two thousand", "en", D("2000")),
    (number, "one thousand five hundred", "en", D("1500")),
    (number, "two hundred thousand", "en", D("200000")),
    (number, "twenty-five", "en", D("25")),
    (number, "a thousand", "en", D("1000")),
    (number, "two thousand", "sw", D("2000")),
    (number, "veinte mil", "es", D("20000")),
    (number, "dos mil quinientos", "es", D("2500")),
    (number, "un millón", "es", D("1000000")),
    (number, "ciento veinte", "es", D("120")),
    (number, "treinta y cinco", "es", D("35")),
    (number, "dalawang libo", "fil", D("2000")),
    (number, "limang daan", "fil", D("500")),
    (number, "dalawang libo't limang daan", "fil", D("2500")),
    (number, "isang daan at limampu", "fil", D("150")),
    (number, "apat na libo", "fil", D("4000")),
    (number, "deux mille", "fr", D("2000")),
    (number, "cinq cents", "fr", D("500")),
    (number, "quatre-vingt-dix", "fr", D("90")),
    (number, "soixante-quinze", "fr", D("75")),
    (number, "2 mil", "es", D("2000")),
    (number, "mil", "es", None),
    # a space groups thousands in every language
    (number, "2 000", "en", D("2000")),
    (number, "1 250 000", "sw", D("1250000")),
    (number, "milioni 1.5", "sw", D("1500000")),
    (number, "5 libo", "fil", D("5000")),
    (number, "2 milyon", "fil", D("2000000")),
    (number, "3 mille", "fr", D("3000")),
    (number, "1,5 million", "fr", D("1500000")),
    (number, "nothing", "en", D("0")),
    (number, "nada", "es", D("0")),
    (number, "wala po", "fil", D("0")),
    (number, "hakuna", "sw", D("0")),
    (number, "rien", "fr", D("0")),
    (number, "zéro", "fr", D("0")),
    # numbers: signs, words around, several numbers, limits
    (number, "-50", "en", D("-50")),
    (number, "−50", "fr", D("-50")),
    (number, "about 500", "en", D("500")),
    (number, "I sold 500", "en", D("500")),
    (number, "nimeuza 500 leo", "sw", D("500")),
    (number, "500, yes 500", "en", D("500")),
    (number, "between 200 and 300", "en", None),
    (number, "entre 200 y 300", "es", None),
    (number, "10-20", "en", None),
    (number, "nothing, 500", "en", None),
    (number, "1.2.3", "en", None),
    (number, "999999999999", "en", D("999999999999")),
    (number, "9" * 64, "en", D("9" * 64)),
    (number, "9" * 65, "en", None),
    (number, "many", "en", None),
    (integer, "1.5k", "en", 1500),
    (integer, "1.5", "en", None),
    (integer, "1.500", "es", 1500),
    (integer, "٤٢", "sw", 42),
    (integer, "-3", "fr", -3),
    (integer, "cero", "es", 0),
    # money
    (money_kes, "ksh 2,000", "en", Money(D("2000"), "KES")),
    (money_usd, "KES 2,000", "en", Money(D("2000"), "KES")),
    (money_kes, "2000 ugx", "en", Money(D("2000"), "UGX")),
    (money_kes, "usd 20", "sw", Money(D("20"), "USD")),
    (money_kes, "$20", "en", Money(D("20"), "USD")),
    (money_lrd, "$20", "en", Money(D("20"), "LRD")),
    (money_usd, "₱500", "fil", Money(D("500"), "PHP")),
    (money_usd, "€ 12,50", "fr", Money(D("12.50"), "EUR")),
    (money_usd, "€ 12,50", "es", Money(D("12.50"), "EUR")),
    (money_usd, "KSh 2,000", "en", Money(D("2000"), "KES")),
    (money_usd, "Ksh2000", "sw", Money(D("2000"), "KES")),
    (money_kes, "USh 5000", "en", Money(D("5000"), "UGX")),
    (money_usd, "L$ 300", "en", Money(D("300"), "LRD")),
    (money_ugx, "500 shillings", "en", Money(D("500"), "UGX")),
    (money_usd, "500 shillings", "en", Money(D("500"), "KES")),
    (money_tzs, "shilingi elfu 2", "sw", Money(D("2000"), "TZS")),
    (money_kes, "ksh 2 000", "en", Money(D("2000"), "KES")),
    (money_kes, "ksh elfu mbili", "sw", Money(D("2000"), "KES")),
    (money_php, "dalawang libo pesos", "fil", Money(D("2000"), "PHP")),
    (money_cop, "veinte mil pesos", "es", Money(D("20000"), "COP")),
    (money_tzs, "500 bob", "sw", Money(D("500"), "TZS")),
    (money_php, "200 pesos", "fil", Money(D("200"), "PHP")),
    (money_usd, "200 pesos", "es", Money(D("200"), "MXN")),
    (money_cop, "2 mil pesos", "es", Money(D("2000"), "COP")),
    (money_usd, "$500 pesos", "es", Money(D("500"), "MXN")),
    (money_lrd, "20 dollars", "en", Money(D("20"), "LRD")),
    (money_cop, "20 dólares", "es", Money(D("20"), "USD")),
    (money_usd, "500 FCFA", "fr", Money(D("500"), "XOF")),
    (money_xaf, "500 F CFA", "fr", Money(D("500"), "XAF")),
    (money_usd, "500 francs", "fr", None),
    (money_usd, "20 Kenyan shillings", "en", Money(D("20"), "KES")),
    (money_usd, "GH₵ 50", "en", Money(D("50"), "GHS")),
    (money_ugx, "2,000/=", "en", Money(D("2000"), "UGX")),
    (money_kes, "1.5k", "en", Money(D("1500"), "KES")),
    (money_kes, "nothing", "en", Money(D("0"), "KES")),
    (money_kes, "5 lucas", "es", Money(D("5000"), "KES")),
    (money_usd, "I sold 500 to ALL", "en", Money(D("500"), "USD")),
    (money_usd, "500 usd 20 kes", "en", None),
    (money_usd, "usd 20 kes", "en", None),
    (money_kes, "KES", "en", None),
    # currency
    (currency_kes, "usd", "en", "USD"),
    (currency_usd, "KES", "sw", "KES"),
    (currency_kes, "$", "en", "USD"),
    (currency_lrd, "$", "en", "LRD"),
    (currency_usd, "₱", "fil", "PHP"),
    (currency_usd, "KSh", "en", "KES"),
    (currency_kes, "USh", "en", "UGX"),
    (currency_usd, "L$", "en", "LRD"),
    (currency_ugx, "shillings", "en", "UGX"),
    (currency_usd, "shilingi", "sw", "KES"),
    (currency_cop, "pesos", "es", "COP"),
    (currency_usd, "pesos", "es", "MXN"),
    (currency_lrd, "dollars", "en", "LRD"),
    (currency_mxn, "dólares", "es", "USD"),
    (currency_usd, "euros", "fr", "EUR"),
    (currency_usd, "naira", "en", "NGN"),
    (currency_usd, "cedi", "en", "GHS"),
    (currency_usd, "chelines kenianos", "es", "KES"),
    (currency_usd, "we use kenyan shillings", "en", "KES"),
    (currency_xof, "francs", "fr", "XOF"),
    (currency_usd, "francs", "fr", None),
    (currency_kes, "yes", "en", "KES"),
    (currency_kes, "ok", "fr", "KES"),
    (currency_kes, "1", "sw", "KES"),
    (currency_kes, "ndiyo", "sw", "KES"),
    (currency_kes, "no", "en", None),
    (currency_kes, "hello", "en", None),
    # yes / no
    (yes_no, "yes", "en", True),
    (yes_no, "Yes please", "en", True),
    (yes_no, "no", "en", False),
    (yes_no, "not really", "en", False),
    (yes_no, "1", "en", True),
    (yes_no, "2", "fr", False),
    (yes_no, "١", "sw", True),
    (yes_no, "👍", "en", True),
    (yes_no, "👍🏽", "fr", True),
    (yes_no, "👎", "sw", False),
    (yes_no, "sí", "es", True),
    (yes_no, "sí, claro!", "es", True),
    (yes_no, "siii", "es", True),
    (yes_no, "para nada", "es", False),
    (yes_no, "oo po", "fil", True),
    (yes_no, "hindi po", "fil", False),
    (yes_no, "oo hindi", "fil", None),
    (yes_no, "ndiyo", "sw", True),
    (yes_no, "ndiyo sana", "sw", True),
    (yes_no, "hapana", "sw", False),
    (yes_no, "d’accord", "fr", True),
    (yes_no, "bien sûr !", "fr", True),
    (yes_no, "non merci", "fr", False),
    (yes_no, "yes no", "en", None),
    (yes_no, "maybe", "en", None),
    # dates
    (on_wednesday, "last friday", "en", date(2024, 5, 3)),
    (on_wednesday, "friday", "en", date(2024, 5, 3)),
    (on_friday, "friday", "en", FRIDAY),
    (on_friday, "last friday", "en", date(2024, 5, 3)),
    (on_wednesday, "last fri", "en", date(2024, 5, 3)),
    (on_wednesday, "el viernes pasado", "es", date(2024, 5, 3)),
    (on_friday, "viernes pasado", "es", date(2024, 5, 3)),
    (on_wednesday, "ijumaa iliyopita", "sw", date(2024, 5, 3)),
    (on_friday, "ijumaa", "sw", FRIDAY),
    (on_wednesday, "noong nakaraang biyernes", "fil", date(2024, 5, 3)),
    (on_wednesday, "vendredi dernier", "fr", date(2024, 5, 3)),
    (on_wednesday, "dim.", "fr", date(2024, 5, 5)),
    (on_wednesday, "sábado", "es", date(2024, 5, 4)),
    (on_wednesday, "monday", "sw", date(2024, 5, 6)),
    (on_wednesday, "yesterday", "en", date(2024, 5, 7)),
    (on_wednesday, "ayer", "es", date(2024, 5, 7)),
    (on_wednesday, "kahapon", "fil", date(2024, 5, 7)),
    (on_wednesday, "jana", "sw", date(2024, 5, 7)),
    (on_wednesday, "hier", "fr", date(2024, 5, 7)),
    (on_wednesday, "today", "en", WEDNESDAY),
    (on_wednesday, "aujourd’hui", "fr", WEDNESDAY),
    (on_wednesday, "ngayong araw", "fil", WEDNESDAY),
    (on_wednesday, "leo", "sw", WEDNESDAY),
    (on_wednesday, "3/5", "en", date(2024, 3, 5)),
    # month names, the locale's and English, with or without a year
    (on_wednesday, "Dec 6, 2026", "en", date(2026, 12, 6)),
    (on_wednesday, "6 dic", "es", date(2023, 12, 6)),
    (on_wednesday, "el 3 de mayo", "es", date(2024, 5, 3)),
    (on_wednesday, "6 Disyembre", "fil", date(2023, 12, 6)),
    (on_wednesday, "6 déc.", "fr", date(2023, 12, 6)),
    (on_wednesday, "le 1er mai 2024", "fr", date(2024, 5, 1)),
    (on_wednesday, "6 Desemba", "sw", date(2023, 12, 6)),
    (on_wednesday, "May 6th", "sw", date(2024, 5, 6)),
    (on_wednesday, "31 feb", "en", None),
    (on_wednesday, "6 dic or 7 dic", "es", None),
    # days back
    (on_wednesday, "3 days ago", "en", date(2024, 5, 5)),
    (on_wednesday, "three days ago", "en", date(2024, 5, 5)),
    (on_wednesday, "hace 3 días", "es", date(2024, 5, 5)),
    (on_wednesday, "il y a trois jours", "fr", date(2024, 5, 5)),
    (on_wednesday, "siku 3 zilizopita", "sw", date(2024, 5, 5)),
    (on_wednesday, "3 araw na ang nakalipas", "fil", date(2024, 5, 5)),
    (on_wednesday, "2 or 3 days ago", "en", None),
    (on_wednesday, "juzi", "sw", date(2024, 5, 6)),
    (on_wednesday, "anteayer", "es", date(2024, 5, 6)),
    (on_wednesday, "avant-hier", "fr", date(2024, 5, 6)),
    (on_wednesday, "kamakalawa", "fil", date(2024, 5, 6)),
    (on_wednesday, "the day before yesterday", "en", date(2024, 5, 6)),
    (on_wednesday, "3/5", "es", date(2024, 5, 3)),
    (on_wednesday, "3/5/24", "fr", date(2024, 5, 3)),
    (on_wednesday, "٣/٥", "sw", date(2024, 5, 3)),
    (on_wednesday, "25/12", "en", date(2023, 12, 25)),
    (on_wednesday, "12/25/2023", "en", date(2023, 12, 25)),
    (on_wednesday, "2024-05-03", "fr", date(2024, 5, 3)),
    (on_wednesday, "1/6/2030", "es", date(2030, 6, 1)),
    (on_new_year, "29/02", "es", date(2024, 2, 29)),
    (on_wednesday, "31/02", "es", None),
    (on_wednesday, "31/02/2024", "en", None),
    (on_wednesday, "yesterday friday", "en", None),
    (on_wednesday, "next week", "en", None),
    # choices
    (choice, "2", "en", "milk"),
    (choice, "2)", "es", "milk"),
    (choice, "#2", "fr", "milk"),
    (choice, "٢", "sw", "milk"),
    (choice, "EGGS", "en", "eggs"),
    (choice, "leché", "es", "milk"),
    (choice, "milk", "en", "milk"),
    (choice, "pan", "es", "bread"),
    (choice, "pan dulse", "es", "bread"),
    (choice, "vegtables", "en", "veg"),
    (choice, "egg", "en", "eggs"),
    (choice, "6", "en", None),
    (choice, "0", "en", None),
    (choice, "xyz", "en", None),
    (choices, "1,3", "en", ("eggs", "bread")),
    (choices, "3 1", "en", ("eggs", "bread")),
    (choices, "1 and 3", "en", ("eggs", "bread")),
    (choices, "1 y 3", "es", ("eggs", "bread")),
    (choices, "1 na 3", "sw", ("eggs", "bread")),
    (choices, "eggs, leche", "es", ("eggs", "milk")),
    (choices, "pan dulce y 1", "es", ("eggs", "bread")),
    (choices, "1, 1, 3", "en", ("eggs", "bread")),
    (choices, "1, zzz", "en", None),
    (choices, ",", "en", None),
    # members
    (member, "Grace Wanjiru", "en", found(GRACE_W)),
    (member, "grace", "sw", ambiguous(GRACE_W, GRACE_A)),
    (member, "Grace W", "en", found(GRACE_W)),
    (member, "achieng", "sw", found(GRACE_A)),
    (member, "Grase", "en", ambiguous(GRACE_W, GRACE_A)),
    (member, "Grase Wanjiru", "en", found(GRACE_W)),
    (member, "Petr", "en", found(PETER)),
    (member, "jose", "es", found(JOSE)),
    (member, "@peter", "fil", found(PETER)),
    (member, "ann", "fil", found(MARY_ANN)),
    (member, "zzz", "en", NOBODY),
    (pick_grace, "2", "en", GRACE_A),
    (pick_grace, "٢", "sw", GRACE_A),
    (pick_grace, "wanjiru", "en", GRACE_W),
    (pick_grace, "grase", "en", None),
    (pick_grace, "3", "en", None),
    # durations and join codes
    (duration, "30m", "en", timedelta(minutes=30)),
    (duration, "24h", "en", timedelta(hours=24)),
    (duration, "7d", "en", timedelta(days=7)),
    (duration, "2w", "en", timedelta(weeks=2)),
    (duration, "1d12h", "en", timedelta(days=1, hours=12)),
    (duration, "0m", "en", None),
    (duration, "-1d", "en", None),
    (duration, "1h30", "en", None),
    (duration, "9" * 40 + "d", "en", None),
    (join_code, "abc123", "en", "ABC123"),
    (join_code, " ABC-123 ", "en", "ABC123"),
    (join_code, "join ABC123", "en", "ABC123"),
    (join_code, "join-4821", "en", "4821"),
    (join_code, "code: 4821", "en", "4821"),
    (join_code, "código 4821", "es", "4821"),
    (join_code, "msimbo ٤٨٢١", "sw", "4821"),
    (join_code, "join", "en", None),
    (join_code, "abc", "en", None),
    (join_code, "ABCDEFGHI", "en", None),
    (digits, "٠١٢٣٤٥٦٧٨٩ ۰۱۲ १२ １２", "en", "0123456789 012 12 12"),
    (digits, "x²", "en", "x²"),
]

EVERY_FUNCTION = [
    number,
    integer,
    money_kes,
    currency_kes,
    on_wednesday,
    yes_no,
    choice,
    choices,
    member,
    pick_grace,
    duration,
    join_code,
]

RESULT_TYPES: dict[Callable[[str, AnswerWords], Any], set[type]] = {
    function: {
        type(expected) for case_function, _, _, expected in CASES if case_function is function
    }
    | {type(None)}
    for function in EVERY_FUNCTION
}
"""What each parser answers, from its table of cases: the fuzz holds it to these."""

UNREADABLE = ["", "   ", "🙂🙂", "9" * 5000, "yes " * 1250, "1,500 " * 834, "ab" * 2500]

CASES += [
    (function, text, locale, NOBODY if function is member else None)
    for function in EVERY_FUNCTION
    for text in UNREADABLE
    for locale in ("en", "sw")
]


def _case_id(case: tuple[Callable[..., Any], str, str, Any]) -> str:
    function, text, locale, _ = case
    shown = text if len(text) <= 24 else f"{text[:12]}...({len(text)} chars)"
    return f"{function.__name__}-{locale}-{shown!r}"


@pytest.mark.parametrize(
    ("function", "text", "locale", "expected"), CASES, ids=[_case_id(case) for case in CASES]
)
def test_parsing(
    function: Callable[[str, AnswerWords], Any], text: str, locale: str, expected: Any
) -> None:
    result = function(text, WORDS[locale])
    assert result == expected
    assert type(result) is type(expected)


def test_the_table_covers_every_language() -> None:
    assert len(CASES) >= 150
    assert {locale for _, _, locale, _ in CASES} == set(LOCALES)


@pytest.mark.parametrize(
    ("text", "locale", "shown"),
    [("2k", "en", "2000"), ("1.5k", "en", "1500"), ("1,500.50", "en", "1500.5"), ("0", "fr", "0")],
)
def test_numbers_are_plain_decimals(text: str, locale: str, shown: str) -> None:
    value = parse_number(text, WORDS[locale])
    assert isinstance(value, Decimal)
    assert str(value) == shown


VOCABULARY = [
    *("1,500", "1.500,50", "1 500", "-", "−7", ".5", "k", "m", "mil", "elfu", "lucas", "nada"),
    *("ksh", "KES", "$", "L$", "₱", "€", "/=", "pesos", "francs", "bob", "ALL", "usd", "F CFA"),
    *("yes", "no", "sí", "oo po", "hindi", "ndiyo", "la", "👍🏽", "1", "2", "٢", "#3", "@"),
    *("last", "friday", "viernes", "pasado", "noong", "31/02", "2024-05-03", "3/5/24", "29/02"),
    *("join", "code:", "ABC-123", "1d12h", "Grace", "Grase", "eggs", "and", "y", ",", "\u202f"),
]
TEXTS = st.one_of(
    st.text(),
    st.lists(st.sampled_from(VOCABULARY), max_size=12).map(" ".join),
    st.lists(st.sampled_from(VOCABULARY), max_size=12).map("".join),
    st.text(alphabet="0123456789٠١٢.,- \u202f/kKm$#:", max_size=80),
    st.builds(
        lambda piece, times: piece * times, st.text(min_size=1, max_size=8), st.integers(1, 900)
    ),
)


@pytest.mark.parametrize("function", EVERY_FUNCTION, ids=lambda function: function.__name__)
@settings(
    max_examples=200,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(text=TEXTS, locale=st.sampled_from(LOCALES))
def test_no_text_makes_a_parser_raise(
    function: Callable[[str, AnswerWords], Any], text: str, locale: str
) -> None:
    """Any text gives an answer of the parser's own kind (one of those its table of cases
    expects, None among them), never an exception or a value of another type."""
    result = function(text, WORDS[locale])
    assert type(result) in RESULT_TYPES[function], (function.__name__, text, result)


@pytest.mark.parametrize("locale", ["en", "es", "fil", "sw", "fr"])
def test_the_bots_own_example_date_is_understood(locale: str) -> None:
    """The date error shows a date in the member's format ("Dec 6, 2026", "6 dic 2026",
    "6 déc. 2026"): whatever the bot shows as an example, it must read back."""
    from conversations.rendering import format_value

    words = WORDS[locale]
    today = date(2026, 12, 7)
    for shown in (date(2026, 12, 6), date(2026, 1, 15), date(2025, 5, 31), date(2026, 9, 2)):
        assert parse_date(format_value(shown, locale), words, today) == shown
