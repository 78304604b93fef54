"""A fake Twilio REST API on a local port, for the real twilio client to talk to.

    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, mps_per_sender=80) as fake:
        channel = TwilioChannel("whatsapp", ACCOUNT_SID, AUTH_TOKEN, FROM, None, api_url=fake.url)
        ...
        assert fake.sent[0]["Body"] == "Hello"

It serves `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` the way Twilio does: HTTP basic
auth (401 otherwise), a form body, 201 with a message resource whose sid is fresh. Failures are
injected per recipient with `fail_next`, and a per-sender MPS limit answers 429 (code 20429)
to whoever sends faster, counted in `rate_limited`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web
from twilio.request_validator import RequestValidator

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "twilio"
MESSAGES_PATH = "/2010-04-01/Accounts/{account_sid}/Messages.json"  # an aiohttp route
CONTENTS_PATH = "/v1/Content"  # the Content API's, served by the same fake


def load_fixture(name: str) -> dict[str, Any]:
    """A JSON fixture of tests/fixtures/twilio by name, with or without `.json`."""
    path = FIXTURES / (name if name.endswith(".json") else name + ".json")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def signed_request_headers(auth_token: str, url: str, form: Mapping[str, str]) -> dict[str, str]:
    """Headers Twilio would send with a webhook of `form` to `url` (the PUBLIC url it was
    configured with): the X-Twilio-Signature and the form content type."""
    signature = RequestValidator(auth_token).compute_signature(url, dict(form))
    return {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass
class _Injected:
    body: dict[str, Any]
    times: int


class _TokenBucket:
    """`rate` tokens a second, up to `capacity`; a request takes one token or is refused."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = time.monotonic()

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0 - 1e-9:
            self.tokens -= 1.0
            return True
        return False


