"""Answers: every typed value a member gave, stored column by column."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.repositories.tables import ANSWERS

_INSERT = insert(ANSWERS).returning(ANSWERS.c.id)


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

    async def add(
        self,
        *,
        session_id: int,
        member_id: int,
        group_id: int | None,
        checkin_id: str,
        step_id: str,
        answer_type: str,
        at: datetime,
        value_number: Decimal | None = None,
        currency: str | None = None,
        value_text: str | None = None,
        value_choice: str | Sequence[str] | None = None,
        value_date: date | None = None,
        value_json: Any | None = None,
        skipped: bool = False,
        raw_text: str | None = None,
    ) -> int:
        """Store one answer and return its id.

        Set the value columns the answer type needs: money is `value_number` + `currency`;
        numbers `value_number` (a `Decimal`, stored exactly, or `ValueError` if it cannot be);
        choices `value_choice` (a sequence is comma-joined); dates `value_date`; location, photo
        and member references `value_json` (any JSON value). `group_id` is the member's group
        at the time, `raw_text` the reply exactly as sent.
        """
        columns = {
            "session_id": session_id,
            "member_id": member_id,
            "group_id": group_id,
            "checkin_id": checkin_id,
            "step_id": step_id,
            "answer_type": str(answer_type),
            "value_number": value_number,
            "currency": currency,
            "value_text": value_text,
            "value_choice": join_choices(value_choice),
            "value_date": value_date,
            "value_json": value_json,
            "skipped": skipped,
            "raw_text": raw_text,
            "created_at": at,
        }
        answer_id: int = (await self._session.execute(_INSERT, columns)).scalar_one()
        return answer_id
