"""The Telegram channel: Bot API updates in, `sendMessage` and `sendDocument` out, through
python-telegram-bot.

Inbound, `parse_update` turns one raw Bot API `Update` (a webhook body, or one element of
`getUpdates`' result) into `InboundEvent`s; it does no I/O, so the web layer can call it before
storing what arrived. Outbound, `TelegramChannel.send` never raises for what Telegram answers: it
returns a `SendResult` the sender acts on. `poll` is long polling for development, handing the
very same raw dicts to the same handler a webhook would.

Telegram's quirks end here: `/start` (with a deep-link argument) is a command, a contact shared
by its own owner is a phone number to link, the bot being blocked is an opt-out, 429 is a
retry-after, and a group chat only matters when the bot joins it or someone sends `/link CODE`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from http import HTTPStatus
from typing import Any, Final, TypedDict, TypeVar

import phonenumbers
from pydantic import ValidationError
from telegram import Bot, KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove
from telegram import InlineKeyboardButton as SendButton
from telegram import InlineKeyboardMarkup as SendKeyboard
from telegram.error import NetworkError, TelegramError

from bot.channels import telegram_http
from bot.channels.base import (
    Capabilities,
    ContactEvent,
    GroupChatEvent,
    InboundEvent,
    MessageEvent,
    OptOutEvent,
    OutgoingMessage,
    PermanentFailure,
    RecipientGone,
    RetryAfter,
    SendResult,
    Sent,
    button_payload,
    parse_button_payload,
)
from bot.channels.telegram_http import Refused, Throttled, TokenRejected
from bot.channels.telegram_updates import (
    CallbackQuery,
    ChatMember,
    ChatMemberUpdated,
    Message,
    Update,
)
from conversations.answers import Location, Photo
from conversations.inputs import Reply
from storage.vocabulary import Channel

logger = logging.getLogger(__name__)

CHANNEL: Final[Channel] = "telegram"
MAX_LENGTH: Final = 4096
MAX_CAPTION: Final = 1024
"""A document's caption, in characters."""
MAX_DOCUMENT_BYTES: Final = 50 * 1024 * 1024
"""The largest file a bot may upload to Telegram's Bot API."""
# The update kinds the bot reads; anything else is not even sent to us.
ALLOWED_UPDATES: Final = ("message", "edited_message", "callback_query", "my_chat_member")
# A transient failure (5xx, network, timeout) is retried after this many seconds.
TRANSIENT_RETRY_SECONDS: Final = 5.0
# A wrong token fails every send alike: pause the whole channel until an operator fixes it.
UNAUTHORIZED_RETRY_SECONDS: Final = 60.0

_GROUP_CHATS: Final = frozenset({"group", "supergroup"})
# Checked in this order: an animation also carries a `document`.
_MEDIA_KINDS: Final = ("voice", "sticker", "animation", "video", "video_note", "audio", "document")
_INSIDE: Final = frozenset({"creator", "administrator", "member"})


class TelegramPayloadError(ValueError):
    """The request body is not a Bot API update we can read; the web layer answers 400."""


# --------------------------------------------------------------------------------------------
# Inbound


def parse_update(update: Mapping[str, Any], bot_username: str | None = None) -> list[InboundEvent]:
    """The events one raw Bot API update stands for: usually one, `[]` for what we ignore.

    `provider_id` is `tg:{update_id}`, so storing the events is idempotent across redeliveries.
    `bot_username`, when given, makes commands addressed to another bot (`/link@other_bot`)
    plain text in private chats and ignored in groups. Raises `TelegramPayloadError` for input
    that is not an update (missing keys, wrong types); never for an update of a kind we skip.
    """
    parsed = _validate(update)
    provider_id = f"tg:{parsed.update_id}"
    if parsed.message is not None:
        return _from_message(parsed.message, provider_id, bot_username)
    if parsed.callback_query is not None:
        return _from_callback(parsed.callback_query, provider_id)
    if parsed.my_chat_member is not None:
        return _from_membership(parsed.my_chat_member, provider_id)
    if parsed.edited_message is not None:
        logger.info("%s: edited message ignored (an answer is not processed twice)", provider_id)
        return []
    kinds = [key for key in update if key != "update_id"]
    logger.info("%s: update of kind %s ignored", provider_id, ", ".join(kinds) or "(none)")
    return []


