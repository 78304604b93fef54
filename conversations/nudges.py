"""When a running check-in next needs the clock: its next reminder or its expiry.

Reminder offsets and the expiry are counted from the session's start, as the definition says
(`reminders: [24h, 72h]`, `expires_after: 6d`). `SessionState.reminders_sent` counts the
reminders already handled (sent, or passed over silently when their moment was gone).
"""

from __future__ import annotations

from datetime import datetime

from conversations.definition import Checkin
from conversations.session import SessionState


def expires_at(checkin: Checkin, state: SessionState) -> datetime | None:
    return state.started_at + checkin.expires_after if checkin.expires_after else None


def next_reminder_at(checkin: Checkin, state: SessionState) -> datetime | None:
    if state.reminders_sent >= len(checkin.reminders):
        return None
    return state.started_at + checkin.reminders[state.reminders_sent]


def next_nudge_at(checkin: Checkin, state: SessionState) -> datetime | None:
    moments = [m for m in (next_reminder_at(checkin, state), expires_at(checkin, state)) if m]
    return min(moments) if moments else None
