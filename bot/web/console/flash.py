"""A one-time note for the next page after a form's redirect: what an action did, or why it
was refused. Kept in the signed session cookie, so it holds a catalog message id (or a
refusal's own words) and a number, never personal data."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

KEY = "flash"


@dataclass(frozen=True, slots=True)
class Flash:
    """`text` is a catalog message id with a `%(id)s` placeholder, or with `error` a refusal
    shown as it is."""

    text: str
    id: int | None
    error: bool


def flash(request: Request, text: str, number: int | None, *, error: bool = False) -> None:
    request.session[KEY] = {"text": text, "id": number, "error": error}


def take_flash(request: Request) -> Flash | None:
    """The note left for this page, removed so it shows once."""
    found = request.session.pop(KEY, None)
    if not isinstance(found, dict) or not isinstance(found.get("text"), str):
        return None
    number = found.get("id")
    if not isinstance(number, int):
        number = None
    return Flash(found["text"], number, bool(found.get("error")))
