"""Status callbacks that arrive before their send's receipt is recorded are kept, to be
applied when it is.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = "channel IN ('telegram', 'whatsapp', 'sms', 'console')"
STATUSES = "status IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed', 'undelivered')"


def upgrade() -> None:
    op.create_table(
        "early_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(CHANNELS, name="ck_early_statuses_channel"),
        sa.CheckConstraint(STATUSES, name="ck_early_statuses_status"),
        sa.PrimaryKeyConstraint("id", name="pk_early_statuses"),
    )
    op.create_index("ix_early_statuses_channel", "early_statuses", ["channel", "provider_message_id"])


def downgrade() -> None:
    op.drop_index("ix_early_statuses_channel", table_name="early_statuses")
    op.drop_table("early_statuses")
