"""An index on the message log's unredacted rows by age, for the clock's retention pass.

The pass looks for bodies older than the retention period that still hold words. Without an
index it read the whole log every hour once the backlog was redacted (nothing left to find, so
nothing to stop the scan); an index on every row's age would still walk all the redacted ones.
This one holds only the rows that still have words, so the pass reads just what it redacts.

Revision ID: 0011
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_unredacted",
        "messages",
        ["created_at"],
        postgresql_where=sa.text("text <> ''"),
        sqlite_where=sa.text("text <> ''"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_unredacted", table_name="messages")
