"""Answers: every typed value a member gave, stored column by column."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.repositories.tables import ANSWERS

_INSERT = insert(ANSWERS).returning(ANSWERS.c.id)
_INSERT_MANY = insert(ANSWERS)


def join_choices(choice: str | Sequence[str] | None) -> str | None:
    """Choice ids as stored: one id, or several joined by commas (ids may not hold commas)."""
    if choice is None or isinstance(choice, str):
        return choice
    for choice_id in choice:
        if "," in choice_id:
            raise ValueError(f"choice id {choice_id!r} contains a comma")
    return ",".join(choice)


class AnswerRepository:
    """Answers are written once and never changed: a correction is a new answer."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, answer: NewAnswer) -> int:
        """Store one answer and return its id."""
        answer_id: int = (await self._session.execute(_INSERT, answer.columns())).scalar_one()
        return answer_id

    async def add_many(self, answers: Sequence[NewAnswer]) -> None:
        """Store several answers in one statement."""
        if answers:
            await self._session.execute(_INSERT_MANY, [answer.columns() for answer in answers])


@dataclass(frozen=True, slots=True, kw_only=True)
class NewAnswer:
    """One answer to store.

    Set the value fields the answer type needs: money is `value_number` + `currency`; numbers
    `value_number` (a `Decimal`, stored exactly, or `ValueError` if it cannot be); choices
    `value_choice` (a sequence is comma-joined); dates `value_date`; location, photo and member
    references `value_json` (any JSON value). `group_id` is the member's group at the time,
    `raw_text` the reply exactly as sent.
    """

    session_id: int
    member_id: int
    group_id: int | None
    checkin_id: str
    step_id: str
    answer_type: str
    at: datetime
    value_number: Decimal | None = None
    currency: str | None = None
    value_text: str | None = None
    value_choice: str | Sequence[str] | None = None
    value_date: date | None = None
    value_json: Any | None = None
    skipped: bool = False
    raw_text: str | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "member_id": self.member_id,
            "group_id": self.group_id,
            "checkin_id": self.checkin_id,
            "step_id": self.step_id,
            "answer_type": str(self.answer_type),
            "value_number": self.value_number,
            "currency": self.currency,
            "value_text": self.value_text,
            "value_choice": join_choices(self.value_choice),
            "value_date": self.value_date,
            "value_json": self.value_json,
            "skipped": self.skipped,
            "raw_text": self.raw_text,
            "created_at": self.at,
        }
