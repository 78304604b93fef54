"""The proactive side: group schedules and quiet hours, session nudges, staff, stories
moderation, broadcasts and their recipients, weekly highlights, and the clock's lease.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.add_column(
            sa.Column("checkin_schedule", sa.String(64), server_default=sa.text("'0 9 * * MON'"), nullable=False)
        )
        batch.add_column(
            sa.Column("highlight_schedule", sa.String(64), server_default=sa.text("'0 18 * * SUN'"), nullable=False)
        )
        batch.add_column(sa.Column("quiet_start", sa.String(5), server_default=sa.text("'21:00'"), nullable=False))
        batch.add_column(sa.Column("quiet_end", sa.String(5), server_default=sa.text("'07:00'"), nullable=False))
        batch.add_column(timestamp("next_checkin_at", nullable=True))
        batch.add_column(timestamp("next_highlight_at", nullable=True))
    op.create_index("ix_groups_next_checkin_at", "groups", ["next_checkin_at"])
    op.create_index("ix_groups_next_highlight_at", "groups", ["next_highlight_at"])

    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=True))

    with op.batch_alter_table("sessions") as batch:
        batch.add_column(timestamp("next_nudge_at", nullable=True))
        batch.add_column(timestamp("expires_at", nullable=True))
    op.create_index(
        "ix_sessions_next_nudge_at",
        "sessions",
        ["next_nudge_at"],
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )

    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("telegram_id", sa.String(64), nullable=True),
        timestamp("created_at"),
        sa.CheckConstraint("role IN ('admin', 'coordinator', 'staff')", name="ck_staff_role"),
        sa.PrimaryKeyConstraint("id", name="pk_staff"),
        sa.UniqueConstraint("phone", name="uq_staff_phone"),
        sa.UniqueConstraint("telegram_id", name="uq_staff_telegram_id"),
    )

    with op.batch_alter_table("stories") as batch:
        batch.alter_column("member_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("original_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("author_staff_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("moderated_by_id", sa.Integer(), nullable=True))
        batch.add_column(timestamp("moderated_at", nullable=True))
        batch.add_column(sa.Column("edited_by_id", sa.Integer(), nullable=True))
        batch.add_column(timestamp("edited_at", nullable=True))
        batch.add_column(timestamp("published_at", nullable=True))
        batch.create_foreign_key("fk_stories_author_staff_id_staff", "staff", ["author_staff_id"], ["id"])
        batch.create_foreign_key("fk_stories_moderated_by_id_staff", "staff", ["moderated_by_id"], ["id"])
        batch.create_foreign_key("fk_stories_edited_by_id_staff", "staff", ["edited_by_id"], ["id"])

    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(35), nullable=True),
        sa.Column("segment", sa.Text(), nullable=True),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        timestamp("scheduled_at"),
        timestamp("created_at"),
        timestamp("planned_at", nullable=True),
        timestamp("finished_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('scheduled', 'planning', 'sending', 'done', 'cancelled')",
            name="ck_broadcasts_status",
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["staff.id"], name="fk_broadcasts_created_by_id_staff"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_broadcasts_group_id_groups"),
        sa.PrimaryKeyConstraint("id", name="pk_broadcasts"),
    )
    op.create_index("ix_broadcasts_status_scheduled_at", "broadcasts", ["status", "scheduled_at"])

    op.create_table(
        "broadcast_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("address", sa.String(255), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('planned', 'queued', 'skipped')", name="ck_broadcast_recipients_status"
        ),
        sa.ForeignKeyConstraint(
            ["broadcast_id"], ["broadcasts.id"], name="fk_broadcast_recipients_broadcast_id_broadcasts"
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_broadcast_recipients_member_id_members"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_broadcast_recipients_message_id_messages"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_broadcast_recipients"),
        sa.UniqueConstraint(
            "broadcast_id", "member_id", name="uq_broadcast_recipients_broadcast_id_member_id"
        ),
    )
    op.create_index(
        "ix_broadcast_recipients_unqueued",
        "broadcast_recipients",
        ["broadcast_id", "id"],
        sqlite_where=sa.text("message_id IS NULL AND status = 'planned'"),
        postgresql_where=sa.text("message_id IS NULL AND status = 'planned'"),
    )

    op.create_table(
        "highlights",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        timestamp("created_at"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_highlights_group_id_groups"),
        sa.PrimaryKeyConstraint("id", name="pk_highlights"),
        sa.UniqueConstraint("group_id", "week", name="uq_highlights_group_id_week"),
    )

    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        timestamp("expires_at"),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("highlights")
    op.drop_index("ix_broadcast_recipients_unqueued", table_name="broadcast_recipients")
    op.drop_table("broadcast_recipients")
    op.drop_index("ix_broadcasts_status_scheduled_at", table_name="broadcasts")
    op.drop_table("broadcasts")
    with op.batch_alter_table("stories") as batch:
        batch.drop_constraint("fk_stories_edited_by_id_staff", type_="foreignkey")
        batch.drop_constraint("fk_stories_moderated_by_id_staff", type_="foreignkey")
        batch.drop_constraint("fk_stories_author_staff_id_staff", type_="foreignkey")
        for column in (
            "published_at", "edited_at", "edited_by_id", "moderated_at", "moderated_by_id",
            "author_staff_id", "original_text",
        ):
            batch.drop_column(column)
        batch.alter_column("member_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("staff")
    op.drop_index("ix_sessions_next_nudge_at", table_name="sessions")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("next_nudge_at")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("timezone")
    op.drop_index("ix_groups_next_highlight_at", table_name="groups")
    op.drop_index("ix_groups_next_checkin_at", table_name="groups")
    with op.batch_alter_table("groups") as batch:
        for column in (
            "next_highlight_at", "next_checkin_at", "quiet_end", "quiet_start",
            "highlight_schedule", "checkin_schedule",
        ):
            batch.drop_column(column)
