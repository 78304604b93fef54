"""A Babel extractor for check-in definitions, so `pybabel extract` sees their texts.

Registered as the `mutuality_checkins` extraction method (an entry point in pyproject.toml).
Titles, questions, statements, error texts, choice labels and the closing message become plain
message ids; keywords become `pgettext("check-in keywords", word)` entries, which translators
fill with `|`-separated words. A definition that does not load yields nothing here: the loader
and `mutuality checkins validate` are where its problems are reported.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from conversations.loader import DefinitionError, parse_checkin
from conversations.words import KEYWORD_CONTEXT

Extracted = tuple[int, str | None, str | tuple[str, str], list[str]]


def extract_checkins(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any] | Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    name = getattr(fileobj, "name", "<definition>")
    try:
        checkin = parse_checkin(source, str(name))
    except DefinitionError:
        return
    yield 1, None, checkin.title, [f"title of the check-in '{checkin.id}'"]
    for word in checkin.keywords:
        yield (
            1,
            "pgettext",
            (KEYWORD_CONTEXT, word),
            ["words that start this check-in, separated by |; the English word always works too"],
        )
    for line, text in checkin.texts():
        yield line, None, text, [f"check-in '{checkin.id}'"]
