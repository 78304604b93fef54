"""Initial schema: groups, members, addresses, memberships, sessions, answers, help records,
messages and stories.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Types are spelled out here rather than imported from `storage.column_types`, so this revision
stays the same whatever later happens to the models: timestamps are `TIMESTAMP WITH TIME ZONE`
(DATETIME on SQLite) and exact decimals `NUMERIC(24, 6)` (TEXT on SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = "channel IN ('telegram', 'whatsapp', 'sms', 'web')"


def timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def exact_decimal(name: str) -> sa.Column:
    return sa.Column(
        name, sa.Numeric(24, 6, asdecimal=True).with_variant(sa.Text(), "sqlite"), nullable=True
    )


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("name_key", sa.Text(), nullable=False),
        sa.Column("join_code", sa.String(length=6), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_groups"),
        sa.UniqueConstraint("join_code", name="uq_groups_join_code"),
        sa.UniqueConstraint("name_key", name="uq_groups_name_key"),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("locale", sa.String(length=35), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("business_type", sa.String(length=120), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=True),
        timestamp("consented_at", nullable=True),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        timestamp("opted_out_at", nullable=True),
        timestamp("onboarded_at", nullable=True),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_members"),
    )
    op.create_table(
        "addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        timestamp("created_at"),
        timestamp("last_inbound_at", nullable=True),
        sa.CheckConstraint(CHANNELS, name="ck_addresses_channel"),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="fk_addresses_member_id_members"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_addresses"),
        sa.UniqueConstraint("channel", "value", name="uq_addresses_channel_value"),
    )
    op.create_index("ix_addresses_member_id", "addresses", ["member_id"])

    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        timestamp("joined_at"),
        timestamp("left_at", nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_memberships_group_id_groups"),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="fk_memberships_member_id_members"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_memberships"),
    )
    op.create_index("ix_memberships_group_id", "memberships", ["group_id"])
    op.create_index("ix_memberships_member_id", "memberships", ["member_id"])
    op.create_index(
        "uq_memberships_current_member_id",
        "memberships",
        ["member_id"],
        unique=True,
        sqlite_where=sa.text("left_at IS NULL"),
        postgresql_where=sa.text("left_at IS NULL"),
    )

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address_value", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.CheckConstraint(CHANNELS, name="ck_messages_channel"),
        sa.CheckConstraint("direction IN ('in', 'out')", name="ck_messages_direction"),
        sa.CheckConstraint(
            "status IN ('received', 'queued', 'sent', 'delivered', 'read', 'failed', "
            "'undelivered')",
            name="ck_messages_status",
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_messages_member_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint(
            "channel", "provider_message_id", name="uq_messages_channel_provider_message_id"
        ),
    )
    op.create_index("ix_messages_member_id_created_at", "messages", ["member_id", "created_at"])

    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("checkin_id", sa.String(length=64), nullable=False),
        sa.Column("checkin_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        timestamp("started_at"),
        timestamp("updated_at"),
        timestamp("ended_at", nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'completed', 'expired', 'stopped', 'replaced', 'restarted')",
            name="ck_sessions_status",
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_sessions_member_id_members"),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_member_id", "sessions", ["member_id"])
    op.create_index(
        "uq_sessions_active_member_id",
        "sessions",
        ["member_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )

    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("checkin_id", sa.String(length=64), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("answer_type", sa.String(length=32), nullable=False),
        exact_decimal("value_number"),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("value_choice", sa.Text(), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("value_json", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("raw_text", sa.Text(), nullable=True),
        timestamp("created_at"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_answers_group_id_groups"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_answers_member_id_members"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_answers_session_id_sessions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_answers"),
    )
    op.create_index("ix_answers_created_at", "answers", ["created_at"])
    op.create_index("ix_answers_group_id_created_at", "answers", ["group_id", "created_at"])
    op.create_index("ix_answers_member_id_created_at", "answers", ["member_id", "created_at"])
    op.create_index("ix_answers_session_id", "answers", ["session_id"])

    op.create_table(
        "help_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("giver_id", sa.Integer(), nullable=False),
        sa.Column("receiver_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("reported_by_id", sa.Integer(), nullable=False),
        timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["giver_id"], ["members.id"], name="fk_help_records_giver_id_members"
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name="fk_help_records_group_id_groups"
        ),
        sa.ForeignKeyConstraint(
            ["receiver_id"], ["members.id"], name="fk_help_records_receiver_id_members"
        ),
        sa.ForeignKeyConstraint(
            ["reported_by_id"], ["members.id"], name="fk_help_records_reported_by_id_members"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_help_records_session_id_sessions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_help_records"),
    )
    op.create_index("ix_help_records_created_at", "help_records", ["created_at"])
    op.create_index("ix_help_records_giver_id", "help_records", ["giver_id"])
    op.create_index(
        "ix_help_records_group_id_created_at", "help_records", ["group_id", "created_at"]
    )
    op.create_index("ix_help_records_receiver_id", "help_records", ["receiver_id"])

    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        timestamp("created_at"),
        sa.CheckConstraint(
            "status IN ('proposed', 'approved', 'rejected', 'published')",
            name="ck_stories_status",
        ),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_stories_group_id_groups"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name="fk_stories_member_id_members"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_stories_session_id_sessions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
    )
    op.create_index("ix_stories_member_id", "stories", ["member_id"])
    op.create_index("ix_stories_status_created_at", "stories", ["status", "created_at"])


def downgrade() -> None:
    for table in (
        "stories",
        "help_records",
        "answers",
        "sessions",
        "messages",
        "memberships",
        "addresses",
        "members",
        "groups",
    ):
        op.drop_table(table)
