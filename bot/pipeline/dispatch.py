"""What each kind of inbound event does, inside the worker's transaction.

Member messages go through the conversation service (the engine); the rest are bookkeeping the
engine need not know about: an opt-out (the member blocked the bot), a shared phone number that
links a Telegram chat to the member's WhatsApp and SMS addresses, and group chats being joined
and linked to peer groups.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import phonenumbers

from bot.channels.base import (
    ContactEvent,
    GroupChatEvent,
    InboundEvent,
    MessageEvent,
    OptOutEvent,
    TimerEvent,
)
from bot.staff.chat import handle_staff_command, is_staff_command, staff_for
from bot.turns.service import ConversationService, Inbound, Outbound, queue_outbound
from conversations import messages
from conversations.events import Say
from conversations.inputs import CommandInput, Input
from conversations.parsing import find_join_code
from conversations.rendering import render
from conversations.words import Command
from storage.errors import AddressInUse
from storage.records import MemberRecord
from storage.unit_of_work import UnitOfWork
from storage.vocabulary import Channel

log = logging.getLogger(__name__)

JOIN_PREFIX = "join-"
_ASKING_FOR_CONTACT = frozenset({messages.CONTACT_OFFER, messages.CONTACT_NOT_OWN})


class EventHandler:
    def __init__(self, service: ConversationService) -> None:
        self.service = service

    async def apply(self, uow: UnitOfWork, event: InboundEvent, now: datetime) -> list[Outbound]:
        match event:
            case MessageEvent():
                return await self._message(uow, event, now)
            case OptOutEvent():
                await self._opt_out(uow, event, now)
                return []
            case ContactEvent():
                return await self._contact(uow, event, now)
            case GroupChatEvent():
                return await self._group_chat(uow, event, now)
            case TimerEvent():
                return await self.service.timer_turn(uow, event, now)

    def batchable(self, event: InboundEvent) -> bool:
        """Whether `apply_many` takes this event: a member's plain message (no command of the
        channel's, no shared contact, no staff command, nothing that asks for or erases their
        data)."""
        return (
            isinstance(event, MessageEvent)
            and event.command is None
            and event.reply.media_kind != "contact"
            and not is_staff_command(event.reply.text)
            and not self.service.data_rights.may_take(event.reply.text)
        )

    async def apply_many(
        self, uow: UnitOfWork, events: list[tuple[MessageEvent, MemberRecord]], now: datetime
    ) -> list[list[Outbound]]:
        """`apply` for several `batchable` events of different, existing members, given with
        their member, in one go (see `ConversationService.message_turns`)."""
        turns = [
            (Inbound(event.channel, event.address, event.reply, event.provider_id), member)
            for event, member in events
        ]
        return await self.service.message_turns(uow, turns, now)

    async def _message(self, uow: UnitOfWork, event: MessageEvent, now: datetime) -> list[Outbound]:
        inbound = Inbound(event.channel, event.address, event.reply, event.provider_id)
        if is_staff_command(event.reply.text):
            staff = await staff_for(uow, event.channel, event.address)
            if staff is not None:
                member = await self.service.member_for(uow, event.channel, event.address, now)
                await uow.messages.log_inbound(
                    member_id=member.id,
                    channel=event.channel,
                    address_value=event.address,
                    text=event.reply.text,
                    payload=None,
                    provider_message_id=event.provider_id,
                    at=now,
                )
                return await handle_staff_command(uow, staff, inbound, member.id, now)
        if event.channel == "telegram" and event.reply.media_kind == "contact":
            # someone else's contact: answered as a shared contact with no number of theirs
            not_own = ContactEvent(event.channel, event.address, event.provider_id, phone="")
            return await self._contact(uow, not_own, now)
        item: Input = event.reply
        join_code = ""
        new_chat = False
        if event.command == "start":
            item = CommandInput(Command.START, event.argument)
            if event.argument.lower().startswith(JOIN_PREFIX):
                join_code = find_join_code(event.argument[len(JOIN_PREFIX) :]) or ""
            new_chat = event.channel == "telegram" and (
                await uow.members.by_address(event.channel, event.address) is None
            )
        said = await self.service.message_turn(uow, inbound, item, now, join_code=join_code)
        if new_chat:
            said += await self._offer_contact(uow, event, now)
        return said

    async def _offer_contact(
        self, uow: UnitOfWork, event: MessageEvent, now: datetime
    ) -> list[Outbound]:
        """A new Telegram chat: after its first question, the button that shares the member's
        phone number, so that someone who keeps their journal on WhatsApp or SMS goes on with
        it here instead of starting a second one (a chat joins a member only before it is
        set up; see `_contact`)."""
        member = await uow.members.by_address(event.channel, event.address)
        if member is None:
            return []
        return await self._say_about_phone(
            uow, member, event.channel, event.address, now, messages.CONTACT_OFFER
        )

    async def _opt_out(self, uow: UnitOfWork, event: OptOutEvent, now: datetime) -> None:
        """Blocked: nothing more goes to this address, and no proactive message to the member."""
        await uow.members.set_blocked(event.channel, event.address, True, at=now)
        member = await uow.members.by_address(event.channel, event.address)
        if member is None:
            return
        await uow.members.update(member.id, at=now, opted_out=True)
        session = await uow.sessions.active_for(member.id)
        if session is not None:
            await uow.sessions.save(session.id, None, "stopped", session.state, now, "opted_out")
        log.info("member %s opted out on %s (blocked the bot)", member.id, event.channel)

    async def _contact(self, uow: UnitOfWork, event: ContactEvent, now: datetime) -> list[Outbound]:
        """Link the shared phone number's WhatsApp and SMS addresses to this member. A contact
        that is not the member's own (`phone` empty: its number never comes this far) gets the
        button for their own again; once linked, or refused, the button goes away."""
        member = await self.service.member_for(uow, event.channel, event.address, now)
        await uow.members.touch_inbound(event.channel, event.address, now)
        phone = _e164(event.phone)
        key = messages.CONTACT_NOT_OWN if phone is None else messages.CONTACT_LINKED
        if phone is not None:
            owner = await uow.members.by_address("whatsapp", phone) or await uow.members.by_address(
                "sms", phone
            )
            if owner is not None and owner.id != member.id:
                if member.onboarded_at is not None:
                    key = messages.CONTACT_IN_USE
                else:
                    # a new Telegram chat of someone who began on WhatsApp or SMS: the chat
                    # joins the member they already are
                    await self.service.move_address(
                        uow, event.channel, event.address, member, owner, now
                    )
                    member = owner
            if key is messages.CONTACT_LINKED:
                for channel in ("whatsapp", "sms"):
                    if await uow.members.by_address(channel, phone) is None:
                        try:
                            await uow.members.add_address(member.id, channel, phone, at=now)
                        except AddressInUse:
                            key = messages.CONTACT_IN_USE
        return await self._say_about_phone(
            uow, member, event.channel, event.address, now, key, {"phone": phone or ""}
        )

    async def _say_about_phone(
        self,
        uow: UnitOfWork,
        member: MemberRecord,
        channel: Channel,
        address: str,
        now: datetime,
        key: str,
        params: Mapping[str, Any] | None = None,
    ) -> list[Outbound]:
        """One line about phone linking, with the contact button when it asks for the
        member's number, and taking the button away when it is done with it."""
        catalogs = self.service.checkins.catalogs
        rendered = render(Say(key, member.locale, params or {}), catalogs)
        extra: dict[str, Any] = {"clear_keyboard": True}
        if key in _ASKING_FOR_CONTACT:
            extra = {"contact_button": catalogs.gettext(member.locale, messages.CONTACT_BUTTON)}
        return await queue_outbound(
            uow, member.id, channel, address, rendered, None, now, extra=extra
        )

    async def _group_chat(
        self, uow: UnitOfWork, event: GroupChatEvent, now: datetime
    ) -> list[Outbound]:
        """The bot joined a group chat (recorded, and a hello), or someone sent `/link CODE`.

        A link binds the chat to the group whose highlights, sales figures included, will be
        posted there, so it takes a staff user of that group, recognised by the Telegram id
        of the sender (and, to move a chat already bound, of the group it is bound to as well).
        Anyone else is refused: logged, and nothing changes."""
        catalogs = self.service.checkins.catalogs
        if event.code is None:
            await uow.group_chats.record(event.channel, event.chat_id, event.title, at=now)
            say = Say(messages.GROUP_CHAT_HELLO, "en")
        else:
            code = find_join_code(event.code)
            group = await uow.groups.by_code(code) if code else None
            if group is None:
                say = Say(messages.GROUP_CHAT_UNKNOWN_CODE, "en", {"text": event.code[:40]})
            elif not await self._may_link(uow, event, group.id):
                say = Say(messages.GROUP_CHAT_LINK_REFUSED, group.language)
            else:
                await uow.group_chats.link(
                    event.channel, event.chat_id, event.title, group.id, at=now
                )
                say = Say(
                    messages.GROUP_CHAT_LINKED, group.language, {"group": {"name": group.name}}
                )
        rendered = render(say, catalogs)
        return await queue_outbound(uow, None, event.channel, event.chat_id, rendered, None, now)

    async def _may_link(self, uow: UnitOfWork, event: GroupChatEvent, group_id: int) -> bool:
        staff = await staff_for(uow, event.channel, event.sender_id) if event.sender_id else None
        chat = await uow.group_chats.get(event.channel, event.chat_id)
        groups = {group_id}
        if chat is not None and chat.group_id is not None:
            groups.add(chat.group_id)
        if staff is not None and all([await uow.staff.serves(staff, g) for g in groups]):
            return True
        log.warning(
            "group chat %s: /link to group %s refused (bound to %s): sent by %s",
            event.provider_id,
            group_id,
            chat.group_id if chat is not None else None,
            f"staff #{staff.id}, not of that group" if staff is not None else "someone not staff",
        )
        return False


def _e164(phone: str) -> str | None:
    text = phone.strip()
    if not text.startswith("+"):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
