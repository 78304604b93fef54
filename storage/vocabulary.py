"""The closed sets of words stored in text columns (a controlled vocabulary): channels,
directions and statuses. "Vocabulary" means these in the code; the words members type are the
engine's `Lexicon` (conversations/words.py).

Each is a `Literal` for the type checker and a tuple of its values for the database's CHECK
constraints, derived from the same definition so they cannot drift apart.
"""

from __future__ import annotations

from typing import Literal, get_args

Channel = Literal["telegram", "whatsapp", "sms", "console"]
SessionStatus = Literal["active", "completed", "expired", "stopped", "replaced", "restarted"]
MessageDirection = Literal["in", "out"]
MessageStatus = Literal["received", "queued", "sent", "delivered", "read", "failed", "undelivered"]
StoryStatus = Literal["proposed", "approved", "rejected", "published"]

CHANNELS: tuple[str, ...] = get_args(Channel)
SESSION_STATUSES: tuple[str, ...] = get_args(SessionStatus)
MESSAGE_DIRECTIONS: tuple[str, ...] = get_args(MessageDirection)
MESSAGE_STATUSES: tuple[str, ...] = get_args(MessageStatus)
STORY_STATUSES: tuple[str, ...] = get_args(StoryStatus)

ACTIVE: SessionStatus = "active"

# How far along its delivery a message is. A status callback never moves a message to a lower
# rank: providers deliver callbacks out of order ("delivered" after "read" happens).
MESSAGE_STATUS_RANK: dict[str, int] = {
    "received": 0,
    "queued": 0,
    "sent": 1,
    "delivered": 2,
    "failed": 2,
    "undelivered": 2,
    "read": 3,
}