def _validate(update: Mapping[str, Any]) -> Update:
    if not isinstance(update, Mapping):
        raise TelegramPayloadError("a Telegram update must be a JSON object")
    try:
        return Update.model_validate(dict(update))
    except ValidationError as error:
        # Locations and messages only: the input values may be a member's words.
        problems = [
            f"{'.'.join(str(part) for part in problem['loc']) or 'update'}: {problem['msg']}"
            for problem in error.errors(include_url=False, include_input=False)
        ]
        raise TelegramPayloadError(
            "malformed Telegram update: " + "; ".join(problems[:5])
        ) from None


def _from_message(
    message: Message, provider_id: str, bot_username: str | None
) -> list[InboundEvent]:
    chat = message.chat
    if chat.type in _GROUP_CHATS:
        return _from_group_message(message, provider_id, bot_username)
    if chat.type != "private":
        logger.info("%s: message in a %s chat ignored", provider_id, chat.type)
        return []
    address = str(chat.id)
    if message.text is not None:
        command = _command(message.text, bot_username)
        if command is not None and command[0] == "start":
            return [
                MessageEvent(
                    CHANNEL,
                    address,
                    provider_id,
                    Reply(text=message.text),
                    command="start",
                    argument=command[1],
                )
            ]
        return [MessageEvent(CHANNEL, address, provider_id, Reply(text=message.text))]
    if message.contact is not None:
        sender = message.from_user
        if sender is not None and message.contact.user_id == sender.id:
            phone = _e164(message.contact.phone_number)
            if phone is not None:
                return [ContactEvent(CHANNEL, address, provider_id, phone)]
            logger.warning("%s: own contact with an unreadable phone number", provider_id)
        return [MessageEvent(CHANNEL, address, provider_id, Reply(media_kind="contact"))]
    reply = _media_reply(message)
    if reply is None:
        logger.info("%s: private message with nothing we read ignored", provider_id)
        return []
    return [MessageEvent(CHANNEL, address, provider_id, reply)]


def _media_reply(message: Message) -> Reply | None:
    caption = message.caption or ""
    if message.photo:
        largest = max(
            message.photo, key=lambda size: (size.width * size.height, size.file_size or 0)
        )
        return Reply(text=caption, photo=Photo(largest.file_id, "image/jpeg"))
    if message.location is not None:
        latitude = Decimal(str(message.location.latitude))
        longitude = Decimal(str(message.location.longitude))
        return Reply(text=caption, location=Location(latitude, longitude))
    for kind in _MEDIA_KINDS:
        if getattr(message, kind) is not None:
            return Reply(text=caption, media_kind=kind)
    return None


def _from_group_message(
    message: Message, provider_id: str, bot_username: str | None
) -> list[InboundEvent]:
    command = _command(message.text, bot_username) if message.text is not None else None
    if command is None or command[0] != "link":
        logger.debug("%s: group chatter ignored", provider_id)
        return []
    chat = message.chat
    sender = str(message.from_user.id) if message.from_user is not None else None
    title = chat.title or ""
    return [GroupChatEvent(CHANNEL, str(chat.id), provider_id, title, command[1], sender)]


def _from_callback(query: CallbackQuery, provider_id: str) -> list[InboundEvent]:
    message = query.message
    if query.data is None or message is None or message.chat.type != "private":
        logger.info("%s: button press without data or outside a private chat ignored", provider_id)
        return []
    step, choice = parse_button_payload(query.data)
    label = _button_text(message, query.data) if isinstance(message, Message) else ""
    reply = Reply(text=label, choice=choice, choice_step=step)
    return [MessageEvent(CHANNEL, str(message.chat.id), provider_id, reply, callback_id=query.id)]


