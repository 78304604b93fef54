"""The terminal channel is stored as `console`, not `web`: the web process now serves the staff's
console, and one word should not name two things. Rows stored as `web` are renamed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("addresses", "messages", "inbox", "group_chats")


def _rename(old: str, new: str) -> None:
    allowed = ", ".join(f"'{name}'" for name in ("telegram", "whatsapp", "sms", new))
    for table in TABLES:
        constraint = f"ck_{table}_channel"
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(constraint, type_="check")
        op.execute(sa.text(f"UPDATE {table} SET channel = :new WHERE channel = :old").bindparams(new=new, old=old))
        with op.batch_alter_table(table) as batch:
            batch.create_check_constraint(constraint, sa.text(f"channel IN ({allowed})"))


def upgrade() -> None:
    _rename("web", "console")


def downgrade() -> None:
    _rename("console", "web")
