"""The console channel: `mutuality chat --as ID` (and `mutuality run --as ID`) talks to the bot in
a terminal. It drives the conversation service directly, so it lives beside it rather than with
the provider channels.

It runs the very same service, engine, storage and message log as the other channels; only the
edges differ: lines typed become replies, and replies are printed with choices as numbered lists.
A few lines stand for what a phone would send instead of text: `!photo`, `!location LAT,LON`,
`!voice`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from bot.turns.service import ConversationService, Outbound
from conversations.answers import Location, Photo
from conversations.inputs import Reply
from storage.vocabulary import Channel

CHANNEL: Channel = "console"
PROMPT = "you> "


def parse_console_line(line: str) -> Reply:
    """A typed line as a Reply; `!photo`, `!location LAT,LON` and `!voice` stand for media."""
    stripped = line.strip()
    if stripped == "!photo":
        return Reply(photo=Photo("console-photo", "image/jpeg"))
    if stripped == "!voice":
        return Reply(media_kind="voice")
    if stripped.startswith("!location"):
        parts = stripped.removeprefix("!location").replace(" ", "").split(",")
        try:
            latitude, longitude = (Decimal(part) for part in parts)
        except (ValueError, InvalidOperation):
            return Reply(text=line)
        if -90 <= latitude <= 90 and -180 <= longitude <= 180:
            return Reply(location=Location(latitude, longitude))
    return Reply(text=line)


def format_outbound(outbound: Outbound) -> str:
    lines = outbound.with_numbered_choices().splitlines() or [""]
    return "\n".join(["bot> " + lines[0], *("     " + line for line in lines[1:])])


async def chat(
    service: ConversationService,
    address: str,
    read_line: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
) -> None:
    """Run a conversation until end of input (Ctrl-D) or an interrupt."""

    async def deliver(outbound: list[Outbound]) -> None:
        for message in outbound:
            write(format_outbound(message))
            await service.mark_sent(message)

    await deliver(await service.open(CHANNEL, address))
    while True:
        try:
            line = await read_in_background(read_line, PROMPT)
        except (EOFError, KeyboardInterrupt):
            write("")
            return
        await deliver(await service.receive_from(CHANNEL, address, parse_console_line(line)))


async def read_in_background(read_line: Callable[[str], str], prompt: str) -> str:
    """`read_line(prompt)` in a daemon thread of its own, awaited here.

    A blocking `input()` cannot be interrupted from another thread. In the event loop's own
    executor (`asyncio.to_thread`) it kept the process alive after Ctrl-C until the member
    pressed Enter: closing the loop waits for the executor's threads. A daemon thread is left
    behind instead, and a cancelled wait here ends at once."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def settle(line: str | None, error: BaseException | None) -> None:
        if answer.done():
            return  # the wait was cancelled: nobody reads this line
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(line or "")

    def read() -> None:
        try:
            line, error = read_line(prompt), None
        except BaseException as raised:  # EOFError, KeyboardInterrupt: the caller's to judge
            line, error = None, raised
        with contextlib.suppress(RuntimeError):  # the loop is closed: the process is ending
            loop.call_soon_threadsafe(settle, line, error)

    threading.Thread(target=read, name="console input", daemon=True).start()
    return await answer
