"""Typed answer values: what a member's reply becomes once it is understood.

These types travel from the engine to storage and exports; they are plain, frozen and hashable so
a session can be compared, copied and serialised without surprises. Amounts are `Decimal`, never
floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum


class AnswerType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    MONEY = "money"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    YES_NO = "yes_no"
    DATE = "date"
    PHOTO = "photo"
    LOCATION = "location"
    MEMBER = "member"
    LANGUAGE = "language"
    CURRENCY = "currency"
    JOIN_CODE = "join_code"


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Location:
    latitude: Decimal
    longitude: Decimal


@dataclass(frozen=True, slots=True)
class Photo:
    """A picture the member sent; `media_ref` is the channel's id or URL for it."""

    media_ref: str
    content_type: str = "image/jpeg"


@dataclass(frozen=True, slots=True)
class MemberRef:
    """Another member of the same group, as chosen by name."""

    member_id: int
    name: str


@dataclass(frozen=True, slots=True)
class GroupRef:
    group_id: int
    name: str
    join_code: str


AnswerValue = (
    str
    | int
    | bool
    | Decimal
    | Money
    | date
    | tuple[str, ...]
    | Location
    | Photo
    | MemberRef
    | GroupRef
)
