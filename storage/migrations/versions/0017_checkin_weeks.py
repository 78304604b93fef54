"""Each completed check-in keeps its week (on its group's calendar), so the evidence report
counts check-ins per week, and finds the weeks at the two ends of a member's series, from an
index instead of converting every row's time to its group's time zone on every report. The
week is written with the row (`storage.repositories.checkin_results`) and rewritten for a
group's rows when the group changes its time zone (`storage.repositories.groups`); the rows
written before this revision get theirs here, in SQL.

On PostgreSQL the amounts become `jsonb`, parsed once when written rather than at every read.

Members active in the last weeks are counted from a (moment, member) index of the answers,
which answers that count from the index alone, where the index of moments alone made it read
every answer of those weeks from the table.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.column_types import UTCDateTime
from storage.weeks import local_week

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_groups = sa.table("groups", sa.column("id", sa.Integer), sa.column("timezone", sa.String))
_results = sa.table(
    "checkin_results",
    sa.column("group_id", sa.Integer),
    sa.column("ended_at", UTCDateTime),
    sa.column("week", sa.Integer),
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("checkin_results") as batch:
        batch.add_column(sa.Column("week", sa.Integer(), nullable=True))
    zone = (
        sa.select(_groups.c.timezone).where(_groups.c.id == _results.c.group_id).scalar_subquery()
    )
    op.execute(_results.update().values(week=local_week(_results.c.ended_at, zone, dialect)))
    with op.batch_alter_table("checkin_results") as batch:
        batch.alter_column("week", existing_type=sa.Integer(), nullable=False)
        batch.create_index(
            "ix_checkin_results_checkin_id_week", ["checkin_id", "week", "member_id", "ended_at"]
        )
    op.create_index("ix_answers_created_at_member_id", "answers", ["created_at", "member_id"])
    op.drop_index("ix_answers_created_at", table_name="answers")
    if dialect == "postgresql":
        op.alter_column(
            "checkin_results",
            "amounts",
            type_=postgresql.JSONB(),
            existing_type=sa.JSON(),
            postgresql_using="amounts::jsonb",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "checkin_results",
            "amounts",
            type_=sa.JSON(),
            existing_type=postgresql.JSONB(),
            postgresql_using="amounts::json",
        )
    op.create_index("ix_answers_created_at", "answers", ["created_at"])
    op.drop_index("ix_answers_created_at_member_id", table_name="answers")
    with op.batch_alter_table("checkin_results") as batch:
        batch.drop_index("ix_checkin_results_checkin_id_week")
        batch.drop_column("week")
