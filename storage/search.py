"""Full-text search of the message log: what the words typed in a search box mean, and how each
backend indexes and matches them.

What a search means, on both backends:
- several words: a line must hold every one of them, in any order;
- words in double quotes: a phrase, those words one after the other;
- the last word, unless it closes a phrase, is a prefix (`mang` finds "mangoes"), so results
  follow a coordinator as they type;
- case and accents do not matter (`cafe` finds "Café", `ECOLE` finds "école").

Words are matched whole, never stemmed: members write Kiswahili, Filipino, Sheng and Taglish,
for which no stemmer exists, and switch language within a line, so one language-independent
rule ("simple") serves every member the same, and what is marked is what was typed.

The index lives beside `messages`, never in it, and is kept in step by triggers that revision
0013 creates, so every write path (a worker's batch, a coordinator's reply, an erasure, the
retention clock) updates it in the same transaction as the line, with nothing to forget:
- PostgreSQL: `message_words(message_id, words tsvector)` with a GIN index, filled per
  statement from the inserted rows, rewritten when a line's text changes, emptied of a deleted
  line. A side table, not an index on `messages`: a line's status changes three or four times
  (queued, sent, delivered, read), and each such update would insert into an index on the
  messages table again. Accents are folded by `mutuality_fold(text)`: the text decomposed
  (NFD) and its combining marks dropped, in core PostgreSQL (no `unaccent` extension).
- SQLite: `message_words`, an FTS5 table over `messages.text` (external content, the
  `unicode61` tokenizer with `remove_diacritics 2`). FTS5 keeps a deleted line's words in its
  segments until they are merged, so an erasure merges them at once (`forget_removed_words`):
  with `secure_delete` nothing of the words is left in the file.

A migration that rebuilds `messages` on SQLite (Alembic's batch mode copies the table) drops its
triggers: such a migration must create them again (see revision 0013).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession

MAX_TERMS: Final = 12
"""Words and phrases beyond these are ignored: a search box is not a document."""

INDEX_TABLE: Final = "message_words"
"""The index's table on both backends (on SQLite, FTS5 adds its shadow tables, named after it)."""


def outside_models(name: str | None, kind: str, _parents: object = None) -> bool:
    """False for the search index's tables, which are not in the models (a virtual table cannot
    be, and the triggers that fill them are the migration's): what schema comparisons skip."""
    return not (kind == "table" and name is not None and name.startswith(INDEX_TABLE))


@dataclass(frozen=True, slots=True)
class Term:
    """One word, or a phrase of several (`text` as typed, inner spaces kept); a prefix when it
    is the last word typed and not a phrase."""

    text: str
    phrase: bool = False
    prefix: bool = False

    def words(self) -> list[str]:
        """The term's words, folded, as `highlight` compares them."""
        return [fold(run) for run in _RUNS.findall(self.text)]


_CHUNKS = re.compile(r'"([^"]*)"?|([^\s"]+)')
_RUNS = re.compile(r"[^\W_]+")


def parse(typed: str) -> list[Term]:
    """The terms of what was typed: quoted phrases and single words, in order, at most
    `MAX_TERMS`; words with no letter or digit are left out (they match nothing). The last term
    is a prefix unless it is a closed phrase: a bare word, or a phrase still being typed."""
    terms: list[Term] = []
    for match in _CHUNKS.finditer(unicodedata.normalize("NFC", typed)):
        quoted, word = match.group(1), match.group(2)
        text = " ".join((quoted if quoted is not None else word).split())
        if _RUNS.search(text) is None:
            continue
        open_phrase = quoted is not None and not (
            len(match.group(0)) > 1 and match.group(0)[-1] == '"'
        )
        terms.append(Term(text, phrase=quoted is not None, prefix=quoted is None or open_phrase))
    terms = terms[:MAX_TERMS]
    return [
        Term(t.text, t.phrase, prefix=t.prefix and i == len(terms) - 1) for i, t in enumerate(terms)
    ]


def fold(text: str) -> str:
    """Lower case without accents: `Café` is `cafe`."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def tsquery_text(terms: list[Term]) -> str:
    """PostgreSQL's `to_tsquery` input for the terms: each term a quoted lexeme (which the
    server parses as it parses a line: several tokens in it make a phrase), all of them ANDed,
    `:*` on a prefix."""

    def lexeme(term: Term) -> str:
        quoted = "'" + term.text.replace("\\", "\\\\").replace("'", "''") + "'"
        return quoted + (":*" if term.prefix else "")

    return " & ".join(lexeme(term) for term in terms)


def fts5_query(terms: list[Term]) -> str:
    """SQLite FTS5's MATCH input for the terms: each a quoted string (a phrase of its tokens),
    implicitly ANDed, `*` after a prefix."""
    return " ".join(
        '"' + term.text.replace('"', '""') + '"' + ("*" if term.prefix else "") for term in terms
    )


POSTGRESQL_WORDS = Table(
    INDEX_TABLE,
    MetaData(),
    Column("message_id", Integer, primary_key=True),
    Column("words", TSVECTOR),
)
SQLITE_WORDS = Table(
    INDEX_TABLE,
    MetaData(),
    Column("rowid", Integer, primary_key=True),
    Column("text", Text),
)


def postgresql_matches(
    terms: list[Term], words: ColumnElement[Any] = POSTGRESQL_WORDS.c.words
) -> ColumnElement[bool]:
    """`message_words` rows (or others with its `words` column) holding every term."""
    query = func.to_tsquery(literal_column("'simple'"), func.mutuality_fold(tsquery_text(terms)))
    return words.bool_op("@@")(query)


def sqlite_matches(terms: list[Term]) -> ColumnElement[bool]:
    """`message_words` (FTS5) rows holding every term."""
    return literal_column(INDEX_TABLE).bool_op("MATCH")(fts5_query(terms))


async def forget_removed_words(session: AsyncSession) -> None:
    """On SQLite, merge the FTS5 index's segments into one, which drops the words of deleted
    and rewritten lines for good (until then FTS5 only marks them deleted); its cost grows with
    the index, so it runs after an erasure, not after every change. PostgreSQL's index, like
    the table, keeps dead entries only until its vacuum."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(_OPTIMIZE)


_OPTIMIZE = text(f"INSERT INTO {INDEX_TABLE}({INDEX_TABLE}) VALUES ('optimize')")
