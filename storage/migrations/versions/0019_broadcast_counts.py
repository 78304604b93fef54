"""A broadcast's progress counted as it changes: `broadcast_recipient_counts` and
`broadcast_line_counts`, the triggers that write them, and the counts of the broadcasts
stored before.

The console polls a broadcast's progress every second or two while it sends. Counted from the
rows, that is a GROUP BY over every recipient and a join to each one's outbox line: measured at
100,000 recipients in a log of 3.9 million lines, 2 to 3.5 s a poll on PostgreSQL (a hash
join over the whole log) and 0.2 to 0.6 s on SQLite (docs/benchmarks.md). Here the counts
are kept in step instead, by triggers, so every writer (planning, queuing, the sender, status
callbacks, opt-outs, cancelling, erasure) counts in the transaction of its change with nothing
to forget, and reading them costs a few rows.

A trigger only ever inserts a row of +1/-1 changes for the keys a change moved between
(`storage.models.BroadcastRecipientCount`, `BroadcastLineCount`); no writer updates a shared
counter row, so two senders recording sends of the same broadcast neither wait for each other
nor deadlock. `BroadcastRepository.compact_counts` replaces a broadcast's rows by their sums.

- a trigger on `messages`, by row, only when a line's status, its channel or, while it is
  queued, its time changes (a lease or a redaction counts nothing), which looks the line up
  among the recipients (`ix_broadcast_recipients_message_id`, added here);
- triggers on `broadcast_recipients`: by row for updates (queuing updates its recipients one by
  one), and on PostgreSQL by statement for inserts and deletes, adding up a whole statement's
  rows first (planning inserts 100,000 recipients in one statement).

The count tables have no foreign key to `broadcasts`: their rows come from recipients, whose
own key already holds, and a key would add a check for every row the senders' path writes.

A later migration that rebuilds `messages` or `broadcast_recipients` on SQLite (Alembic's
batch mode copies the table) drops their triggers: it must create `SQLITE_TRIGGERS` again.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A line's key: its channel, its status and, while it is queued, the time it is due.
_DUE = "CASE WHEN {m}.status = 'queued' THEN {m}.next_attempt_at END"
_RECIPIENTS = "broadcast_recipient_counts (broadcast_id, status, reason, recipients)"
_RECIPIENT_KEYS = "broadcast_id, status, reason"
_LINES = "broadcast_line_counts (broadcast_id, channel, status, next_attempt_at, lines)"
_LINE_KEYS = "broadcast_id, channel, status, next_attempt_at"
# in PostgreSQL's words; SQLite says IS NOT
_LINE_MOVED = (
    "OLD.status IS DISTINCT FROM NEW.status OR OLD.channel IS DISTINCT FROM NEW.channel "
    "OR (NEW.status = 'queued' AND OLD.next_attempt_at IS DISTINCT FROM NEW.next_attempt_at)"
)
_RECIPIENT_MOVED = (
    "(OLD.broadcast_id, OLD.status, OLD.reason) IS DISTINCT FROM "
    "(NEW.broadcast_id, NEW.status, NEW.reason)"
)
_POINTER_MOVED = (
    "(OLD.broadcast_id, OLD.message_id) IS DISTINCT FROM (NEW.broadcast_id, NEW.message_id)"
)


def _sqlite(condition: str) -> str:
    return condition.replace("IS DISTINCT FROM", "IS NOT")


def _line_counted(line: str, sign: str) -> str:
    """A SELECT of the change of the line `line` (OLD or NEW, in a trigger on `messages`) for
    every recipient that points at it: one lookup in `ix_broadcast_recipients_message_id`."""
    return (
        f"SELECT broadcast_id, {line}.channel, {line}.status, {_DUE.format(m=line)}, {sign} "
        f"FROM broadcast_recipients WHERE message_id = NEW.id"
    )


def _recipients_line(recipient: str, sign: str) -> str:
    """A SELECT of the change of the line the recipient `recipient` (OLD or NEW) points at, if
    any: one lookup of the line by its id."""
    return (
        f"SELECT {recipient}.broadcast_id, channel, status, {_DUE.format(m='messages')}, {sign} "
        f"FROM messages WHERE id = {recipient}.message_id"
    )


def _recipients_lines(recipients: str, sign: str) -> str:
    """A SELECT of the change of the lines every recipient of the transition table
    `recipients` points at: one lookup per recipient (LATERAL), never a scan of the log."""
    return (
        f"SELECT r.broadcast_id, m.channel, m.status, {_DUE.format(m='m')} AS next_attempt_at, "
        f"{sign} AS lines FROM {recipients} AS r CROSS JOIN LATERAL ("
        "SELECT channel, status, next_attempt_at FROM messages WHERE id = r.message_id) AS m "
        "WHERE r.message_id IS NOT NULL"
    )


def _function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body};\nRETURN NULL;\nEND $$"
    )


# Rows changed one at a time (a line's status; the recipients a batch queues, one UPDATE each)
# are counted by row triggers; a statement that inserts or deletes many recipients at once
# (planning inserts 100,000 in one) by one statement trigger that adds them up first.
POSTGRESQL_STATEMENTS = [
    _function(
        "mutuality_count_broadcast_line",
        f"INSERT INTO {_LINES} {_line_counted('OLD', '-1')} UNION ALL {_line_counted('NEW', '1')}",
    ),
    "CREATE TRIGGER messages_broadcast_lines_counted "
    "AFTER UPDATE OF status, channel, next_attempt_at ON messages "
    f"FOR EACH ROW WHEN ({_LINE_MOVED}) EXECUTE FUNCTION mutuality_count_broadcast_line()",
    _function(
        "mutuality_count_changed_recipient",
        f"IF {_RECIPIENT_MOVED} THEN INSERT INTO {_RECIPIENTS} VALUES "
        "(OLD.broadcast_id, OLD.status, OLD.reason, -1), "
        "(NEW.broadcast_id, NEW.status, NEW.reason, 1); END IF;\n"
        f"IF {_POINTER_MOVED} THEN INSERT INTO {_LINES} {_recipients_line('OLD', '-1')} "
        f"UNION ALL {_recipients_line('NEW', '1')}; END IF",
    ),
    "CREATE TRIGGER broadcast_recipients_counted_changed "
    "AFTER UPDATE OF broadcast_id, status, reason, message_id ON broadcast_recipients "
    f"FOR EACH ROW WHEN ({_RECIPIENT_MOVED} OR {_POINTER_MOVED}) "
    "EXECUTE FUNCTION mutuality_count_changed_recipient()",
    _function(
        "mutuality_count_added_recipients",
        f"INSERT INTO {_RECIPIENTS} SELECT {_RECIPIENT_KEYS}, count(*) FROM added "
        f"GROUP BY {_RECIPIENT_KEYS};\n"
        f"INSERT INTO {_LINES} SELECT {_LINE_KEYS}, count(*) "
        f"FROM ({_recipients_lines('added', '1')}) AS lines GROUP BY {_LINE_KEYS}",
    ),
    "CREATE TRIGGER broadcast_recipients_counted_added AFTER INSERT ON broadcast_recipients "
    "REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION mutuality_count_added_recipients()",
    _function(
        "mutuality_count_removed_recipients",
        f"INSERT INTO {_RECIPIENTS} SELECT {_RECIPIENT_KEYS}, -count(*) FROM removed "
        f"GROUP BY {_RECIPIENT_KEYS};\n"
        f"INSERT INTO {_LINES} SELECT {_LINE_KEYS}, -count(*) "
        f"FROM ({_recipients_lines('removed', '1')}) AS lines GROUP BY {_LINE_KEYS}",
    ),
    "CREATE TRIGGER broadcast_recipients_counted_removed AFTER DELETE ON broadcast_recipients "
    "REFERENCING OLD TABLE AS removed "
    "FOR EACH STATEMENT EXECUTE FUNCTION mutuality_count_removed_recipients()",
    _function(
        "mutuality_uncount_all_recipients",
        "TRUNCATE broadcast_recipient_counts, broadcast_line_counts",
    ),
    "CREATE TRIGGER broadcast_recipients_counted_truncated AFTER TRUNCATE ON broadcast_recipients "
    "FOR EACH STATEMENT EXECUTE FUNCTION mutuality_uncount_all_recipients()",
]
POSTGRESQL_TRIGGERS = {
    "messages_broadcast_lines_counted": "messages",
    "broadcast_recipients_counted_changed": "broadcast_recipients",
    "broadcast_recipients_counted_added": "broadcast_recipients",
    "broadcast_recipients_counted_removed": "broadcast_recipients",
    "broadcast_recipients_counted_truncated": "broadcast_recipients",
}
POSTGRESQL_FUNCTIONS = (
    "mutuality_count_broadcast_line()",
    "mutuality_count_changed_recipient()",
    "mutuality_count_added_recipients()",
    "mutuality_count_removed_recipients()",
    "mutuality_uncount_all_recipients()",
)

SQLITE_TRIGGERS = [
    "CREATE TRIGGER messages_broadcast_lines_counted "
    "AFTER UPDATE OF status, channel, next_attempt_at ON messages "
    f"WHEN {_sqlite(_LINE_MOVED)} BEGIN "
    f"INSERT INTO {_LINES} {_line_counted('OLD', '-1')} UNION ALL {_line_counted('NEW', '1')}; "
    "END",
    "CREATE TRIGGER broadcast_recipients_counted_changed "
    "AFTER UPDATE OF broadcast_id, status, reason, message_id ON broadcast_recipients BEGIN "
    f"INSERT INTO {_RECIPIENTS} "
    f"SELECT OLD.broadcast_id, OLD.status, OLD.reason, -1 WHERE {_sqlite(_RECIPIENT_MOVED)} "
    "UNION ALL SELECT NEW.broadcast_id, NEW.status, NEW.reason, 1 "
    f"WHERE {_sqlite(_RECIPIENT_MOVED)}; "
    f"INSERT INTO {_LINES} {_recipients_line('OLD', '-1')} AND {_sqlite(_POINTER_MOVED)} "
    f"UNION ALL {_recipients_line('NEW', '1')} AND {_sqlite(_POINTER_MOVED)}; END",
    "CREATE TRIGGER broadcast_recipients_counted_added AFTER INSERT ON broadcast_recipients "
    f"BEGIN INSERT INTO {_RECIPIENTS} VALUES (NEW.broadcast_id, NEW.status, NEW.reason, 1); "
    f"INSERT INTO {_LINES} {_recipients_line('NEW', '1')}; END",
    "CREATE TRIGGER broadcast_recipients_counted_removed AFTER DELETE ON broadcast_recipients "
    f"BEGIN INSERT INTO {_RECIPIENTS} VALUES (OLD.broadcast_id, OLD.status, OLD.reason, -1); "
    f"INSERT INTO {_LINES} {_recipients_line('OLD', '-1')}; END",
]
"""SQLite's triggers, all by row (SQLite has no other). Also what a later migration that
rebuilds `messages` or `broadcast_recipients` on SQLite must create again."""
SQLITE_TRIGGER_NAMES = (
    "messages_broadcast_lines_counted",
    "broadcast_recipients_counted_changed",
    "broadcast_recipients_counted_added",
    "broadcast_recipients_counted_removed",
)

BACK_FILL = [
    f"INSERT INTO {_RECIPIENTS} SELECT {_RECIPIENT_KEYS}, count(*) FROM broadcast_recipients "
    f"GROUP BY {_RECIPIENT_KEYS}",
    f"INSERT INTO {_LINES} SELECT r.broadcast_id, m.channel, m.status, "
    f"{_DUE.format(m='m')}, count(*) FROM broadcast_recipients AS r "
    "JOIN messages AS m ON m.id = r.message_id "
    f"GROUP BY r.broadcast_id, m.channel, m.status, {_DUE.format(m='m')}",
]
"""The counts of the broadcasts stored before: run after the triggers exist, which on
PostgreSQL lock both tables against writers until the migration commits, so no change falls
between the two."""


def upgrade() -> None:
    op.create_table(
        "broadcast_recipient_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_broadcast_recipient_counts"),
    )
    op.create_index(
        "ix_broadcast_recipient_counts_broadcast_id",
        "broadcast_recipient_counts",
        ["broadcast_id", "status", "reason", "recipients"],
    )
    op.create_table(
        "broadcast_line_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_broadcast_line_counts"),
    )
    op.create_index(
        "ix_broadcast_line_counts_broadcast_id",
        "broadcast_line_counts",
        ["broadcast_id", "channel", "status", "next_attempt_at", "lines"],
    )
    op.create_index(
        "ix_broadcast_recipients_message_id",
        "broadcast_recipients",
        ["message_id"],
        postgresql_where=sa.text("message_id IS NOT NULL"),
        sqlite_where=sa.text("message_id IS NOT NULL"),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_STATEMENTS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)
    for statement in BACK_FILL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger, table in POSTGRESQL_TRIGGERS.items():
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
        for function in POSTGRESQL_FUNCTIONS:
            op.execute(f"DROP FUNCTION {function}")
    else:
        for trigger in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {trigger}")
    op.drop_index("ix_broadcast_recipients_message_id", table_name="broadcast_recipients")
    op.drop_table("broadcast_line_counts")
    op.drop_table("broadcast_recipient_counts")