def _button_text(message: Message, data: str) -> str:
    markup = message.reply_markup
    if markup is None:
        return ""
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return ""


def _from_membership(change: ChatMemberUpdated, provider_id: str) -> list[InboundEvent]:
    chat = change.chat
    new = change.new_chat_member
    if chat.type == "private":
        if new.status == "kicked":
            return [OptOutEvent(CHANNEL, str(chat.id), provider_id)]
        # Unblocking is not a start: the member writes /start themselves.
        logger.info("%s: private membership now %s, nothing to do", provider_id, new.status)
        return []
    if chat.type in _GROUP_CHATS and _inside(new) and not _inside(change.old_chat_member):
        return [GroupChatEvent(CHANNEL, str(chat.id), provider_id, chat.title or "")]
    logger.info("%s: membership change in a %s chat ignored", provider_id, chat.type)
    return []


def _inside(member: ChatMember) -> bool:
    """Whether a chat member (any of the Bot API's ChatMember kinds) is in the chat."""
    return member.status in _INSIDE or (member.status == "restricted" and bool(member.is_member))


def _command(text: str, bot_username: str | None) -> tuple[str, str] | None:
    """(command, argument) of `/name[@bot] argument`, or None when the text is no command for
    us. The name is lower-cased, the argument stripped."""
    if not text.startswith("/"):
        return None
    head, _, rest = text[1:].partition(" ")
    name, _, target = head.partition("@")
    if target and bot_username and target.lower() != bot_username.lstrip("@").lower():
        return None
    if not name:
        return None
    return name.lower(), rest.strip()


def _e164(phone: str) -> str | None:
    """+E.164 from Telegram's phone number, which often comes without the '+'."""
    digits = "".join(char for char in phone if char.isdigit())
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --------------------------------------------------------------------------------------------
# Outbound


DEFAULT_CONNECTIONS: Final = 34
"""The HTTP connections a process keeps to the Bot API when nobody says: Telegram's 30 sends a
second in flight at once, a long poll and callback answers beside them."""


class _Timeouts(TypedDict):
    """Per call, so that channels sharing a connection pool may each have their own."""

    read_timeout: float
    write_timeout: float
    connect_timeout: float
    pool_timeout: float


class _Bot(Bot):
    """python-telegram-bot's `Bot`, plus `getUpdates` answered as the raw JSON Telegram sent."""

    __slots__ = ()

    async def raw_updates(self, parameters: dict[str, Any], timeout: float) -> list[Any]:
        result = await self._post(
            "getUpdates",
            parameters,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )
        return list(result)


