"""The one HTTP connection pool a process talks to the Bot API through.

python-telegram-bot's `Bot` sends through a `telegram.request.BaseRequest`, the library's seam
for the HTTP client. Ours, `_Request`, is aiohttp's client (which twilio-python's async client
loads anyway): measured against the library's own httpx-based `HTTPXRequest`, a send costs a
quarter of the CPU (httpcore's pool walks every connection on every request; see
docs/benchmarks.md). Every `TelegramChannel` of a process (on one event loop) shares one pool of
keep-alive connections, sized once for the sender's concurrency: a full second's worth of sends
may be in flight at once, plus a long poll and the callback answers. Connections belong to the
event loop that opened them, hence one pool per running loop; the last channel to let go closes
it.

`_Request` also reads the Bot API's refusals (4xx) and raises `Refused` with the status,
Telegram's description verbatim and its parameters: the library's own errors reword the
description ("Bad Request: BUTTON_DATA_INVALID" becomes "Button_data_invalid"), and the record
of a failed send should say what Telegram said. A 429 is `Throttled` with the seconds to wait
(one when Telegram, a proxy or a self-hosted server gives none); 401 and 404, which Telegram
answers for a wrong token, are `TokenRejected`. 5xx answers are the library's `NetworkError`,
like a connection refused or reset; a timeout is its `TimedOut`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

import aiohttp
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

# A throttle that does not say for how long is waited out this many seconds.
DEFAULT_RETRY_AFTER: Final = 1
# Seconds, for a call made without its own timeouts (every call of ours gives them).
DEFAULT_TIMEOUT: Final = 30.0


class Refused(TelegramError):
    """The Bot API refused a call: its HTTP `code`, `description` verbatim, `parameters`."""

    __slots__ = ("code", "parameters")

    def __init__(self, code: int, description: str, parameters: dict[str, Any]) -> None:
        super().__init__(description)
        self.message = description  # the library would strip and re-case Telegram's words
        self.code = code
        self.parameters = parameters


class Throttled(Refused):
    """429: send nothing more to what Telegram limits for `seconds`."""

    __slots__ = ("seconds",)

    def __init__(self, code: int, description: str, parameters: dict[str, Any]) -> None:
        super().__init__(code, description, parameters)
        seconds = parameters.get("retry_after")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            seconds = DEFAULT_RETRY_AFTER
        self.seconds = float(seconds)


class TokenRejected(Refused):
    """401 or 404 on every call: the bot's token is wrong (or revoked). Nothing heals it but an
    operator."""

    __slots__ = ()


class _Request(BaseRequest):
    """Bot API calls over one aiohttp session of at most `connections` connections, opened on
    first use in the running event loop."""

    def __init__(self, connections: int) -> None:
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        return DEFAULT_TIMEOUT

    async def initialize(self) -> None:
        self._open()

    async def shutdown(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )
        return self._session

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        # aiohttp has no write timeout: a send's body is small and sent at once
        read, connect, pool = (
            DEFAULT_TIMEOUT if value is BaseRequest.DEFAULT_NONE else value
            for value in (read_timeout, connect_timeout, pool_timeout)
        )
        # `connect` in aiohttp includes waiting for a free connection of the pool
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._open().request(
                method, url, data=_body(request_data), timeout=timeout
            ) as response:
                code, payload = response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut(f"no answer from the Bot API in time ({method} {_path(url)})") from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
        if HTTPStatus.BAD_REQUEST <= code < HTTPStatus.INTERNAL_SERVER_ERROR:
            raise refusal(code, payload)
        return code, payload


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """The call's parameters as a form (as the library's own client sends them), multipart
    when files go with them."""
    if request_data is None:
        return None
    if not request_data.contains_files:
        return request_data.json_parameters
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, upload in request_data.multipart_data.items():
        filename, content, *rest = upload
        form.add_field(name, content, filename=filename, content_type=rest[0] if rest else None)
    return form


def _path(url: str) -> str:
    """The method's name from a call's URL, which holds the bot's token before it."""
    return url.rsplit("/", 1)[-1]


def refusal(code: int, payload: bytes) -> Refused:
    """The error for a 4xx answer, whatever its body is (Telegram's JSON, a proxy's HTML)."""
    try:
        body = json.loads(payload)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    description = body.get("description")
    if not isinstance(description, str) or not description:
        description = _phrase(code)
    parameters = body.get("parameters")
    if not isinstance(parameters, dict):
        parameters = {}
    if code == HTTPStatus.TOO_MANY_REQUESTS:
        return Throttled(code, description, parameters)
    if code in (HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND):
        return TokenRejected(code, description, parameters)
    return Refused(code, description, parameters)


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return f"HTTP {code}"


@dataclass
class _Pool:
    request: _Request
    users: int = 0


_pools: dict[asyncio.AbstractEventLoop | None, _Pool] = {}


def acquire(connections: int) -> BaseRequest:
    """The pool of the running event loop, made on first use with `connections` connections
    (all kept alive between sends). Every `acquire` is paired with one `release`."""
    loop = _running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = _Pool(_Request(connections))
    pool.users += 1
    return pool.request


async def release(request: BaseRequest) -> None:
    """One user fewer; the last one closes the pool's connections."""
    for loop, pool in list(_pools.items()):
        if pool.request is request:
            pool.users -= 1
            if pool.users <= 0:
                del _pools[loop]
                await request.shutdown()
            return


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
