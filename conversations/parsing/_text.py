"""Folding shared by the parsers: what every reply goes through before it is read.

Private to the package: the parsers' contracts are in their own modules.
"""

from __future__ import annotations

import re
import unicodedata

from conversations.parsing.digits import normalize_digits
from conversations.words import normalize

MAX_CHARS = 1000
"""Messages longer than this are stories, not answers: parsers read them as not understood."""

_GROUP_SPACE = re.compile(r"(?<=[0-9])[\u00a0\u2007\u2009\u202f](?=[0-9]{3}(?![0-9]))")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_INVISIBLE = frozenset({0x200D, 0xFE0E, 0xFE0F, *range(0x1F3FB, 0x1F400)})
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]")


def fold(text: str) -> str | None:
    """The reply with ASCII digits, accents and compatibility forms folded, case kept.

    Spaces that group digits typographically ("1 500" with a no-break space) are dropped, emoji
    skin tones and variation selectors removed, curly apostrophes made straight. Returns None
    when the reply is longer than `MAX_CHARS`.
    """
    if len(text) > MAX_CHARS:
        return None
    if text.isascii():
        return text
    text = _GROUP_SPACE.sub("", normalize_digits(text))
    decomposed = unicodedata.normalize("NFKD", text)
    kept = (ch for ch in decomposed if not unicodedata.combining(ch) and ord(ch) not in _INVISIBLE)
    return "".join(kept).translate(_APOSTROPHES)


def folded_key(text: str) -> str | None:
    """`fold` then `conversations.words.normalize`: the form word lists are stored in."""
    folded = fold(text)
    return None if folded is None else normalize(folded)


def tokens(key: str) -> list[str]:
    """Words (letters and digits, inner apostrophes kept) and single symbols such as emoji.

    Punctuation is dropped.
    """
    return [
        token
        for token in _TOKEN.findall(key)
        if not all(unicodedata.category(ch).startswith("P") for ch in token)
    ]


def phrases(words: list[str], start: int, longest: int = 3) -> list[tuple[int, str]]:
    """The phrases of 1..`longest` words beginning at `start`, longest first, with their length."""
    stop = min(len(words), start + longest)
    return [(end - start, " ".join(words[start:end])) for end in range(stop, start, -1)]
