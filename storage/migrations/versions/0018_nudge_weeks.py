"""The lines of the nudges the evidence report counts (check-in invitations and reminders) keep
their week, on the calendar of the group their member then belonged to, so the program's
invitations and reminders per week are counted along an index of (week, member) instead of
joining half a million lines to the memberships of their time and converting each to its time
zone on every report. `MessageRepository.log_many` sets the week as a line is written, a group's
change of time zone rewrites its members' lines, and the lines written before this revision get
theirs here. The column is added without rebuilding the table, so the search triggers on
`messages` (0013) stay as they are.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.column_types import UTCDateTime
from storage.weeks import local_week

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as the models have them at this revision
_NUDGE_SQLITE = "json_extract(payload, '$.nudge')"
_NUDGE_POSTGRESQL = "(payload ->> 'nudge')"
_KINDS = {"checkin_invitation": "ix_messages_invitations", "reminder": "ix_messages_reminders"}

_messages = sa.table(
    "messages",
    sa.column("id", sa.Integer),
    sa.column("member_id", sa.Integer),
    sa.column("created_at", UTCDateTime),
    sa.column("week", sa.Integer),
)
_memberships = sa.table(
    "memberships",
    sa.column("member_id", sa.Integer),
    sa.column("group_id", sa.Integer),
    sa.column("joined_at", UTCDateTime),
    sa.column("left_at", UTCDateTime),
)
_groups = sa.table("groups", sa.column("id", sa.Integer), sa.column("timezone", sa.String))


def _lines(kind: str, nudge: str) -> sa.TextClause:
    return sa.text(f"direction = 'out' AND {nudge} = '{kind}'")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    nudge = _NUDGE_SQLITE if dialect == "sqlite" else _NUDGE_POSTGRESQL
    op.add_column("messages", sa.Column("week", sa.Integer(), nullable=True))
    zone_then = (
        sa.select(_groups.c.timezone)
        .join(_memberships, _memberships.c.group_id == _groups.c.id)
        .where(
            _memberships.c.member_id == _messages.c.member_id,
            _memberships.c.joined_at <= _messages.c.created_at,
            sa.or_(
                _memberships.c.left_at.is_(None), _memberships.c.left_at > _messages.c.created_at
            ),
        )
        .limit(1)
        .scalar_subquery()
    )
    counted = sa.or_(*(_lines(kind, nudge).self_group() for kind in _KINDS))
    op.execute(
        _messages.update()
        .where(counted, _messages.c.member_id.is_not(None))
        .values(week=local_week(_messages.c.created_at, zone_then, dialect))
    )
    for kind, name in _KINDS.items():
        op.create_index(
            f"{name}_weeks",
            "messages",
            ["week", "member_id", "created_at", "status"],
            postgresql_where=_lines(kind, _NUDGE_POSTGRESQL),
            sqlite_where=_lines(kind, _NUDGE_SQLITE),
        )


def downgrade() -> None:
    for name in _KINDS.values():
        op.drop_index(f"{name}_weeks", table_name="messages")
    op.drop_column("messages", "week")
