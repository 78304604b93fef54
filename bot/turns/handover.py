"""Handing a member over to a person: recognising the word a member sends to ask for one.

The state itself (waiting, taken over) lives on the member (`MemberRecord.waiting_since`,
`taken_over_by_id`); `ConversationService` checks it before any engine turn, so a member a
coordinator answers gets no bot reply and no nudge.
"""

from __future__ import annotations

from conversations.i18n import Catalogs
from conversations.inputs import Reply
from conversations.words import agent_words, normalize


class Handover:
    """Knows the words for "a person, please" in every shipped language."""

    def __init__(self, catalogs: Catalogs) -> None:
        self._words = agent_words(catalogs)

    def asks_for_person(self, reply: Reply) -> bool:
        return bool(reply.text) and normalize(reply.text) in self._words
