"""Console passwords, hashed with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory
profile). Hashing is slow on purpose, so it runs in a thread, off the event loop."""

from __future__ import annotations

import asyncio
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH: Final = 10
_HASHER: Final = PasswordHasher()
_DUMMY: Final = _HASHER.hash("a password nobody has")
"""Verified against when no account matches, so an unknown login takes as long as a known one."""


class WeakPassword(ValueError):
    """A password too short to set."""


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a console password needs at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; a missing hash (no account, or no password set) never does,
    but costs the same time."""
    return await asyncio.to_thread(_verify, password_hash, password)
