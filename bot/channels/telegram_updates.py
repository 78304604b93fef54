"""The shapes of the Bot API updates the Telegram channel reads, checked as they arrive.

Only what `bot.channels.telegram` reads is declared, with the Bot API's own field names (and
`from` as `from_user`); every other field is ignored, so Telegram adding one changes nothing.
Validation is what makes a webhook body that is not an update a 400 naming where it is wrong
(`message.date: Field required`), never repeating the member's words. These are our models,
not the client library's: parsing an update needs no Telegram client at all, which keeps the
web process's parsing cheap and independent of how we talk back to Telegram.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class User(_Shape):
    id: int
    is_bot: bool
    first_name: str
    username: str | None = None


class Chat(_Shape):
    id: int
    type: str
    title: str | None = None


class Contact(_Shape):
    phone_number: str
    first_name: str
    user_id: int | None = None


class PhotoSize(_Shape):
    file_id: str
    file_unique_id: str
    width: int
    height: int
    file_size: int | None = None


class Location(_Shape):
    latitude: float
    longitude: float


class File(_Shape):
    """Any other media (voice, sticker, video …): we only note that it came."""

    file_id: str
    file_unique_id: str


class InlineKeyboardButton(_Shape):
    text: str
    callback_data: str | None = None


class InlineKeyboardMarkup(_Shape):
    inline_keyboard: list[list[InlineKeyboardButton]]


class Message(_Shape):
    message_id: int
    date: int
    chat: Chat
    from_user: User | None = Field(default=None, alias="from")
    text: str | None = None
    caption: str | None = None
    contact: Contact | None = None
    photo: list[PhotoSize] | None = None
    location: Location | None = None
    voice: File | None = None
    sticker: File | None = None
    animation: File | None = None
    video: File | None = None
    video_note: File | None = None
    audio: File | None = None
    document: File | None = None
    reply_markup: InlineKeyboardMarkup | None = None


class CallbackQuery(_Shape):
    id: str
    from_user: User = Field(alias="from")
    chat_instance: str
    message: Message | None = None
    data: str | None = None


class ChatMember(_Shape):
    """Any of the Bot API's ChatMember kinds: `is_member` only comes with "restricted"."""

    status: str
    user: User
    is_member: bool | None = None


class ChatMemberUpdated(_Shape):
    chat: Chat
    from_user: User = Field(alias="from")
    date: int
    old_chat_member: ChatMember
    new_chat_member: ChatMember


class Update(_Shape):
    update_id: int
    message: Message | None = None
    edited_message: Message | None = None
    callback_query: CallbackQuery | None = None
    my_chat_member: ChatMemberUpdated | None = None
