"""`GET {PUBLIC_URL}/data/{token}`: a member's copy of their data, from the one-time link that
`mydata` gave them in chat (see `bot.members.copies`). The link works once, for a day; anything
else is the same 404, which tells nothing about whether a token ever existed."""

from __future__ import annotations

from fastapi import FastAPI, Response

from bot.members.copies import redeem
from bot.runtime import Runtime
from bot.turns.data_rights import COPY_PATH

GONE = "This link has expired or was used already. Send MYDATA in the chat for a new one.\n"


def add_data_copy_routes(app: FastAPI, runtime: Runtime) -> None:
    @app.get(COPY_PATH + "/{token}")
    async def data_copy(token: str) -> Response:
        if not 16 <= len(token) <= 64:
            return Response(GONE, status_code=404, media_type="text/plain")
        async with runtime.database.transaction() as uow:
            data = await redeem(uow, token, runtime.clock())
        if data is None:
            return Response(GONE, status_code=404, media_type="text/plain")
        return Response(
            data,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="my-data.csv"',
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
            },
        )
