"""The mapped classes' tables, for the Core statements of the hot paths.

A statement on a table (not on a mapped class) skips the ORM: no identity map, no object
loading, no flush; and a statement built once at import, its values left as `bindparam`s, is
not rebuilt, nor its cache key recomputed, on each call. The worker's turn, the webhook's store
and the sender's rounds run such statements; the rest of the repositories use the ORM, which
reads better and is fast enough for what runs a few times a minute.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from storage.models import (
    Address,
    Answer,
    Base,
    CheckinResult,
    CheckinSession,
    EarlyStatus,
    Group,
    HelpRecord,
    InboxEntry,
    Member,
    Membership,
    Message,
)


def table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


ADDRESSES = table(Address)
ANSWERS = table(Answer)
CHECKIN_RESULTS = table(CheckinResult)
EARLY_STATUSES = table(EarlyStatus)
GROUPS = table(Group)
HELP_RECORDS = table(HelpRecord)
INBOX = table(InboxEntry)
MEMBERS = table(Member)
MEMBERSHIPS = table(Membership)
MESSAGES = table(Message)
SESSIONS = table(CheckinSession)
