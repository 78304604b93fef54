"""The durable pipeline: the inbox, outbox bookkeeping on messages, blocked addresses and
group chats.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = "channel IN ('telegram', 'whatsapp', 'sms', 'web')"


def timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("addresses") as batch:
        batch.add_column(timestamp("blocked_at", nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch.add_column(timestamp("next_attempt_at", nullable=True))
        batch.add_column(timestamp("lease_until", nullable=True))
    op.create_index(
        "ix_messages_outbox",
        "messages",
        ["next_attempt_at", "id"],
        sqlite_where=sa.text("status = 'queued' AND direction = 'out'"),
        postgresql_where=sa.text("status = 'queued' AND direction = 'out'"),
    )
    op.create_index(
        "ix_messages_outbox_chat",
        "messages",
        ["channel", "address_value", "id"],
        sqlite_where=sa.text("status = 'queued' AND direction = 'out'"),
        postgresql_where=sa.text("status = 'queued' AND direction = 'out'"),
    )
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=128), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        timestamp("received_at"),
        timestamp("processed_at", nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(CHANNELS, name="ck_inbox_channel"),
        sa.PrimaryKeyConstraint("id", name="pk_inbox"),
        sa.UniqueConstraint("channel", "provider_id", name="uq_inbox_channel_provider_id"),
    )
    op.create_index(
        "ix_inbox_pending",
        "inbox",
        ["address", "id"],
        sqlite_where=sa.text("processed_at IS NULL"),
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.create_table(
        "group_chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        timestamp("created_at"),
        timestamp("linked_at", nullable=True),
        sa.CheckConstraint(CHANNELS, name="ck_group_chats_channel"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_group_chats_group_id_groups"),
        sa.PrimaryKeyConstraint("id", name="pk_group_chats"),
        sa.UniqueConstraint("channel", "chat_id", name="uq_group_chats_channel_chat_id"),
    )
    op.create_index("ix_group_chats_group_id", "group_chats", ["group_id"])


def downgrade() -> None:
    op.drop_index("ix_group_chats_group_id", table_name="group_chats")
    op.drop_table("group_chats")
    op.drop_index("ix_inbox_pending", table_name="inbox")
    op.drop_table("inbox")
    op.drop_index("ix_messages_outbox", table_name="messages")
    op.drop_index("ix_messages_outbox_chat", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
    with op.batch_alter_table("addresses") as batch:
        batch.drop_column("blocked_at")
