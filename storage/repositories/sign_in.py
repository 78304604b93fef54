"""What the console's sign-in reads and writes about a staff user: their password hash, the
failed attempts that lock an account, and the version that ends their sessions.

Kept apart from `StaffRecord` so a password hash never travels with the record every page uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Staff
from storage.repositories.staff import CURRENT, normalize_email


@dataclass(frozen=True, slots=True)
class Credentials:
    """A staff user's sign-in state."""

    staff_id: int
    password_hash: str | None
    failed_logins: int
    failed_since: datetime | None
    locked_until: datetime | None
    session_version: int


def _credentials(row: Staff) -> Credentials:
    return Credentials(
        staff_id=row.id,
        password_hash=row.password_hash,
        failed_logins=row.failed_logins,
        failed_since=row.failed_since,
        locked_until=row.locked_until,
        session_version=row.session_version,
    )


class SignInRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def for_login(self, login: str) -> Credentials | None:
        """The credentials of the working (not removed) staff user who signs in as `login`:
        their email (any case) or their +E.164 phone. Locked with `FOR UPDATE` on PostgreSQL,
        so two wrong attempts at the same moment both count."""
        clean = login.strip()
        if not clean:
            return None
        statement = (
            select(Staff)
            .where(or_(Staff.email == normalize_email(clean), Staff.phone == clean), CURRENT)
            .with_for_update()
        )
        row = await self._session.scalar(statement)
        return None if row is None else _credentials(row)

    async def get(self, staff_id: int) -> Credentials | None:
        row = await self._session.get(Staff, staff_id)
        return None if row is None else _credentials(row)

    async def set_password_hash(self, staff_id: int, password_hash: str) -> None:
        """Store a new hash; any lock-out ends and every session signed in before ends too."""
        await self._session.execute(
            update(Staff)
            .where(Staff.id == staff_id)
            .values(
                password_hash=password_hash,
                failed_logins=0,
                failed_since=None,
                locked_until=None,
                session_version=Staff.session_version + 1,
            )
        )

    async def record_failures(
        self,
        staff_id: int,
        *,
        failed_logins: int,
        failed_since: datetime | None,
        locked_until: datetime | None,
    ) -> None:
        await self._session.execute(
            update(Staff)
            .where(Staff.id == staff_id)
            .values(
                failed_logins=failed_logins, failed_since=failed_since, locked_until=locked_until
            )
        )

    async def end_sessions(self, staff_id: int) -> None:
        """Sign this staff user out everywhere: every cookie carries the version it was issued
        under, and a cookie with an older one is refused."""
        await self._session.execute(
            update(Staff)
            .where(Staff.id == staff_id)
            .values(session_version=Staff.session_version + 1)
        )
