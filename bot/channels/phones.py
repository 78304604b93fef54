"""What a phone number says about a new member: their country, hence a default currency and
language. Anything that is not a phone number (a Telegram chat id, a console name) falls back to
the operator's `DEFAULT_COUNTRY`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import phonenumbers
from babel.languages import get_official_languages
from babel.numbers import get_territory_currencies


@lru_cache(maxsize=4096)
def country_of(address: str, default_country: str) -> str:
    text = address.removeprefix("whatsapp:").strip()
    if text.startswith("+"):
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            return default_country
        region = phonenumbers.region_code_for_number(number)
        if region and region != "ZZ":
            return region
    return default_country


def default_currency_for(address: str, default_country: str) -> str:
    currencies = get_territory_currencies(country_of(address, default_country), tender=True)
    return currencies[0] if currencies else "USD"


def default_locale_for(address: str, default_country: str, shipped: Sequence[str]) -> str:
    """English where it is an official language (members choose theirs in the first message
    anyway), else the first official language we ship, else English."""
    official = [
        code.split("_")[0]
        for code in get_official_languages(country_of(address, default_country), de_facto=True)
    ]
    if "en" in official or not official:
        return "en"
    for code in official:
        if code in shipped:
            return code
    return "en"


_LONG_NUMBER = re.compile(r"[0-9]{5,}")


def masked(text: str) -> str:
    """`text` as a log may show it: every run of five digits or more (a phone number, a chat
    id, inside an address or a lock's name) keeps only its last four. Logs never hold a full
    phone number."""
    return _LONG_NUMBER.sub(lambda number: "*" * (len(number[0]) - 4) + number[0][-4:], text)
