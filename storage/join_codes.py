"""Join codes: six characters a member can read aloud and type on any keypad without confusion.

The alphabet leaves out 0/O, 1/I/L so that no two characters are mistaken for each other.
"""

from __future__ import annotations

import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 6


def new_join_code() -> str:
    """A random code of `LENGTH` characters from `ALPHABET` (cryptographically random, so codes
    cannot be guessed from one another)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def canonical_join_code(code: str) -> str:
    """The code as stored: surrounding and inner spaces and dashes removed, upper case."""
    return "".join(code.split()).replace("-", "").upper()
