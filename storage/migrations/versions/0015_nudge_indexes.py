"""The evidence report counts invitations and reminders from a partial index of each kind's
lines (member, moment, status) instead of the index of all proactive lines by moment: the
count then reads the index alone and never parses a line's JSON payload, which is what made
counting a large program's nudges slow.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as the models have them at this revision
_NUDGE_SQLITE = "json_extract(payload, '$.nudge')"
_NUDGE_POSTGRESQL = "(payload ->> 'nudge')"
_KINDS = {"checkin_invitation": "ix_messages_invitations", "reminder": "ix_messages_reminders"}


def _lines(kind: str, nudge: str) -> sa.TextClause:
    return sa.text(f"direction = 'out' AND {nudge} = '{kind}'")


def upgrade() -> None:
    for kind, name in _KINDS.items():
        op.create_index(
            name,
            "messages",
            ["member_id", "created_at", "status"],
            postgresql_where=_lines(kind, _NUDGE_POSTGRESQL),
            sqlite_where=_lines(kind, _NUDGE_SQLITE),
        )
    op.drop_index("ix_messages_nudges", table_name="messages")


def downgrade() -> None:
    op.create_index(
        "ix_messages_nudges",
        "messages",
        ["created_at"],
        postgresql_where=sa.text(f"direction = 'out' AND {_NUDGE_POSTGRESQL} IS NOT NULL"),
        sqlite_where=sa.text(f"direction = 'out' AND {_NUDGE_SQLITE} IS NOT NULL"),
    )
    for name in _KINDS.values():
        op.drop_index(name, table_name="messages")
