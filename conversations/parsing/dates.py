"""Dates as members give them: "yesterday", "last friday", "3/5", "2024-05-03", "6 dic",
"Dec 6, 2026", "3 days ago", "juzi"."""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache

from babel import Locale
from babel.core import UnknownLocaleError

from conversations.parsing._number_words import spell_out
from conversations.parsing._text import folded_key, phrases, tokens
from conversations.words import AnswerWords, normalize

_NUMERIC = re.compile(r"(?<![0-9])([0-9]{1,4})([/.\-])([0-9]{1,2})(?:\2([0-9]{1,4}))?(?![0-9])")
_ENGLISH_EXTRAS = {"tues": 1, "weds": 2, "thur": 3, "thurs": 3}
_WEEK = 7
_MOST_DAYS_AGO = 366
_DAY = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th|er|e|eme|o|a)?")


def parse_date(text: str, words: AnswerWords, today: date) -> date | None:
    """The date a reply names, relative to `today`; None when it names none or several.

    Understood: today- and yesterday-words; weekday names of `words.locale` and of English
    (Babel's wide and abbreviated forms), meaning the most recent such day up to today, or a
    week earlier with a last-word when that day is today ("friday" on a Friday is today, "last
    friday" a week ago), in either word order ("el viernes pasado"); numeric dates, day first
    except where the locale's CLDR short date puts the month first (en, fil), taking the other
    order when the first is no date ("25/12" in English); ISO "2024-05-03"; two-digit years are
    20yy; no year means the latest such date up to today. A month's name (the locale's and
    English, wide or abbreviated) next to a day, with an optional year: "6 dic", "Dec 6, 2026",
    "6 Disyembre", "le 6 déc.". Days back: "3 days ago", "hace 3 días", "il y a trois jours",
    "siku 3 zilizopita", and the day before yesterday ("avant-hier", "anteayer", "juzi").
    Future dates with a year are returned (the caller validates); impossible dates ("31/02")
    are None.
    """
    key = folded_key(text)
    if not key:
        return None
    found: set[date] = set()
    for match in _NUMERIC.finditer(key):
        numeric = _numeric(match, _month_first(words.locale), today)
        if numeric is None:
            return None
        found.add(numeric)
    weekdays = _weekdays(words.locale)
    named: list[int] = []
    is_last = is_ago = has_days = False
    found_words = tokens(key)
    consumed, by_month, impossible = _month_dates(found_words, words.locale, today)
    if impossible:
        return None
    if by_month is not None:
        found.add(by_month)
    index = 0
    while index < len(found_words):
        if index in consumed:
            index += 1
            continue
        size, meaning = _meaning_at(found_words, index, words, weekdays)
        if meaning == "today":
            found.add(today)
        elif meaning == "yesterday":
            found.add(today - timedelta(days=1))
        elif meaning == "day before yesterday":
            found.add(today - timedelta(days=2))
        elif meaning == "last":
            is_last = True
        elif meaning == "ago":
            is_ago = True
        elif meaning == "days":
            has_days = True
        elif isinstance(meaning, int):
            named.append(meaning)
        index += size
    if is_ago and has_days:
        # "3 days ago", "three days ago": the number words only now, as "sept" is also a month
        numbers = [int(word) for word in tokens(spell_out(key, words.locale)) if word.isdigit()]
        if len(numbers) != 1 or not 0 <= numbers[0] <= _MOST_DAYS_AGO:
            return None
        found.add(today - timedelta(days=numbers[0]))
    for weekday in named:
        back = (today.weekday() - weekday) % _WEEK
        found.add(today - timedelta(days=back or (_WEEK if is_last else 0)))
    return found.pop() if len(found) == 1 else None


def _month_dates(
    found_words: list[str], locale: str, today: date
) -> tuple[set[int], date | None, bool]:
    """The indexes of the words that name a date by its month ("6 dic", "dec 6 2026"), that
    date (None when there is none), and whether they name no single possible date ("31 feb",
    "6 dic or 7 dic")."""
    months = _months(locale)
    consumed: set[int] = set()
    found: set[date] = set()
    for index, word in enumerate(found_words):
        month = months.get(word)
        if month is None:
            continue
        for day_index in _day_places(found_words, index):
            if 0 <= day_index < len(found_words) and _day(found_words[day_index]):
                break
        else:
            continue  # a month's name alone is no date (and may be a weekday: "mar")
        year_index = max(index, day_index) + 1
        year = None
        if year_index < len(found_words) and len(found_words[year_index]) == 4:
            if found_words[year_index].isdigit():
                year = int(found_words[year_index])
                consumed.add(year_index)
        day = _day(found_words[day_index])
        assert day is not None
        named = _date(year, month, day) if year is not None else _latest(month, day, today)
        if named is None:
            return consumed, None, True
        consumed.update({index, day_index})
        found.add(named)
    if len(found) > 1:
        return consumed, None, True
    return consumed, (found.pop() if found else None), False


