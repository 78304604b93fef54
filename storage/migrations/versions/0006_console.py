"""The coordinator console: staff sign-in (email, Argon2id hash, lock-out, language), the
groups each staff user works with, the audit log, private notes on members, and a member's
take-over state.

Revision ID: 0006
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("email", sa.String(254), nullable=True))
        batch.add_column(sa.Column("password_hash", sa.Text(), nullable=True))
        batch.add_column(sa.Column("language", sa.String(35), nullable=True))
        batch.add_column(sa.Column("session_version", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch.add_column(sa.Column("failed_logins", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch.add_column(timestamp("failed_since", nullable=True))
        batch.add_column(timestamp("locked_until", nullable=True))
    op.create_index("uq_staff_email", "staff", ["email"], unique=True)
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("taken_over_by_id", sa.Integer(), nullable=True))
        batch.add_column(timestamp("taken_over_at", nullable=True))
        batch.add_column(timestamp("waiting_since", nullable=True))
    op.create_table(
        "staff_groups",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name="fk_staff_groups_staff_id_staff"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_staff_groups_group_id_groups"),
        sa.PrimaryKeyConstraint("staff_id", "group_id", name="pk_staff_groups"),
    )
    op.create_index("ix_staff_groups_group_id", "staff_groups", ["group_id"])
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
    op.create_table(
        "member_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        timestamp("created_at"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_member_notes_member_id_members"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name="fk_member_notes_staff_id_staff"),
        sa.PrimaryKeyConstraint("id", name="pk_member_notes"),
    )
    op.create_index("ix_member_notes_member_id_created_at", "member_notes", ["member_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_member_notes_member_id_created_at", table_name="member_notes")
    op.drop_table("member_notes")
    op.drop_index("ix_audit_log_member_id_at", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_staff_groups_group_id", table_name="staff_groups")
    op.drop_table("staff_groups")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("waiting_since")
        batch.drop_column("taken_over_at")
        batch.drop_column("taken_over_by_id")
    op.drop_index("uq_staff_email", table_name="staff")
    with op.batch_alter_table("staff") as batch:
        for column in ("locked_until", "failed_since", "failed_logins", "session_version", "language", "password_hash", "email"):
            batch.drop_column(column)