class FakeTwilio:
    """The Messages endpoint of Twilio's REST API, and the Content API's create and fetch, on
    127.0.0.1 and a free port (`url`, for both `TWILIO_API_URL` and `TWILIO_CONTENT_API_URL`).

    Contents are kept in `contents` by sid, checked against WhatsApp's limits for quick replies
    and list pickers (400 with Twilio's error shape when over); a send with a known
    `ContentSid` records what the member sees under `rendered` (the kind, the body with its
    variables filled in, and the buttons or the list's button and items).

    Every authenticated request to the endpoint is appended to `sent`: its form fields, plus
    `received_at` (time.monotonic() on arrival) and `response_status` (201 when the message was
    accepted; `accepted` lists only those). `mps_per_sender` enforces Twilio's per-sender
    messages-per-second as a token bucket of `mps_burst` tokens (default: one second's worth,
    at least one) refilled at that rate; `jitter` seconds of extra tokens absorb the network
    delay between a well-behaved client's clock and ours."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        mps_per_sender: float | None = None,
        *,
        mps_burst: float | None = None,
        jitter: float = 0.01,
    ) -> None:
        if mps_per_sender is not None and mps_per_sender <= 0:
            raise ValueError("mps_per_sender must be positive")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.mps_per_sender = mps_per_sender
        self.mps_burst = mps_burst
        self.jitter = jitter
        self.sent: list[dict[str, Any]] = []
        self.contents: dict[str, dict[str, Any]] = {}
        self.content_requests = 0
        self._content_failures = 0
        self.rate_limited = 0
        self._failures: dict[str, deque[_Injected]] = defaultdict(deque)
        self._buckets: dict[str, _TokenBucket] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.on_created: Callable[[str, Mapping[str, str]], Awaitable[None]] | None = None
        """Awaited with a new message's sid and form before Twilio's answer goes back: a
        status callback can reach the web process before the sender has the receipt."""

    def approve_text(self, friendly_name: str, body: str, language: str = "en") -> str:
        """A `twilio/text` template as an operator creates it in Twilio's console and WhatsApp
        approves it (not through our API); its sid."""
        sid = "HX" + uuid.uuid4().hex
        self.contents[sid] = {
            "sid": sid,
            "account_sid": self.account_sid,
            "friendly_name": friendly_name,
            "language": language,
            "variables": {},
            "types": {"twilio/text": {"body": body}},
            "url": f"{self.url}/v1/Content/{sid}",
            "links": {},
        }
        return sid

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """The requests answered 201: the messages Twilio would deliver."""
        return [request for request in self.sent if request["response_status"] == 201]

    def fail_next(self, to_number: str, failure: str | Mapping[str, Any], times: int = 1) -> None:
        """Answer the next `times` sends to `to_number` with a failure: the name of a fixture
        (`response_400_21610_unsubscribed`, `response_400_21211_invalid_to`,
        `response_429_20429`) or a dict whose "status" is the HTTP status (`{"status": 500}`).
        A bare +E.164 number matches both the SMS and the WhatsApp address."""
        body = load_fixture(failure) if isinstance(failure, str) else dict(failure)
        if not isinstance(body.get("status"), int):
            raise ValueError(f"a failure needs an integer HTTP status: {body!r}")
        self._failures[to_number].append(_Injected(body, times))

    def fail_next_contents(self, times: int = 1) -> None:
        """Answer the next `times` content creations with a 500."""
        self._content_failures += times

    async def __aenter__(self) -> FakeTwilio:
        app = web.Application()
        app.router.add_post(MESSAGES_PATH, self._create_message)
        app.router.add_post(CONTENTS_PATH, self._create_content)
        app.router.add_get(CONTENTS_PATH + "/{sid}", self._fetch_content)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            credentials = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return credentials == f"{self.account_sid}:{self.auth_token}"

    def _injected_failure(self, to: str) -> dict[str, Any] | None:
        for key in (to, to.removeprefix("whatsapp:")):
            queue = self._failures.get(key)
            if queue:
                injected = queue[0]
                injected.times -= 1
                if injected.times <= 0:
                    queue.popleft()
                return injected.body
        return None

    def _within_rate(self, sender: str, now: float) -> bool:
        if self.mps_per_sender is None:
            return True
        bucket = self._buckets.get(sender)
        if bucket is None:
            burst = self.mps_burst if self.mps_burst is not None else max(1.0, self.mps_per_sender)
            capacity = burst + self.mps_per_sender * self.jitter
            bucket = self._buckets[sender] = _TokenBucket(self.mps_per_sender, capacity)
        return bucket.take(now)

    def _created(self, form: Mapping[str, str]) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        body = form.get("Body", "")
        resource = load_fixture("response_message_created")
        resource.update(
            account_sid=self.account_sid,
            sid=sid,
            to=form.get("To"),
            body=body,
            status="queued",
            date_created=now,
            date_updated=now,
            num_segments=str(max(1, math.ceil(len(body) / 153))),
            uri=uri + ".json",
            subresource_uris={"media": uri + "/Media.json"},
        )
        resource["from"] = form.get("From")
        resource["messaging_service_sid"] = form.get("MessagingServiceSid")
        return resource

    async def _create_message(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        if not self._authorised(request):
            return web.json_response(_error(401, 20003, "Authenticate"), status=401)
        if request.match_info["account_sid"] != self.account_sid:
            resource = _error(404, 20404, "The requested resource was not found")
            return web.json_response(resource, status=404)
        form = {key: str(value) for key, value in (await request.post()).items()}
        record: dict[str, Any] = {**form, "received_at": now}
        if form.get("ContentSid") in self.contents:
            record["rendered"] = _rendered(
                self.contents[form["ContentSid"]], form.get("ContentVariables", "")
            )
        self.sent.append(record)

        answer, status = self._answer(form, now)
        record["response_status"] = status
        if status == 201 and self.on_created is not None:
            await self.on_created(str(answer["sid"]), form)
        return web.json_response(answer, status=status)

    def _answer(self, form: Mapping[str, str], now: float) -> tuple[dict[str, Any], int]:
        to, sender = form.get("To", ""), form.get("From", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required."), 400
        if not sender and not form.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required."), 400
        if not form.get("Body") and not form.get("ContentSid") and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required."), 400
        injected = self._injected_failure(to)
        if injected is not None:
            return injected, int(injected["status"])
        if not self._within_rate(sender or form.get("MessagingServiceSid", ""), now):
            self.rate_limited += 1
            return load_fixture("response_429_20429"), 429
        return self._created(form), 201

    async def _create_content(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response(_error(401, 20003, "Authenticate"), status=401)
        self.content_requests += 1
        if self._content_failures > 0:
            self._content_failures -= 1
            return web.json_response(_error(500, 20500, "Internal Server Error"), status=500)
        if request.content_type != "application/json":
            return web.json_response(_error(400, 20001, "JSON body expected"), status=400)
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.json_response(_error(400, 20001, "Invalid JSON"), status=400)
        problem = _content_problem(body)
        if problem:
            return web.json_response(_error(400, 20001, problem), status=400)
        sid = "HX" + uuid.uuid4().hex
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        resource = {
            "sid": sid,
            "account_sid": self.account_sid,
            "friendly_name": body["friendly_name"],
            "language": body.get("language", "en"),
            "variables": body.get("variables", {}),
            "types": body["types"],
            "date_created": now,
            "date_updated": now,
            "url": f"{self.url}/v1/Content/{sid}",
            "links": {},
        }
        self.contents[sid] = resource
        return web.json_response(resource, status=201)

    async def _fetch_content(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response(_error(401, 20003, "Authenticate"), status=401)
        resource = self.contents.get(request.match_info["sid"])
        if resource is None:
            return web.json_response(_error(404, 20404, "Not found"), status=404)
        return web.json_response(resource)


def _content_problem(body: Any) -> str:
    """Why Twilio would refuse this content, or "" (WhatsApp's limits for the two kinds)."""
    if not isinstance(body, dict) or not body.get("friendly_name"):
        return "friendly_name is required"
    types = body.get("types")
    if not isinstance(types, dict) or len(types) != 1:
        return "exactly one content type is expected"
    kind, fields = next(iter(types.items()))
    if not isinstance(fields, dict) or not fields.get("body"):
        return f"{kind} needs a body"
    if any(value is None for value in fields.values()):
        return f"{kind} has null fields"
    if kind == "twilio/quick-reply":
        actions = fields.get("actions") or []
        if not 1 <= len(actions) <= 3:
            return "a quick reply has 1 to 3 actions"
        if any(len(action.get("title", "")) > 20 or not action.get("id") for action in actions):
            return "a quick reply action's title is at most 20 characters, with an id"
        return ""
    if kind == "twilio/list-picker":
        items = fields.get("items") or []
        if not 1 <= len(items) <= 10:
            return "a list picker has 1 to 10 items"
        if not fields.get("button") or len(fields["button"]) > 20:
            return "a list picker's button is 1 to 20 characters"
        for item in items:
            if not item.get("item") or len(item["item"]) > 24 or not item.get("id"):
                return "a list item is 1 to 24 characters, with an id"
            if len(item.get("description", "")) > 72:
                return "a list item's description is at most 72 characters"
        return ""
    return f"unsupported content type {kind}"


def _rendered(content: Mapping[str, Any], variables: str) -> dict[str, Any]:
    values = json.loads(variables) if variables else {}
    kind, fields = next(iter(content["types"].items()))
    body = str(fields["body"])
    for name, value in {**content.get("variables", {}), **values}.items():
        body = body.replace("{{" + name + "}}", str(value))
    rendered: dict[str, Any] = {"kind": kind, "body": body}
    if kind == "twilio/quick-reply":
        rendered["buttons"] = [(action["title"], action["id"]) for action in fields["actions"]]
    elif kind == "twilio/list-picker":
        rendered["button"] = fields["button"]
        rendered["items"] = [
            (item["item"], item["id"], item.get("description", "")) for item in fields["items"]
        ]
    return rendered