class TelegramChannel:
    """One bot, speaking through the process's shared Bot API connection pool (see
    `bot.channels.telegram_http`). `api_url` is the Bot API server: Telegram's, a self-hosted
    one, or a test's fake. `connections` sizes the pool when this channel is the process's
    first; `timeout` bounds each call. Create it anywhere; call `close()` when done."""

    name: Channel = CHANNEL
    capabilities = Capabilities(buttons=True, documents=True)

    def __init__(
        self,
        token: str,
        api_url: str = "https://api.telegram.org",
        timeout: float = 30,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        base = api_url.rstrip("/")
        self._request = telegram_http.acquire(connections)
        self._bot = _Bot(
            token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=self._request,
            get_updates_request=self._request,
        )
        self._timeouts = _Timeouts(
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )
        self._username: str | None = None
        self._closed = False

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Send one text, or one document with the text as its caption, with its keyboard:
        choices as one inline button per row, else a contact button or the removal of one.
        Never raises for what Telegram or the network answer: every outcome is a SendResult."""
        refused = _unsendable(message)
        if refused is not None:
            return refused
        try:
            chat_id = int(message.address)
        except ValueError:
            return PermanentFailure("bad_address", f"not a Telegram chat id: {message.address!r}")
        try:
            if message.document is not None:
                sent = await self._bot.send_document(
                    chat_id=chat_id,
                    document=message.document.content,
                    filename=message.document.filename,
                    caption=message.text or None,
                    reply_markup=_keyboard(message),
                    **self._timeouts,
                )
            else:
                sent = await self._bot.send_message(
                    chat_id=chat_id,
                    text=message.text,
                    reply_markup=_keyboard(message),
                    **self._timeouts,
                )
        except Throttled as error:
            return RetryAfter(error.seconds, scope="chat", reason=error.message)
        except TokenRejected as error:
            return RetryAfter(UNAUTHORIZED_RETRY_SECONDS, scope="channel", reason=error.message)
        except Refused as error:
            return _refused(error)
        except NetworkError as error:  # 5xx, a connection refused or reset, a timeout
            return _transient(error)
        except TelegramError as error:
            return PermanentFailure(type(error).__name__, error.message)
        # Telegram numbers messages per chat: the chat makes the id unique for the channel
        return Sent(f"{sent.chat.id}:{sent.message_id}")

    async def answer_callback(self, callback_id: str) -> None:
        """Stop the pressed button's spinner. Best effort: a failure is logged, never raised."""
        try:
            await self._bot.answer_callback_query(callback_id, **self._timeouts)
        except TelegramError as error:
            logger.warning("answerCallbackQuery %s failed: %s", callback_id, error)

    async def set_webhook(self, url: str, secret_token: str) -> None:
        """Have Telegram POST updates to `url` with `X-Telegram-Bot-Api-Secret-Token`. Raises
        python-telegram-bot's errors: this is an operator's action, not a member's message."""
        await self._bot.set_webhook(
            url=url,
            secret_token=secret_token,
            allowed_updates=list(ALLOWED_UPDATES),
            **self._timeouts,
        )

    async def delete_webhook(self) -> None:
        """Stop webhook delivery; pending updates are kept for `getUpdates`."""
        await self._bot.delete_webhook(drop_pending_updates=False, **self._timeouts)

    async def bot_username(self) -> str:
        """The bot's @username without the '@' (getMe, asked once)."""
        if self._username is None:
            me = await self._bot.get_me(**self._timeouts)
            self._username = me.username or ""
        return self._username

    async def get_updates(
        self,
        offset: int | None,
        timeout: int,
    ) -> list[dict[str, Any]]:
        """One long poll of up to `timeout` seconds on Telegram's side: raw update dicts in the
        Bot API's JSON shape, exactly as a webhook body would be (so `parse_update` reads both
        alike). Raises python-telegram-bot's errors."""
        parameters = {
            "offset": offset,
            "timeout": timeout,
            "allowed_updates": list(ALLOWED_UPDATES),
        }
        return await self._bot.raw_updates(parameters, timeout + 10)

    async def close(self) -> None:
        """Let go of the shared connection pool (closed by its last user). Idempotent."""
        if not self._closed:
            self._closed = True
            await telegram_http.release(self._request)


def _unsendable(message: OutgoingMessage) -> PermanentFailure | None:
    """Why Telegram would refuse the message whatever we do, before asking it."""
    if message.document is None:
        if len(message.text) > MAX_LENGTH:
            reason = f"{len(message.text)} characters; Telegram takes {MAX_LENGTH}, split first"
            return PermanentFailure("too_long", reason)
        return None
    if len(message.text) > MAX_CAPTION:
        reason = f"a caption of {len(message.text)} characters; Telegram takes {MAX_CAPTION}"
        return PermanentFailure("too_long", reason)
    size = len(message.document.content)
    if not 0 < size <= MAX_DOCUMENT_BYTES:
        reason = f"a file of {size} bytes; Telegram takes 1 to {MAX_DOCUMENT_BYTES}"
        return PermanentFailure("bad_document", reason)
    return None


def _keyboard(
    message: OutgoingMessage,
) -> SendKeyboard | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    """The one keyboard a message may carry. Choices are inline buttons under the message:
    each names its question, so a press on an old one is known as stale. A contact request can
    only be a reply keyboard (under the message box): one button, sized to fit, gone once
    used; a later question for typed words takes it away (`clear_keyboard`)."""
    if message.choices:
        rows = [
            [
                SendButton(
                    text=choice.label, callback_data=button_payload(message.step_id, choice.id)
                )
            ]
            for choice in message.choices
        ]
        return SendKeyboard(rows)
    if message.contact_button:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(message.contact_button, request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    if message.clear_keyboard:
        return ReplyKeyboardRemove()
    return None


def _refused(error: Refused) -> RecipientGone | PermanentFailure:
    """What a 4xx other than 401, 404 and 429 means for the message: 403 is the member having
    blocked the bot (an opt-out), a chat not found is gone, a group become a supergroup moved."""
    migrated_to = error.parameters.get("migrate_to_chat_id")
    if migrated_to:
        return PermanentFailure("migrated", f"{error.message} ({migrated_to})")
    if error.code == HTTPStatus.FORBIDDEN:
        return RecipientGone("403", error.message, opted_out=True)
    if error.code == HTTPStatus.BAD_REQUEST and "chat not found" in error.message.lower():
        return RecipientGone("400", error.message)
    return PermanentFailure(str(error.code), error.message)


def _transient(error: BaseException) -> RetryAfter:
    reason = f"{type(error).__name__}: {error}"
    return RetryAfter(TRANSIENT_RETRY_SECONDS, scope="chat", reason=reason)


# --------------------------------------------------------------------------------------------
# Long polling

BACKOFF_MAX_SECONDS: Final = 30.0
_T = TypeVar("_T")


async def poll(
    channel: TelegramChannel,
    handle: Callable[[dict[str, Any]], Awaitable[None]],
    stop: asyncio.Event,
    timeout: int = 25,
) -> None:
    """Long polling until `stop` is set: deletes any webhook, then hands each update to
    `handle`, one at a time and in order.

    The offset moves past an update only once `handle` returned, so a crash redelivers rather
    than loses (`handle` must be idempotent, as storing by provider id is). `handle` raising
    `TelegramPayloadError` skips that update (what a webhook's 400 does); any other error, of
    Telegram or of `handle`, is logged and retried after 1, 2, 4 … at most 30 seconds. A wrong
    token (`TokenRejected`) never heals, so it is raised. Returns promptly when
    `stop` is set, letting a running `handle` finish.
    """
    offset: int | None = None
    webhook_deleted = False
    failures = 0
    while not stop.is_set():
        try:
            if not webhook_deleted:
                await _until_stopped(channel.delete_webhook(), stop)
                webhook_deleted = True
            updates = await _until_stopped(channel.get_updates(offset, timeout), stop)
            if updates is None:
                return
            for update in updates:
                offset = await _handle_one(update, handle, offset)
                if stop.is_set():
                    return
            failures = 0
        except TokenRejected:
            raise
        except Exception as error:
            delay = min(2.0**failures, BACKOFF_MAX_SECONDS)
            if isinstance(error, Throttled):
                delay = max(delay, error.seconds)
            failures += 1
            logger.warning("Telegram polling failed (%s); again in %.0f s", error, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)


async def _handle_one(
    update: dict[str, Any],
    handle: Callable[[dict[str, Any]], Awaitable[None]],
    offset: int | None,
) -> int | None:
    """Hand one update over; the offset to ask for next."""
    update_id = update.get("update_id")
    if not isinstance(update_id, int):
        logger.error("update without an update_id skipped")
        return offset
    if offset is not None and update_id < offset:
        return offset
    try:
        await handle(update)
    except TelegramPayloadError as error:
        logger.error("update %s skipped: %s", update_id, error)
    return update_id + 1


async def _until_stopped(work: Awaitable[_T], stop: asyncio.Event) -> _T | None:
    """The result of `work`, or None when `stop` is set first (the work is then cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        task.cancel()
        stopped.cancel()
        await asyncio.wait({task, stopped})
    return None if task.cancelled() else task.result()
