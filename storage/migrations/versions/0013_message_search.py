"""Full-text search of the message log (see `storage.search`): the `message_words` index beside
`messages`, the triggers that keep it in step with every insert, change of text and delete,
and the index of the lines stored before.

PostgreSQL: a table of one `tsvector` per line ('simple' configuration, accents folded by
`mutuality_fold`) with a GIN index. SQLite: an FTS5 table over `messages.text` (external
content, `unicode61` with diacritics removed).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def postgresql_statements() -> list[str]:
    return [  # the lines stored before are indexed before the GIN index is built: faster
        # accents off: decomposed (é is e + a combining acute), the combining marks dropped;
        # 2 µs a line, where a translate() of the accented Latin letters took 140 µs
        r"""CREATE FUNCTION mutuality_fold(body text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $$ SELECT regexp_replace(normalize(body, NFD), '[\u0300-\u036f]', '', 'g') $$""",
        """CREATE TABLE message_words (
               message_id integer PRIMARY KEY,
               words tsvector NOT NULL
           )""",
        """INSERT INTO message_words (message_id, words)
           SELECT id, to_tsvector('simple', mutuality_fold(text)) FROM messages""",
        "CREATE INDEX ix_message_words_words ON message_words USING gin (words)",
        """CREATE FUNCTION mutuality_index_added_messages() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO message_words (message_id, words)
                SELECT id, to_tsvector('simple', mutuality_fold(text)) FROM added;
                RETURN NULL;
            END $$""",
        """CREATE TRIGGER messages_words_added AFTER INSERT ON messages
            REFERENCING NEW TABLE AS added
            FOR EACH STATEMENT EXECUTE FUNCTION mutuality_index_added_messages()""",
        """CREATE FUNCTION mutuality_index_changed_message() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE message_words SET words = to_tsvector('simple', mutuality_fold(NEW.text))
                WHERE message_id = NEW.id;
                RETURN NULL;
            END $$""",
        """CREATE TRIGGER messages_words_changed AFTER UPDATE OF text ON messages
            FOR EACH ROW WHEN (OLD.text IS DISTINCT FROM NEW.text)
            EXECUTE FUNCTION mutuality_index_changed_message()""",
        """CREATE FUNCTION mutuality_unindex_removed_messages() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                DELETE FROM message_words WHERE message_id IN (SELECT id FROM removed);
                RETURN NULL;
            END $$""",
        """CREATE TRIGGER messages_words_removed AFTER DELETE ON messages
            REFERENCING OLD TABLE AS removed
            FOR EACH STATEMENT EXECUTE FUNCTION mutuality_unindex_removed_messages()""",
        """CREATE FUNCTION mutuality_unindex_all_messages() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                TRUNCATE message_words;
                RETURN NULL;
            END $$""",
        """CREATE TRIGGER messages_words_truncated AFTER TRUNCATE ON messages
            FOR EACH STATEMENT EXECUTE FUNCTION mutuality_unindex_all_messages()""",
    ]


SQLITE_TRIGGERS = [
    """CREATE TRIGGER messages_words_added AFTER INSERT ON messages BEGIN
           INSERT INTO message_words (rowid, text) VALUES (NEW.id, NEW.text);
       END""",
    """CREATE TRIGGER messages_words_changed AFTER UPDATE OF text ON messages BEGIN
           INSERT INTO message_words (message_words, rowid, text)
           VALUES ('delete', OLD.id, OLD.text);
           INSERT INTO message_words (rowid, text) VALUES (NEW.id, NEW.text);
       END""",
    """CREATE TRIGGER messages_words_removed AFTER DELETE ON messages BEGIN
           INSERT INTO message_words (message_words, rowid, text)
           VALUES ('delete', OLD.id, OLD.text);
       END""",
]
"""Also what a later migration that rebuilds `messages` on SQLite must create again."""


def sqlite_statements() -> list[str]:
    return [
        """CREATE VIRTUAL TABLE message_words USING fts5(
               text, content='messages', content_rowid='id',
               tokenize='unicode61 remove_diacritics 2'
           )""",
        *SQLITE_TRIGGERS,
        "INSERT INTO message_words (message_words) VALUES ('rebuild')",
    ]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in postgresql_statements() if postgresql else sqlite_statements():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger in ("added", "changed", "removed", "truncated"):
            op.execute(f"DROP TRIGGER messages_words_{trigger} ON messages")
        op.execute("DROP TABLE message_words")
        for function in POSTGRESQL_FUNCTIONS:
            op.execute(f"DROP FUNCTION {function}")
        return
    for trigger in ("added", "changed", "removed"):
        op.execute(f"DROP TRIGGER messages_words_{trigger}")
    op.execute("DROP TABLE message_words")


POSTGRESQL_FUNCTIONS = (
    "mutuality_index_added_messages()",
    "mutuality_index_changed_message()",
    "mutuality_unindex_removed_messages()",
    "mutuality_unindex_all_messages()",
    "mutuality_fold(text)",
)
