"""Members' data rights and trusted group chats: when a member was erased, one-time links to
a member's copy of their data, which groups each
staff user works with (binding a group chat takes one of them), and the audit log that records
erasures and exports made by staff.

`staff_groups` and `audit_log` are also what the coordinator console needs; they are created
here only when they do not exist yet, so this revision and the console's can run in either
order and build the same tables.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _exists(table: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(table)


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
    if not _exists("staff_groups"):
        op.create_table(
            "staff_groups",
            sa.Column("staff_id", sa.Integer(), nullable=False),
            sa.Column("group_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name="fk_staff_groups_staff_id_staff"),
            sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_staff_groups_group_id_groups"),
            sa.PrimaryKeyConstraint("staff_id", "group_id", name="pk_staff_groups"),
        )
        op.create_index("ix_staff_groups_group_id", "staff_groups", ["group_id"])
    if not _exists("audit_log"):
        op.create_table(
            "audit_log",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("staff_id", sa.Integer(), nullable=True),
            sa.Column("action", sa.String(32), nullable=False),
            sa.Column("member_id", sa.Integer(), nullable=True),
            sa.Column("detail", sa.Text(), nullable=True),
            timestamp("at"),
            sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name="fk_audit_log_staff_id_staff"),
            sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_audit_log_member_id_members"),
            sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        )
        op.create_index("ix_audit_log_at", "audit_log", ["at"])
        op.create_index("ix_audit_log_member_id_at", "audit_log", ["member_id", "at"])


def downgrade() -> None:
    # staff_groups and audit_log may belong to the console's revision: they are left in place.
    op.drop_index("ix_data_copies_member_id", table_name="data_copies")
    op.drop_table("data_copies")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("erased_at")
