"""Indexes for the evidence report: each member's sessions of a check-in by end time (the report
reads a member's first and last check-ins from both ends of it), and the proactive lines (the
invitations and reminders it counts) apart from the rest of the message log.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_sessions_member_checkin_ended", "sessions", ["member_id", "checkin_id", "ended_at"]
    )
    op.create_index(
        "ix_messages_nudges",
        "messages",
        ["created_at"],
        postgresql_where=sa.text("direction = 'out' AND (payload ->> 'nudge') IS NOT NULL"),
        sqlite_where=sa.text("direction = 'out' AND json_extract(payload, '$.nudge') IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_nudges", table_name="messages")
    op.drop_index("ix_sessions_member_checkin_ended", table_name="sessions")
