"""WhatsApp's interactive messages: a question's choices as quick-reply buttons or a list picker.

Twilio sends them as Content API templates (`twilio/quick-reply`, `twilio/list-picker`). A content
holds what is the same for every member who is asked the question (the buttons, the list's items,
the picker's button label, all in one language); the question's text, which may name the member,
is its one variable `{{1}}`. So one content serves a step in a language for every member, and is
created once (see `bot.pipeline.interactive`).

WhatsApp's limits decide the form: up to 3 buttons of at most 20 characters as a quick reply, else
up to 10 items of at most 24 characters (with an optional description of at most 72) in a list
picker whose button says at most 20 characters. Choices that fit neither keep the numbered list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from bot.channels.base import OutgoingChoice, button_payload

QUICK_REPLY: Final = "twilio/quick-reply"
LIST_PICKER: Final = "twilio/list-picker"

MAX_BUTTONS: Final = 3
MAX_BUTTON_TITLE: Final = 20
MAX_ITEMS: Final = 10
MAX_ITEM_TITLE: Final = 24
MAX_ITEM_DESCRIPTION: Final = 72
MAX_PICKER_BUTTON: Final = 20
MAX_BODY: Final = 1024
MAX_ID: Final = 200
"""An action's or item's id (what comes back as `ButtonPayload` / `ListId`)."""

QUESTION_VARIABLE: Final = "1"


class ContentError(RuntimeError):
    """Twilio refused to create a content, or could not be reached."""


@dataclass(frozen=True, slots=True)
class InteractiveContent:
    """What one content holds: its kind, the language, and the kind's fixed fields."""

    kind: str
    language: str
    fields: dict[str, Any]

    @property
    def key(self) -> str:
        """A stable name for this content: equal contents share one Twilio content."""
        canonical = json.dumps(
            [self.kind, self.language, self.fields], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]

    def create_request(self) -> dict[str, Any]:
        """The Content API's create body (`friendly_name`, `language`, `variables`, `types`)."""
        return {
            "friendly_name": f"mutuality_{self.key}"[:64],
            "language": self.language.split("-")[0].split("_")[0],
            "variables": {QUESTION_VARIABLE: "…"},
            "types": {self.kind: {"body": "{{" + QUESTION_VARIABLE + "}}", **self.fields}},
        }


@runtime_checkable
class ContentCreator(Protocol):
    """A channel that can create WhatsApp content (the Twilio WhatsApp channel)."""

    async def create_content(self, content: InteractiveContent) -> str:
        """The new content's sid (`HX…`). Raises `ContentError`."""
        ...


def interactive_content(
    step_id: str | None,
    choices: Sequence[OutgoingChoice],
    language: str,
    picker_button: str,
) -> InteractiveContent | None:
    """The content that offers `choices` to tap, or None when they cannot be shown whole
    (no choices, more than 10, or a label too long to fit even as a description)."""
    if not choices or len(choices) > MAX_ITEMS:
        return None
    ids = [button_payload(step_id, choice.id) for choice in choices]
    if any(len(value) > MAX_ID for value in ids) or len(set(ids)) != len(ids):
        return None
    labels = [choice.label.strip() for choice in choices]
    if not all(labels):
        return None
    if len(choices) <= MAX_BUTTONS and all(len(label) <= MAX_BUTTON_TITLE for label in labels):
        actions = [{"title": label, "id": id_} for label, id_ in zip(labels, ids, strict=True)]
        return InteractiveContent(QUICK_REPLY, language, {"actions": actions})
    if any(len(label) > MAX_ITEM_DESCRIPTION for label in labels):
        return None
    button = picker_button.strip()[:MAX_PICKER_BUTTON] or "…"
    items = [_item(label, id_) for label, id_ in zip(labels, ids, strict=True)]
    return InteractiveContent(LIST_PICKER, language, {"button": button, "items": items})


def _item(label: str, id_: str) -> dict[str, str]:
    """A list item: the label whole when it fits; else a short title and the label whole
    below it, so nothing the member chooses between is lost."""
    if len(label) <= MAX_ITEM_TITLE:
        return {"item": label, "id": id_}
    return {"item": short_title(label), "id": id_, "description": label}


def short_title(label: str) -> str:
    """A title of at most 24 characters for a longer label: the part before a parenthesis or
    a colon when that fits, else the first whole words that fit, ending in "…"."""
    for mark in (" (", ":", " - ", ","):
        head = label.split(mark, 1)[0].strip()
        if head and head != label and len(head) <= MAX_ITEM_TITLE:
            return head
    words, title = label.split(), ""
    for word in words:
        candidate = f"{title} {word}".strip()
        if len(candidate) > MAX_ITEM_TITLE - 1:
            break
        title = candidate
    return (title or label[: MAX_ITEM_TITLE - 1]).rstrip(",;.") + "…"
