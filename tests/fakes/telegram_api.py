"""A fake Telegram Bot API server for the real python-telegram-bot client to talk to.

    async with FakeTelegram(token="123:abc") as fake:
        channel = TelegramChannel("123:abc", api_url=fake.url)

It answers `POST|GET {url}/bot{token}/{method}` with JSON, form or multipart parameters, as
clients send them, and implements what the bot uses: getMe, sendMessage, sendDocument (a file
uploaded as multipart), answerCallbackQuery, setWebhook, deleteWebhook and getUpdates (long
polling over `push_update`). What arrived is kept for assertions: `sent` (texts and documents in
the order they came; a document's caption is its `text`, its file an `Upload` under `document`),
`callback_answers`, `webhook`, `calls`.

Failures are injected with `fail_next(chat_id, response, times)`, where `response` is the name of
a fixture in tests/fixtures/telegram/ (`response_429`, `response_403_blocked`,
`response_400_chat_not_found`), a Bot API error body (`{"ok": false, "error_code": ...}`), or
`{"status": 500}` (optionally with a `body`, a dict or raw text). Telegram's limits are enforced
when asked (`global_per_second`, `per_chat_per_second`, sliding one-second windows): a send over
them gets the 429 fixture with `retry_after` 1 and counts in `rate_limited`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "telegram"
# Parameters a client sends JSON-serialized inside a form; numbers it sends as text.
_JSON_PARAMETERS = frozenset(
    {"reply_markup", "allowed_updates", "entities", "link_preview_options", "reply_parameters"}
)
_INT_PARAMETERS = frozenset({"chat_id", "offset", "limit", "timeout", "message_thread_id"})

Handler = Callable[[dict[str, Any]], Awaitable[web.Response]]
MAX_CAPTION = 1024


@dataclass(frozen=True)
class Upload:
    """A file that came in a multipart request."""

    filename: str
    content_type: str
    content: bytes


def load_fixture(name: str) -> dict[str, Any]:
    """A Telegram fixture by file name, with or without `.json`."""
    path = FIXTURES / (name if name.endswith(".json") else f"{name}.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _reply(status: int, body: Mapping[str, Any] | str) -> web.Response:
    if isinstance(body, str):
        return web.Response(status=status, text=body, content_type="text/html")
    return web.json_response(dict(body), status=status)


def _ok(result: Any) -> web.Response:
    return _reply(200, {"ok": True, "result": result})


def _error(status: int, description: str) -> web.Response:
    return _reply(status, {"ok": False, "error_code": status, "description": description})


def _failure(response: str | Mapping[str, Any]) -> tuple[int, Mapping[str, Any] | str]:
    if isinstance(response, str):
        body = load_fixture(response)
        return int(body["error_code"]), body
    if "status" in response:
        status = int(response["status"])
        default = {"ok": False, "error_code": status, "description": HTTPStatus(status).phrase}
        return status, response.get("body", default)
    return int(response["error_code"]), response


class FakeTelegram:
    """A Bot API server on 127.0.0.1 and a free port, for the length of an `async with`."""

    def __init__(
        self,
        token: str = "123:abc",
        *,
        username: str = "mutuality_bot",
        global_per_second: float | None = None,
        per_chat_per_second: float | None = None,
        answer_delay: float = 0.0,
    ) -> None:
        """`answer_delay`: seconds each sendMessage takes to answer, as over a real network."""
        self.token = token
        self.answer_delay = answer_delay
        self.username = username
        self.global_per_second = global_per_second
        self.per_chat_per_second = per_chat_per_second
        self.url = ""
        self._pushed = asyncio.Event()
        self._closing = False
        self.reset()
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, Handler] = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "senddocument": self._send_document,
            "answercallbackquery": self._answer_callback_query,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getupdates": self._get_updates,
        }

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closing = True
        self._wake()  # long polls still waiting answer now, so shutdown does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests do ------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything that arrived, queued or was injected (for a server shared by tests)."""
        self.sent: list[dict[str, Any]] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] | None = None
        self.calls: list[str] = []
        self.rate_limited = 0
        self._updates: list[dict[str, Any]] = []
        self._failures: defaultdict[
            str | None, deque[tuple[str | None, int, Mapping[str, Any] | str]]
        ] = defaultdict(deque)
        self._recent: deque[float] = deque()
        self._recent_per_chat: defaultdict[str, deque[float]] = defaultdict(deque)
        self._message_id = int(load_fixture("response_send_message_ok")["result"]["message_id"])

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (numbered after the last one if it has no id)."""
        if "update_id" not in update:
            last = self._updates[-1]["update_id"] if self._updates else 0
            update = {"update_id": last + 1, **update}
        self._updates.append(update)
        self._wake()

    def fail_next(
        self,
        chat_id: int | str | None,
        response: str | Mapping[str, Any],
        times: int = 1,
        method: str | None = None,
    ) -> None:
        """The next `times` requests naming `chat_id` (any request when None), of `method` only
        when given (e.g. "sendDocument"), get `response`."""
        key = None if chat_id is None else str(chat_id)
        self._failures[key].extend([(method, *_failure(response))] * times)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a getUpdates offset."""
        return list(self._updates)

    # --- the server ---------------------------------------------------------------------------

    def _wake(self) -> None:
        self._pushed.set()
        self._pushed = asyncio.Event()

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await _parameters(request)
        self.calls.append(method)
        failure = self._take_failure(params.get("chat_id"), method)
        if failure is not None:
            return _reply(*failure)
        handler = self._methods.get(method.lower())
        if handler is None:
            return _error(404, "Not Found: method not found")
        return await handler(params)

    def _take_failure(
        self, chat_id: Any, method: str
    ) -> tuple[int, Mapping[str, Any] | str] | None:
        for key in (None if chat_id is None else str(chat_id), None):
            queue = self._failures.get(key)
            if queue and queue[0][0] in (None, method):
                _, status, body = queue.popleft()
                return status, body
        return None

    async def _get_me(self, params: dict[str, Any]) -> web.Response:
        return _ok(
            {
                "id": int(self.token.split(":")[0]),
                "is_bot": True,
                "first_name": "Mutuality",
                "username": self.username,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        text = params.get("text") or ""
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        return await self._deliver(params, {"text": text}, {"text": text})

    async def _send_document(self, params: dict[str, Any]) -> web.Response:
        upload = params.get("document")
        caption = params.get("caption") or ""
        if not isinstance(upload, Upload):
            return _error(400, "Bad Request: wrong remote file identifier specified")
        if not upload.content:
            return _error(400, "Bad Request: file must be non-empty")
        if len(caption) > MAX_CAPTION:
            return _error(400, "Bad Request: message caption is too long")
        document = {
            "file_name": upload.filename,
            "mime_type": upload.content_type,
            "file_id": f"BQACAgQAAx{len(self.sent)}",
            "file_unique_id": f"AgAD{len(self.sent)}",
            "file_size": len(upload.content),
        }
        result = {"document": document, **({"caption": caption} if caption else {})}
        return await self._deliver(params, {"text": caption, "document": upload}, result)

    async def _deliver(
        self, params: dict[str, Any], kept: dict[str, Any], result_fields: dict[str, Any]
    ) -> web.Response:
        """What every send has in common: a chat, the limits, the record and the answer."""
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        chat_id = params.get("chat_id")
        if chat_id is None:
            return _error(400, "Bad Request: chat_id is empty")
        now = time.monotonic()
        if self._over_limits(str(chat_id), now):
            self.rate_limited += 1
            body = load_fixture("response_429")
            body.update(
                description="Too Many Requests: retry after 1", parameters={"retry_after": 1}
            )
            return _reply(429, body)
        self._recent.append(now)
        self._recent_per_chat[str(chat_id)].append(now)
        markup = params.get("reply_markup")
        self.sent.append({"chat_id": chat_id, **kept, "reply_markup": markup, "at": now})
        self._message_id += 1
        result = dict(load_fixture("response_send_message_ok")["result"])
        result.pop("text", None)
        chat_type = "private" if isinstance(chat_id, int) and chat_id > 0 else "supergroup"
        result.update(
            message_id=self._message_id,
            chat={"id": chat_id, "type": chat_type},
            date=int(time.time()),
            **result_fields,
        )
        if markup and "inline_keyboard" in markup:
            result["reply_markup"] = markup  # a reply keyboard is not part of the message
        return _ok(result)

    def _over_limits(self, chat: str, now: float) -> bool:
        windows = [(self._recent, self.global_per_second)]
        windows.append((self._recent_per_chat[chat], self.per_chat_per_second))
        over = False
        for window, limit in windows:
            while window and window[0] <= now - 1.0:
                window.popleft()
            over = over or (limit is not None and len(window) >= limit)
        return over

    async def _answer_callback_query(self, params: dict[str, Any]) -> web.Response:
        if not params.get("callback_query_id"):
            return _error(400, "Bad Request: query is too old and response timeout expired")
        self.callback_answers.append(params)
        return _ok(True)

    async def _set_webhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = {
            "url": params.get("url", ""),
            "secret_token": params.get("secret_token"),
            "allowed_updates": params.get("allowed_updates"),
        }
        return _reply(200, {"ok": True, "result": True, "description": "Webhook was set"})

    async def _delete_webhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = None
        return _reply(200, {"ok": True, "result": True, "description": "Webhook was deleted"})

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook is not None:
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        if offset > 0:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout") or 0)
        while not self._updates and not self._closing and loop.time() < deadline:
            pushed = self._pushed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pushed.wait(), deadline - loop.time())
        return _ok(self._updates[:limit])


async def _parameters(request: web.Request) -> dict[str, Any]:
    """Query, JSON, form or multipart parameters as one dict of decoded values."""
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    content_type = value.content_type or "application/octet-stream"
                    params[key] = Upload(value.filename, content_type, value.file.read())
                else:
                    params[key] = value if isinstance(value, str) else bytes(value).decode()
    for key in _JSON_PARAMETERS & params.keys():
        if isinstance(params[key], str):
            params[key] = json.loads(params[key])
    for key in _INT_PARAMETERS & params.keys():
        if isinstance(params[key], str):
            with contextlib.suppress(ValueError):
                params[key] = int(params[key])
    return params
