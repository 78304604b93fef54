"""Staff commands in chat: `/stories` to review stories, `/broadcast` to send to a group.

A message starting with one of these commands, from an address that belongs to a registered
staff member (`mutuality staff add ... --telegram ID` or `--phone +E164`), is handled here
instead of by the member engine. Staff replies are in English (the staff side's language).

    /stories                     the proposed stories, oldest first, with their ids
    /stories approve 12          approve story 12 (reject likewise)
    /broadcast CODE Some text    preview: who in the group with join code CODE would get it
    /broadcast yes 4F2A          send the previewed broadcast (the code confirms which one)

Approving and rejecting stories is moderation: it takes a coordinator or an admin
(`storage.records.can_moderate`). Anyone on staff may list the stories and broadcast.

The confirmation code is derived from the staff member, the group and the text, so the
confirmation needs no state of its own: the text is taken back from the staff member's own
`/broadcast` message in the message log.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from bot.turns.service import Inbound, Outbound, queue_outbound
from conversations.rendering import RenderedMessage
from storage.errors import StorageError
from storage.records import StaffRecord, can_moderate
from storage.repositories.broadcasts import Audience
from storage.unit_of_work import UnitOfWork

COMMANDS = ("/stories", "/broadcast")
LIST_LIMIT = 5


def is_staff_command(text: str) -> bool:
    head = text.strip().split(maxsplit=1)[0].lower() if text.strip() else ""
    return head.split("@", 1)[0] in COMMANDS


def confirmation_code(staff_id: int, group_id: int, text: str) -> str:
    digest = hashlib.sha256(f"{staff_id}:{group_id}:{text}".encode()).hexdigest()
    return digest[:4].upper()


async def staff_for(uow: UnitOfWork, channel: str, address: str) -> StaffRecord | None:
    if channel == "telegram":
        return await uow.staff.by_telegram_id(address)
    if channel in ("whatsapp", "sms"):
        return await uow.staff.by_phone(address)
    return None


async def handle_staff_command(
    uow: UnitOfWork, staff: StaffRecord, inbound: Inbound, member_id: int | None, now: datetime
) -> list[Outbound]:
    words = inbound.reply.text.strip().split()
    command = words[0].lower().split("@", 1)[0]
    if command == "/stories":
        reply = await _stories(uow, staff, words[1:], now)
    else:
        reply = await _broadcast(uow, staff, inbound, words[1:], now)
    rendered = RenderedMessage(reply, (), "en")
    return await queue_outbound(
        uow, member_id, inbound.channel, inbound.address, rendered, None, now
    )


async def _stories(uow: UnitOfWork, staff: StaffRecord, args: list[str], now: datetime) -> str:
    if len(args) == 2 and args[0].lower() in ("approve", "reject") and args[1].isdigit():
        story_id = int(args[1])
        if not can_moderate(staff.role):
            return _not_a_moderator(staff)
        try:
            if args[0].lower() == "approve":
                story = await uow.stories.approve(story_id, staff.id, now)
            else:
                story = await uow.stories.reject(story_id, staff.id, now)
        except StorageError as error:
            return f"Story {story_id}: {error}"
        return f"Story {story_id} {story.status}."
    if args:
        return "Send /stories to list them, or /stories approve 12 (or reject 12)."
    proposed = await uow.stories.list(status="proposed")
    if not proposed:
        return "No stories are waiting for review."
    lines = [f"#{story.id}: {story.text[:120]}" for story in proposed[:LIST_LIMIT]]
    more = len(proposed) - LIST_LIMIT
    if more > 0:
        lines.append(f"... and {more} more (mutuality stories list).")
    if can_moderate(staff.role):
        lines.append("Reply /stories approve ID or /stories reject ID.")
    else:
        lines.append("A coordinator or an admin can approve or reject them.")
    return "\n".join(lines)


def _not_a_moderator(staff: StaffRecord) -> str:
    return (
        f"Sorry, {staff.name}: approving or rejecting a story takes a coordinator or an admin, "
        f"and your role is {staff.role}. Nothing was changed; please ask a coordinator or an "
        "admin to review it."
    )


async def _broadcast(
    uow: UnitOfWork, staff: StaffRecord, inbound: Inbound, args: list[str], now: datetime
) -> str:
    usage = "Send /broadcast CODE followed by the text, where CODE is the group's join code."
    if len(args) == 2 and args[0].lower() == "yes":
        return await _confirm(uow, staff, inbound, args[1].upper(), now)
    if len(args) < 2:
        return usage
    group = await uow.groups.by_code(args[0])
    if group is None:
        return f"No group has the join code {args[0]}. {usage}"
    text = inbound.reply.text.strip().split(maxsplit=2)[2]
    counts = await uow.broadcasts.audience_counts(Audience(group_id=group.id))
    channels = ", ".join(f"{n} on {channel}" for channel, n in sorted(counts.channels.items()))
    code = confirmation_code(staff.id, group.id, text)
    return (
        f"To {group.name}: {counts.receiving} members ({channels or 'none reachable'}); "
        f"{sum(counts.skipped.values())} skipped ({_skipped(counts.skipped)}).\n"
        f"Send /broadcast yes {code} to send it."
    )


def _skipped(reasons: dict[str, int]) -> str:
    """Why members are left out, e.g. "2 opted out, 3 without recorded consent"."""
    words = {
        "opted_out": "opted out",
        "no_consent": "without recorded consent",
        "unreachable": "unreachable",
    }
    parts = [f"{n} {words.get(reason, reason)}" for reason, n in sorted(reasons.items()) if n]
    return ", ".join(parts) or "none"


async def _confirm(
    uow: UnitOfWork, staff: StaffRecord, inbound: Inbound, code: str, now: datetime
) -> str:
    member = await uow.members.by_address(inbound.channel, inbound.address)
    history = await uow.messages.for_member(member.id, limit=50) if member else []
    for message in reversed(history):
        words = message.text.strip().split(maxsplit=2)
        if message.direction != "in" or len(words) < 3 or words[0].lower() != "/broadcast":
            continue
        group = await uow.groups.by_code(words[1])
        if group is None or confirmation_code(staff.id, group.id, words[2]) != code:
            continue
        broadcast = await uow.broadcasts.create(
            created_by_id=staff.id,
            group_id=group.id,
            language=None,
            segment=None,
            texts={group.language: words[2]},
            scheduled_at=now,
            at=now,
        )
        return (
            f"Broadcast #{broadcast.id} to {group.name} is on its way "
            f"(mutuality broadcast status {broadcast.id})."
        )
    return f"No /broadcast preview with the code {code}. Send /broadcast CODE and the text first."
