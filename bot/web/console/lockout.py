"""The lock-out rule: five wrong passwords for one account within 15 minutes lock that account
(and only it) for 15 minutes; the right password is refused too while it lasts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from storage.repositories.sign_in import Credentials

MAX_FAILURES: Final = 5
WINDOW: Final = timedelta(minutes=15)
LOCK: Final = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Failures:
    """What to store after a wrong password."""

    failed_logins: int
    failed_since: datetime | None
    locked_until: datetime | None


def is_locked(credentials: Credentials, now: datetime) -> bool:
    return credentials.locked_until is not None and now < credentials.locked_until


def after_failure(credentials: Credentials, now: datetime) -> Failures:
    """Count one more wrong password; the fifth within the window locks the account and starts
    the count afresh for after the lock."""
    fresh = credentials.failed_since is None or now - credentials.failed_since > WINDOW
    count = 1 if fresh else credentials.failed_logins + 1
    since = now if fresh else credentials.failed_since
    if count >= MAX_FAILURES:
        return Failures(0, None, now + LOCK)
    return Failures(count, since, None)
