"""The one HTTP connection pool a process talks to the Bot API through.

python-telegram-bot's `Bot` sends through a `telegram.request.BaseRequest`; its httpx-based
`HTTPXRequest` keeps a pool of keep-alive connections. Every `TelegramChannel` of a process (on
one event loop) shares one, so connections are reused across channels and sends, and the pool is
sized once, for the sender's concurrency: a full second's worth of sends may be in flight at
once, plus a long poll and the callback answers. Connections belong to the event loop that
opened them, hence one pool per running loop; the last channel to let go closes it.

`_Request` reads the Bot API's refusals (4xx) at the HTTP seam and raises `Refused` with the
status, Telegram's description verbatim and its parameters: the library's own errors reword the
description ("Bad Request: BUTTON_DATA_INVALID" becomes "Button_data_invalid"), and the record
of a failed send should say what Telegram said. A 429 is `Throttled` with the seconds to wait
(one when Telegram, a proxy or a self-hosted server gives none); 401 and 404, which Telegram
answers for a wrong token, are `TokenRejected`. 5xx and network failures stay the library's
`NetworkError`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

import httpx
from telegram.error import TelegramError
from telegram.request import BaseRequest, HTTPXRequest, RequestData

# A throttle that does not say for how long is waited out this many seconds.
DEFAULT_RETRY_AFTER: Final = 1


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


class _Request(HTTPXRequest):
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
        code, payload = await super().do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        if HTTPStatus.BAD_REQUEST <= code < HTTPStatus.INTERNAL_SERVER_ERROR:
            raise refusal(code, payload)
        return code, payload


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


def acquire(connections: int) -> HTTPXRequest:
    """The pool of the running event loop, made on first use with `connections` connections
    (all kept alive between sends). Every `acquire` is paired with one `release`."""
    loop = _running_loop()
    pool = _pools.get(loop)
    if pool is None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        request = _Request(connection_pool_size=connections, httpx_kwargs={"limits": limits})
        pool = _pools[loop] = _Pool(request)
    pool.users += 1
    return pool.request


async def release(request: HTTPXRequest) -> None:
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
