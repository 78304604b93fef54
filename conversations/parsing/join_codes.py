"""Group join codes as members type them."""

from __future__ import annotations

import re

from conversations.parsing._text import folded_key

MIN_LENGTH = 4
MAX_LENGTH = 8
_CODE = re.compile(rf"[a-z0-9]{{{MIN_LENGTH},{MAX_LENGTH}}}")
_LEAD_WORDS = ("join", "code", "codigo", "msimbo", "kodigo", "unirme", "jiunge", "sumali")
_LEAD = re.compile(rf"(?:{'|'.join(_LEAD_WORDS)})(?P<separated>[\s:#=\-_.]+)?")
_SEPARATORS = re.compile(r"[\s\-_.:#]+")


def find_join_code(text: str) -> str | None:
    """The join code in a reply, upper case without separators, or None.

    A code is 4 to 8 letters A-Z and digits 0-9, possibly written with spaces, dashes or dots
    ("abc-123", " ABC 123 ") and after leading words such as "join", "code", "código",
    "msimbo" or "kodigo" ("join ABC123", "code: 4821"); digits may be in any script.
    """
    key = folded_key(text)
    if not key:
        return None
    if key in _LEAD_WORDS:
        return None
    rest = key
    while (lead := _LEAD.match(rest)) is not None:
        remainder = rest[lead.end() :]
        if not lead.group("separated") and not _is_code(_compact(remainder)):
            break
        rest = remainder
    code = _compact(rest)
    return code.upper() if _is_code(code) else None


def _compact(text: str) -> str:
    return _SEPARATORS.sub("", text)


def _is_code(text: str) -> bool:
    return _CODE.fullmatch(text) is not None
