"""Everything the engine may know about the world, handed in by the caller.

The engine never reads the clock, a database or a global: the time, the member's profile, the
people in their group and any group a typed join code names all arrive here, so the same input
always gives the same output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from conversations.answers import GroupRef, MemberRef
from conversations.i18n import Catalogs
from conversations.words import Lexicon


@dataclass(frozen=True, slots=True)
class MemberProfile:
    id: int
    locale: str
    default_currency: str
    name: str | None = None
    currency: str | None = None
    business_type: str | None = None
    consent: bool | None = None
    opted_out: bool = False
    onboarded: bool = False
    group: GroupRef | None = None

    @property
    def money_currency(self) -> str:
        return self.currency or self.default_currency


@dataclass(frozen=True, slots=True)
class Context:
    """`now` is aware and in the member's own time zone, so "today" means their today."""

    now: datetime
    member: MemberProfile
    catalogs: Catalogs
    lexicon: Lexicon
    group_members: tuple[MemberRef, ...] = ()
    groups_by_code: Mapping[str, GroupRef] = field(default_factory=dict)
