"""One member going through one check-in, and its JSON form for storage.

`SessionState` is small on purpose (slots, answers only as typed values) so that 100,000 active
sessions fit comfortably in memory; `to_json`/`from_json` round-trip it exactly, Decimals as
strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from conversations.answers import AnswerValue, GroupRef, Location, MemberRef, Money, Photo


class SessionStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    EXPIRED = "expired"
    STOPPED = "stopped"
    REPLACED = "replaced"
    RESTARTED = "restarted"


SKIPPED = None
"""How a skipped answer is kept in `SessionState.answers`: the step id maps to None."""


@dataclass(frozen=True, slots=True)
class SessionState:
    checkin_id: str
    version: int
    step_id: str
    started_at: datetime
    status: SessionStatus = SessionStatus.ACTIVE
    answers: Mapping[str, AnswerValue | None] = field(default_factory=dict)
    attempts: int = 0
    pending: tuple[MemberRef, ...] = ()
    reminders_sent: int = 0
    interjection: str | None = None

    @property
    def active(self) -> bool:
        return self.status is SessionStatus.ACTIVE

    def with_answer(self, step_id: str, value: AnswerValue | None) -> SessionState:
        return replace(self, answers={**self.answers, step_id: value}, attempts=0, pending=())


def _value_to_json(value: AnswerValue | None) -> Any:
    match value:
        case None:
            return None
        case bool():
            return {"bool": value}
        case int():
            return {"int": value}
        case str():
            return {"str": value}
        case Decimal():
            return {"decimal": str(value)}
        case Money():
            return {"money": str(value.amount), "currency": value.currency}
        case date():
            return {"date": value.isoformat()}
        case tuple():
            return {"choices": list(value)}
        case Location():
            return {"lat": str(value.latitude), "lon": str(value.longitude)}
        case Photo():
            return {"photo": value.media_ref, "content_type": value.content_type}
        case MemberRef():
            return {"member": value.member_id, "name": value.name}
        case GroupRef():
            return {"group": value.group_id, "name": value.name, "code": value.join_code}
    raise TypeError(f"cannot serialise answer value {value!r}")


def _value_from_json(data: Any) -> AnswerValue | None:
    if data is None:
        return None
    if "bool" in data:
        return bool(data["bool"])
    if "int" in data:
        return int(data["int"])
    if "str" in data:
        return str(data["str"])
    if "decimal" in data:
        return Decimal(data["decimal"])
    if "money" in data:
        return Money(Decimal(data["money"]), data["currency"])
    if "date" in data:
        return date.fromisoformat(data["date"])
    if "choices" in data:
        return tuple(data["choices"])
    if "lat" in data:
        return Location(Decimal(data["lat"]), Decimal(data["lon"]))
    if "photo" in data:
        return Photo(data["photo"], data["content_type"])
    if "member" in data:
        return MemberRef(int(data["member"]), data["name"])
    if "group" in data:
        return GroupRef(int(data["group"]), data["name"], data["code"])
    raise ValueError(f"unknown stored answer value {data!r}")


def to_json(state: SessionState) -> dict[str, Any]:
    return {
        "checkin_id": state.checkin_id,
        "version": state.version,
        "step_id": state.step_id,
        "started_at": state.started_at.isoformat(),
        "status": state.status.value,
        "answers": {key: _value_to_json(value) for key, value in state.answers.items()},
        "attempts": state.attempts,
        "pending": [[ref.member_id, ref.name] for ref in state.pending],
        "reminders_sent": state.reminders_sent,
        "interjection": state.interjection,
    }


def from_json(data: Mapping[str, Any]) -> SessionState:
    return SessionState(
        checkin_id=data["checkin_id"],
        version=int(data["version"]),
        step_id=data["step_id"],
        started_at=datetime.fromisoformat(data["started_at"]),
        status=SessionStatus(data["status"]),
        answers={key: _value_from_json(value) for key, value in data["answers"].items()},
        attempts=int(data.get("attempts", 0)),
        pending=tuple(MemberRef(int(i), str(n)) for i, n in data.get("pending", [])),
        reminders_sent=int(data.get("reminders_sent", 0)),
        interjection=data.get("interjection"),
    )
