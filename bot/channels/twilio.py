"""WhatsApp and SMS through Twilio: parse inbound webhooks and status callbacks, verify their
signature, send messages with twilio-python's async HTTP client, and count SMS segments.

Contracts:
- Inbound forms become `MessageEvent`s whose `provider_id` is Twilio's `MessageSid` (storing it
  is idempotent) and whose address is the member's +E.164 number without the `whatsapp:` prefix.
  A form that is not what Twilio sends raises `TwilioPayloadError`, a `ValueError`.
- Signatures are checked against the PUBLIC url, the one Twilio was configured with: operators
  run behind proxies that rewrite scheme, host and port, so the request's own URL is never used.
- `TwilioChannel.send` never raises for what Twilio or the network does: every outcome is a
  `SendResult` (Twilio 21610 is an opt-out, 63016 "outside the 24-hour window", 20429/63018 and
  14107 throttles, 5xx and network trouble transient, other 4xx permanent).
- SMS length is counted the way carriers count it (GSM-7 septets or UTF-16 code units), so the
  outbox writer can split long texts into parts that each stay within a number of segments.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.base import (
    Capabilities,
    MessageEvent,
    OutgoingMessage,
    PermanentFailure,
    RecipientGone,
    RetryAfter,
    SendResult,
    Sent,
    StatusUpdate,
    parse_button_payload,
)
from bot.channels.whatsapp_content import ContentError, InteractiveContent
from conversations.answers import Location, Photo
from conversations.inputs import Reply
from conversations.rendering import numbered_choices
from storage.vocabulary import Channel, MessageStatus

TWILIO_API_URL: Final = "https://api.twilio.com"
TWILIO_CONTENT_API_URL: Final = "https://content.twilio.com"
WHATSAPP_PREFIX: Final = "whatsapp:"
DEFAULT_TIMEOUT: Final = 15.0

WHATSAPP_CAPABILITIES: Final = Capabilities(buttons=False)
SMS_CAPABILITIES: Final = Capabilities(buttons=False)

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")

# Twilio's MessageStatus values, folded onto the statuses we store. "accepted" and "scheduled"
# are still waiting to go out; "sending" is on its way; "canceled" will never be delivered.
_STATUSES: Final[dict[str, MessageStatus]] = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "partially_delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "canceled": "failed",
    "undelivered": "undelivered",
}

# Error codes, https://www.twilio.com/docs/api/errors
_OPTED_OUT: Final = 21610  # the recipient replied STOP to the sender
_RECIPIENT_GONE: Final = frozenset({_OPTED_OUT, 21211, 21614})  # opted out, invalid To, not mobile
_OUTSIDE_WINDOW: Final = 63016
_CHANNEL_THROTTLES: Final = frozenset({20429, 63018})  # account concurrency, channel rate limit
_CHAT_THROTTLES: Final = frozenset({14107})  # reply rate limit between the same two numbers
_DAILY_LIMIT: Final = 63038


class TwilioPayloadError(ValueError):
    """A webhook form that is not what Twilio sends: answer 400, store nothing."""


# --- inbound -------------------------------------------------------------------------------


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise TwilioPayloadError(f"Twilio form without {name}")
    return value


def _channel_of(address: str) -> Channel:
    return "whatsapp" if address.startswith(WHATSAPP_PREFIX) else "sms"


def _e164(address: str, field_name: str) -> str:
    number = address.removeprefix(WHATSAPP_PREFIX)
    if not _E164.fullmatch(number):
        raise TwilioPayloadError(f"Twilio {field_name} is not a +E.164 number: {address!r}")
    return number


def _coordinate(form: Mapping[str, str], name: str, limit: int) -> Decimal:
    raw = form.get(name, "")
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise TwilioPayloadError(f"Twilio {name} is not a number: {raw!r}") from None
    if not value.is_finite() or not -limit <= value <= limit:
        raise TwilioPayloadError(f"Twilio {name} is out of range: {raw!r}")
    return value


def _media_kind(content_type: str) -> str:
    if content_type.startswith("audio/"):
        return "voice"
    if content_type.startswith("video/"):
        return "video"
    return "document"


def _reply(form: Mapping[str, str]) -> Reply:
    body = form.get("Body", "")
    # a quick-reply button sends ButtonPayload, a list picker's item ListId: both carry the id
    # we gave the button (`s:STEP:CHOICE`)
    for payload_field, title_field in (("ButtonPayload", "ButtonText"), ("ListId", "ListTitle")):
        payload = form.get(payload_field, "")
        if payload:
            step, choice = parse_button_payload(payload)
            title = form.get(title_field, "") or body
            return Reply(text=title, choice=choice, choice_step=step)

    raw_count = form.get("NumMedia", "") or "0"
    try:
        media_count = int(raw_count)
    except ValueError:
        raise TwilioPayloadError(f"Twilio NumMedia is not a number: {raw_count!r}") from None
    if media_count < 0:
        raise TwilioPayloadError(f"Twilio NumMedia is negative: {raw_count!r}")
    if media_count > 0:
        url = _required(form, "MediaUrl0")
        content_type = _required(form, "MediaContentType0").strip().lower()
        if content_type.startswith("image/"):
            return Reply(text=body, photo=Photo(url, content_type))
        return Reply(text=body, media_kind=_media_kind(content_type))

    has_latitude, has_longitude = bool(form.get("Latitude")), bool(form.get("Longitude"))
    if has_latitude != has_longitude:
        raise TwilioPayloadError("Twilio form with only one of Latitude and Longitude")
    if has_latitude:
        location = Location(_coordinate(form, "Latitude", 90), _coordinate(form, "Longitude", 180))
        return Reply(text=body, location=location)
    return Reply(text=body)


def parse_inbound(form: Mapping[str, str]) -> MessageEvent:
    """The `MessageEvent` of an inbound message webhook (WhatsApp when From has the
    `whatsapp:` prefix, SMS otherwise). Quick-reply buttons become choices, the first medium a
    photo or a `media_kind`, a shared location a `Location`. Raises `TwilioPayloadError`."""
    sender = _required(form, "From")
    message_sid = _required(form, "MessageSid")
    return MessageEvent(
        channel=_channel_of(sender),
        address=_e164(sender, "From"),
        provider_id=message_sid,
        reply=_reply(form),
    )


def parse_status(form: Mapping[str, str]) -> StatusUpdate:
    """The `StatusUpdate` of a status callback; Twilio's statuses are folded onto ours
    ("accepted" → "queued", "sending" → "sent"). Raises `TwilioPayloadError`."""
    message_sid = _required(form, "MessageSid")
    raw_status = _required(form, "MessageStatus").strip().lower()
    status = _STATUSES.get(raw_status)
    if status is None:
        raise TwilioPayloadError(f"unknown Twilio MessageStatus {raw_status!r}")
    to, sender = form.get("To", ""), form.get("From", "")
    if not to and not sender:
        raise TwilioPayloadError("Twilio status callback without To and From")
    whatsapp = to.startswith(WHATSAPP_PREFIX) or sender.startswith(WHATSAPP_PREFIX)
    error_code = form.get("ErrorCode", "").strip() or None
    return StatusUpdate(
        channel="whatsapp" if whatsapp else "sms",
        provider_id=message_sid,
        status=status,
        error_code=error_code,
        opted_out=error_code == str(_OPTED_OUT),
    )


# --- signatures ----------------------------------------------------------------------------


def public_request_url(public_url: str, path: str, query: str = "") -> str:
    """The URL Twilio requested, as Twilio saw it: our public base URL, the path and query."""
    if not path.startswith("/"):
        path = "/" + path
    return public_url.rstrip("/") + path + ("?" + query if query else "")


def verify_signature(
    auth_token: str,
    public_url: str,
    path: str,
    query: str,
    form: Mapping[str, str],
    signature: str | None,
) -> bool:
    """Whether `signature` (the X-Twilio-Signature header) signs this request. The signed URL is
    rebuilt from the PUBLIC url, never the one the request arrived on behind a proxy. `form`
    may be a multidict (aiohttp, Starlette): repeated fields are signed as Twilio signs them."""
    if not signature:
        return False
    url = public_request_url(public_url, path, query)
    return bool(RequestValidator(auth_token).validate(url, form, signature))


# --- sending -------------------------------------------------------------------------------


def result_for_error(status: int | None, code: int | str | None, reason: str) -> SendResult:
    """What a Twilio error means for the message: recipient gone, retry (and what the limit
    applies to), or a permanent failure. `status` is the HTTP status (None for a status
    callback's ErrorCode); `code` Twilio's error code."""
    number: int | None
    try:
        number = int(code) if code is not None else None
    except ValueError:
        number = None
    if number in _RECIPIENT_GONE:
        return RecipientGone(str(number), reason, opted_out=number == _OPTED_OUT)
    if number == _OUTSIDE_WINDOW:
        return PermanentFailure(
            str(_OUTSIDE_WINDOW), "outside the WhatsApp 24-hour window: a template is needed"
        )
    if number in _CHAT_THROTTLES:
        return RetryAfter(1.0, scope="chat", reason=reason)
    if number in _CHANNEL_THROTTLES or status == 429:
        return RetryAfter(1.0, scope="channel", reason=reason)
    if number == _DAILY_LIMIT:
        return RetryAfter(3600.0, scope="channel", reason=reason)
    if status is not None and status >= 500:
        return RetryAfter(5.0, scope="chat", reason=reason)
    return PermanentFailure(str(number if number is not None else code or status), reason)


def with_numbered_choices(message: OutgoingMessage) -> str:
    """The text with its choices as a numbered list ("\\n1) Yes\\n2) No"): Twilio channels have
    no buttons we can send without a template, and members answer with the number."""
    return numbered_choices(message.text, [choice.label for choice in message.choices])


def _normalise_from(channel: str, from_number: str) -> str:
    number = from_number.strip()
    if channel == "whatsapp":
        bare = number.removeprefix(WHATSAPP_PREFIX)
        if not _E164.fullmatch(bare):
            raise ValueError(f"the WhatsApp sender must be a +E.164 number: {from_number!r}")
        return WHATSAPP_PREFIX + bare
    if not number or number.startswith(WHATSAPP_PREFIX):
        raise ValueError(f"the SMS sender must be a phone number or short code: {from_number!r}")
    return number


def _basic_auth(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")


class _RebasedHttpClient(AsyncTwilioHttpClient):
    """twilio-python's aiohttp client, sending what it would send to api.twilio.com and
    content.twilio.com to other base URLs (fake servers in tests), and never without a timeout:
    twilio passes `timeout=None` by default, which aiohttp takes as "wait forever". Credentials
    go in the Authorization header itself: aiohttp 3.14 deprecates the `BasicAuth` object twilio
    would build. A JSON request (the Content API's) goes as JSON, without the unset fields
    twilio fills with nulls: the aiohttp client would otherwise form-encode its nested body."""

    def __init__(self, api_url: str, content_api_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.api_url = api_url.rstrip("/")
        self.content_api_url = content_api_url.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Any:
        if url.startswith(TWILIO_API_URL):
            url = self.api_url + url[len(TWILIO_API_URL) :]
        elif url.startswith(TWILIO_CONTENT_API_URL):
            url = self.content_api_url + url[len(TWILIO_CONTENT_API_URL) :]
        if auth is not None:
            headers = {**(headers or {}), "Authorization": _basic_auth(*auth)}
        body: Any = data
        if data is not None and (headers or {}).get("Content-Type") == "application/json":
            body = json.dumps(_without_nulls(data), ensure_ascii=False)
        return await super().request(
            method,
            url,
            params=params,
            data=body,
            headers=headers,
            auth=None,
            timeout=self.timeout if timeout is None else timeout,
            allow_redirects=allow_redirects,
        )


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


class TwilioChannel:
    """One Twilio channel (WhatsApp or SMS) from one sender number: a `ChannelAdapter`.

    The aiohttp session is opened on the first send, inside the running event loop, and closed
    by `close()`. Construction does no I/O and reads no environment variable."""

    def __init__(
        self,
        channel: Literal["whatsapp", "sms"],
        account_sid: str,
        auth_token: str,
        from_number: str,
        status_callback_url: str | None = None,
        api_url: str = TWILIO_API_URL,
        *,
        content_api_url: str = TWILIO_CONTENT_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if channel not in ("whatsapp", "sms"):
            raise ValueError(f"not a Twilio channel: {channel!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive: {timeout!r}")
        self.name: Channel = channel
        self.capabilities = WHATSAPP_CAPABILITIES if channel == "whatsapp" else SMS_CAPABILITIES
        self.account_sid = account_sid
        self.from_number = _normalise_from(channel, from_number)
        self.status_callback_url = status_callback_url or None
        self.api_url = api_url.rstrip("/")
        self.content_api_url = content_api_url.rstrip("/")
        self._auth_token = auth_token
        self._timeout = timeout
        self._http: _RebasedHttpClient | None = None
        self._client: Any = None

    def _twilio(self) -> Any:
        if self._client is None:
            self._http = _RebasedHttpClient(self.api_url, self.content_api_url, self._timeout)
            # A non-empty `environment` keeps twilio from reading os.environ (TWILIO_REGION or
            # TWILIO_EDGE there would silently change the host we send to).
            self._client = Client(
                self.account_sid,
                self._auth_token,
                http_client=self._http,
                environment={"TWILIO_ACCOUNT_SID": self.account_sid},
            )
        return self._client

    def _recipient(self, address: str) -> str:
        bare = address.removeprefix(WHATSAPP_PREFIX)
        return WHATSAPP_PREFIX + bare if self.name == "whatsapp" else bare

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Send one message: a template when `content_sid` is set (its variables as JSON, no
        body), else the text with numbered choices. Never raises for Twilio or the network."""
        fields: dict[str, Any] = {"to": self._recipient(message.address), "from_": self.from_number}
        if message.content_sid:
            fields["content_sid"] = message.content_sid
            if message.content_variables:
                fields["content_variables"] = json.dumps(
                    message.content_variables, ensure_ascii=False
                )
        else:
            fields["body"] = with_numbered_choices(message)
        if self.status_callback_url:
            fields["status_callback"] = self.status_callback_url
        try:
            created = await self._twilio().messages.create_async(**fields)
        except (TwilioRestException, TwilioServiceException) as error:
            reason = getattr(error, "msg", "") or getattr(error, "detail", "") or str(error.code)
            return result_for_error(error.status, error.code, str(reason))
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return RetryAfter(5.0, scope="chat", reason=f"network: {error!r}")
        except json.JSONDecodeError as error:
            return RetryAfter(5.0, scope="chat", reason=f"unreadable answer from Twilio: {error}")
        sid = getattr(created, "sid", None)
        if not sid:
            return RetryAfter(5.0, scope="chat", reason="Twilio answered without a message sid")
        return Sent(str(sid))

    async def create_content(self, content: InteractiveContent) -> str:
        """Create a WhatsApp content (quick reply or list picker) and return its sid (`HX…`).
        Raises `ContentError` when Twilio refuses it or cannot be reached."""
        # imported here, as twilio's Client loads its domains: a large module few sends need
        from twilio.rest.content.v1.content import ContentList

        request = ContentList.ContentCreateRequest(content.create_request())
        try:
            created = await self._twilio().content.v1.contents.create_async(request)
        except (TwilioRestException, TwilioServiceException) as error:
            reason = getattr(error, "msg", "") or getattr(error, "detail", "") or str(error.code)
            raise ContentError(f"Twilio refused the content ({error.status}): {reason}") from None
        except (aiohttp.ClientError, TimeoutError, OSError, json.JSONDecodeError) as error:
            raise ContentError(f"Twilio's Content API could not be reached: {error!r}") from None
        sid = getattr(created, "sid", None)
        if not sid:
            raise ContentError("Twilio answered without a content sid")
        return str(sid)

    async def content_body(self, sid: str) -> str:
        """The text of an approved content (a template), its `{{n}}` variables unfilled.
        Raises `ContentError` when Twilio does not know it, refuses, or cannot be reached."""
        try:
            fetched = await self._twilio().content.v1.contents(sid).fetch_async()
        except (TwilioRestException, TwilioServiceException) as error:
            reason = getattr(error, "msg", "") or getattr(error, "detail", "") or str(error.code)
            raise ContentError(f"Twilio refused the content ({error.status}): {reason}") from None
        except (aiohttp.ClientError, TimeoutError, OSError, json.JSONDecodeError) as error:
            raise ContentError(f"Twilio's Content API could not be reached: {error!r}") from None
        for fields in (getattr(fetched, "types", None) or {}).values():
            if isinstance(fields, dict) and isinstance(fields.get("body"), str):
                return str(fields["body"])
        raise ContentError(f"the content {sid} has no text body")

    async def close(self) -> None:
        """Close the HTTP session; a later send opens a new one."""
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()