def _day_places(found_words: list[str], index: int) -> tuple[int, ...]:
    """Where the day of a month's name may be: next to it, or before a short linking word
    ("3 de mayo", "6 ng Disyembre", "6th of December")."""
    places = [index - 1, index + 1]
    if index >= 2 and len(found_words[index - 1]) <= 3 and found_words[index - 1].isalpha():
        places.append(index - 2)
    return tuple(places)


def _day(word: str) -> int | None:
    """The day of the month a word gives ("6", "06", "6th", "1er"), or None."""
    match = _DAY.fullmatch(word)
    if match is None:
        return None
    day = int(match.group(1))
    return day if 1 <= day <= 31 else None


def _meaning_at(
    found_words: list[str], index: int, words: AnswerWords, weekdays: dict[str, int]
) -> tuple[int, str | int | None]:
    """The longest phrase at `index` that means something, and its length in words."""
    for size, phrase in phrases(found_words, index):
        meaning = _meaning(phrase, words, weekdays)
        if meaning is not None:
            return size, meaning
    return 1, None


def _meaning(phrase: str, words: AnswerWords, weekdays: dict[str, int]) -> str | int | None:
    if phrase in words.today:
        return "today"
    if phrase in words.day_before_yesterday:
        return "day before yesterday"
    if phrase in words.yesterday:
        return "yesterday"
    if phrase in words.last:
        return "last"
    if phrase in words.ago:
        return "ago"
    if phrase in words.days:
        return "days"
    return weekdays.get(phrase)


def _numeric(match: re.Match[str], month_first: bool, today: date) -> date | None:
    first, _, second, third = match.groups()
    if len(first) == 4:
        if third is None or len(third) > 2:
            return None
        return _date(int(first), int(second), int(third))
    if len(first) > 2:
        return None
    year: int | None = None
    if third is not None:
        if len(third) not in (2, 4):
            return None
        year = int(third) + (2000 if len(third) == 2 else 0)
    a, b = int(first), int(second)
    for month, day in ((a, b), (b, a)) if month_first else ((b, a), (a, b)):
        found = _date(year, month, day) if year is not None else _latest(month, day, today)
        if found is not None:
            return found
    return None


def _latest(month: int, day: int, today: date) -> date | None:
    """The day in this year, or in the last one when this year's is later than today (or does
    not exist: 29 February); this year's when only it exists."""
    this_year, last_year = _date(today.year, month, day), _date(today.year - 1, month, day)
    if this_year is not None and this_year <= today:
        return this_year
    return last_year or this_year


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


@lru_cache(maxsize=32)
def _locale(code: str) -> Locale | None:
    try:
        return Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None


@lru_cache(maxsize=32)
def _month_first(code: str) -> bool:
    locale = _locale(code) or _locale("en")
    pattern = locale.date_formats["short"].pattern if locale is not None else "M/d/yy"
    return pattern.find("M") < pattern.find("d")


@lru_cache(maxsize=32)
def _weekdays(code: str) -> dict[str, int]:
    """Folded weekday name -> weekday (Monday 0), for the locale and English; names that would
    mean two different days are left out."""
    return _unambiguous(code, "days", _ENGLISH_EXTRAS)


@lru_cache(maxsize=32)
def _months(code: str) -> dict[str, int]:
    """Folded month name -> month (1-12), wide and abbreviated, for the locale and English;
    names that would mean two different months are left out."""
    return _unambiguous(code, "months", {})


def _unambiguous(code: str, table: str, extras: dict[str, int]) -> dict[str, int]:
    """Babel's wide and abbreviated names of `table` ("days" or "months") in the locale and in
    English, folded (with and without an abbreviation's dot), plus `extras`; a name that would
    mean two things is left out."""
    meanings: dict[str, set[int]] = {}
    for locale in {_locale("en"), _locale(code)}:
        if locale is None:
            continue
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in getattr(locale, table)[context][width].items():
                    for key in (normalize(name), normalize(name).rstrip(".")):
                        if key:
                            meanings.setdefault(key, set()).add(number)
    for name, number in extras.items():
        meanings.setdefault(name, set()).add(number)
    return {name: numbers.pop() for name, numbers in meanings.items() if len(numbers) == 1}
