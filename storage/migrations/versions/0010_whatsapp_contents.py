"""WhatsApp interactive contents (quick replies, list pickers) created at Twilio, by key.

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_contents",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("content_sid", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_whatsapp_contents")),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_contents")
