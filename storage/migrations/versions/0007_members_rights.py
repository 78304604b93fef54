"""Members' data rights: when a member was erased, and one-time links to a member's copy of
their data. (Which groups each staff user works with, which binding a group chat needs, and the
audit log that records erasures and exports are the console's tables, from revision 0006.)

Revision ID: 0007
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(timestamp("erased_at", nullable=True))
    op.create_table(
        "data_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        timestamp("created_at"),
        timestamp("expires_at"),
        timestamp("used_at", nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_data_copies_member_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_data_copies"),
        sa.UniqueConstraint("token_hash", name="uq_data_copies_token_hash"),
    )
    op.create_index("ix_data_copies_member_id", "data_copies", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_data_copies_member_id", table_name="data_copies")
    op.drop_table("data_copies")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("erased_at")
