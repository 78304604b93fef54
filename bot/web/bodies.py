"""Reading a request's body within a bound.

Provider payloads are small (a Telegram update, a Twilio form: a few kilobytes at most), so a
body larger than the bound is refused before it is read whole: a flood of large POSTs, signed
or not, costs the web process at most the bound per request, never the body's size.
"""

from __future__ import annotations

from starlette.requests import Request

WEBHOOK_BODY_MAX = 64 * 1024
"""Bytes a webhook's body may hold. The largest real payload, a 4,096-character message of
multi-byte characters, percent-encoded in a Twilio form, is under 40 KB."""


class BodyTooLarge(Exception):
    """The body is larger than the bound (413)."""


async def read_body(request: Request, limit: int = WEBHOOK_BODY_MAX) -> bytes:
    """The request's body; raises `BodyTooLarge` as soon as it is known to exceed `limit`: at
    once from its Content-Length, or while it streams in, before more than `limit` is held."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"{declared} bytes declared, at most {limit} taken")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
