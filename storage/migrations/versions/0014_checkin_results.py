"""Completed check-ins as the evidence report reads them: one narrow row per completed session
with its group and its amounts, written by the turn that completes it (see
`storage.repositories.checkin_results`). The rows of check-ins completed before this revision
are back-filled here from the sessions and answers, a few thousand sessions at a time.

Revision ID: 0014
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.column_types import ExactDecimal, UTCDateTime
from storage.repositories.checkin_results import CompletedSession, SessionAnswer, summaries

revision: str = "0014"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SESSIONS_AT_ONCE = 5000

_sessions = sa.table(
    "sessions",
    sa.column("id", sa.Integer),
    sa.column("member_id", sa.Integer),
    sa.column("checkin_id", sa.String),
    sa.column("status", sa.String),
    sa.column("ended_at", UTCDateTime),
)
_answers = sa.table(
    "answers",
    sa.column("id", sa.Integer),
    sa.column("session_id", sa.Integer),
    sa.column("group_id", sa.Integer),
    sa.column("step_id", sa.String),
    sa.column("value_number", ExactDecimal),
    sa.column("currency", sa.String),
    sa.column("skipped", sa.Boolean),
)
_results = sa.table(
    "checkin_results",
    sa.column("session_id", sa.Integer),
    sa.column("member_id", sa.Integer),
    sa.column("group_id", sa.Integer),
    sa.column("checkin_id", sa.String),
    sa.column("ended_at", UTCDateTime),
    sa.column("amounts", sa.JSON),
)


def upgrade() -> None:
    op.create_table(
        "checkin_results",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("checkin_id", sa.String(64), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amounts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_checkin_results_session_id_sessions"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="fk_checkin_results_member_id_members"
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name="fk_checkin_results_group_id_groups"
        ),
        sa.PrimaryKeyConstraint("session_id", name="pk_checkin_results"),
    )
    _back_fill()
    op.create_index(
        "ix_checkin_results_member_id_checkin_id",
        "checkin_results",
        ["member_id", "checkin_id", "ended_at"],
    )
    op.create_index(
        "ix_checkin_results_group_id_checkin_id",
        "checkin_results",
        ["group_id", "checkin_id", "ended_at"],
    )
    op.create_index(
        "ix_checkin_results_checkin_id_ended_at", "checkin_results", ["checkin_id", "ended_at"]
    )


def _back_fill() -> None:
    connection = op.get_bind()
    after = 0
    while True:
        sessions = [
            CompletedSession(*row)
            for row in connection.execute(
                sa.select(
                    _sessions.c.id,
                    _sessions.c.member_id,
                    _sessions.c.checkin_id,
                    _sessions.c.ended_at,
                )
                .where(
                    _sessions.c.id > after,
                    _sessions.c.status == "completed",
                    _sessions.c.ended_at.is_not(None),
                )
                .order_by(_sessions.c.id)
                .limit(SESSIONS_AT_ONCE)
            )
        ]
        if not sessions:
            return
        after = sessions[-1].id
        answers = [
            SessionAnswer(*row)
            for row in connection.execute(
                sa.select(
                    _answers.c.session_id,
                    _answers.c.group_id,
                    _answers.c.step_id,
                    _answers.c.value_number,
                    _answers.c.currency,
                    _answers.c.skipped,
                )
                .where(_answers.c.session_id.between(sessions[0].id, after))
                .order_by(_answers.c.session_id, _answers.c.id)
            )
        ]
        connection.execute(sa.insert(_results), summaries(sessions, answers))


def downgrade() -> None:
    op.drop_table("checkin_results")
