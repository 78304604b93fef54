"""Changing a staff account, the same from the command line and the console: what an operator
typed, made into the forms storage keeps, and one line saying who a staff user is."""

from __future__ import annotations

from dataclasses import dataclass

from bot.members.roster import normalize_phone, normalize_telegram_id
from storage.records import StaffRecord


@dataclass(frozen=True, slots=True)
class Contacts:
    """A phone and a Telegram id as typed: None leaves one unchanged, "" clears it."""

    phone: str | None
    telegram_id: str | None

    def normalized(self) -> Contacts:
        """+E.164 and digits-only forms; raises `ValueError` saying which one to fix."""
        return Contacts(
            phone=normalize_phone(self.phone) if self.phone and self.phone.strip() else self.phone,
            telegram_id=(
                normalize_telegram_id(self.telegram_id)
                if self.telegram_id and self.telegram_id.strip()
                else self.telegram_id
            ),
        )


def describe(person: StaffRecord) -> str:
    """Who a staff user is, in one line, for the audit log and the operator."""
    ways = [person.email, person.phone, person.telegram_id and f"telegram {person.telegram_id}"]
    reach = ", ".join(way for way in ways if way) or "no address"
    language = f", {person.language}" if person.language else ""
    return f"{person.name} ({person.role}; {reach}{language})"
