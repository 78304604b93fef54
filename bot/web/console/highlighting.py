"""The words a search matched, marked in a line of text escaped for HTML."""

from __future__ import annotations

import re
from collections.abc import Iterable

from markupsafe import Markup, escape

from storage.search import Term, fold, parse

_RUN = re.compile(r"[^\W_]+")


def highlight(text: str, words: str) -> Markup:
    """`text` escaped, each stretch that matches a term of `words` in `<mark>`: a word where it
    stands whole (or begins, for the last word typed), a phrase where its words follow each
    other; case and accents folded, as the search matches them."""
    runs = [(match.start(), match.end(), fold(match.group())) for match in _RUN.finditer(text)]
    marked = _merged(span for term in parse(words) for span in _spans(term, runs))
    parts: list[str] = []
    position = 0
    for start, end in marked:
        parts.append(str(escape(text[position:start])))
        parts.append(f"<mark>{escape(text[start:end])}</mark>")
        position = end
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts))


def _spans(term: Term, runs: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    wanted = term.words()
    if not wanted:
        return []
    found = []
    for first in range(len(runs) - len(wanted) + 1):
        window = runs[first : first + len(wanted)]
        *whole, last = wanted
        if all(run[2] == word for run, word in zip(window, whole, strict=False)) and (
            window[-1][2].startswith(last) if term.prefix else window[-1][2] == last
        ):
            found.append((window[0][0], window[-1][1]))
    return found


def _merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching spans as one, in order."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
