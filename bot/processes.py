"""The long-running processes: `web`, `worker` and `run` (everything in one process).

Each runs until SIGTERM or SIGINT, then stops taking new work, finishes what it holds and
closes its connections: a worker finishes the turn in hand (an unfinished one stays pending in
the inbox), the sender finishes its round, the web server drains its requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import faulthandler
import gc
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import uvicorn

from bot.leftover_tasks import run_to_the_end
from bot.logs import setup_logging
from bot.runtime import Runtime
from bot.schedule.sweeper import run_sweeper
from bot.settings import Settings
from bot.turns import console

log = logging.getLogger(__name__)

Job = Callable[[], Coroutine[Any, Any, None]]


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows), else None: asyncio's own.

    The processes spend much of their CPU in the event loop (sockets to the database, Redis,
    the providers, the web clients); uvloop does that work in C. Measured on the pipeline
    benchmark (production, with uvicorn's httptools parser installed alongside, one run each,
    see docs/benchmarks.md): 8% less CPU per answer in the bot's processes."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


COLLECTION_THRESHOLDS = (20_000, 50, 100)
"""`gc.set_threshold` while a process serves: the youngest generation is collected after
20,000 allocations, the middle one every 50 of those, the oldest every 100 of those (Python's
defaults are 700, 10, 10)."""


@contextlib.contextmanager
def garbage_collection_for_serving() -> Iterator[None]:
    """Fewer cyclic garbage collections while a process serves; as before afterwards.

    Everything alive by then (the objects of SQLAlchemy, pydantic, the channels' clients and our
    own modules, kept for the whole process) is frozen out of the collector's sight, and the
    generations are collected less often (`COLLECTION_THRESHOLDS`): a turn allocates thousands
    of short-lived objects, and each collection walked the survivors again. Reference counting
    still frees almost everything at once; the collector is only for cycles. Measured on the
    pipeline benchmark (production, runs alternated within one hour, see docs/benchmarks.md):
    median 531 answers/s over seven runs and 2.0-2.9 ms of bot CPU per answer, against 433 over
    nine runs and 2.5-3.6 ms with Python's defaults, the same RSS; with only the youngest
    generation's threshold raised (20,000, 10, 10), 453-460 in two runs."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*COLLECTION_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def run_process(main: Coroutine[Any, Any, None]) -> None:
    """Run a process's main coroutine on the event loop `event_loop_factory` chooses, with
    `garbage_collection_for_serving`; then end the tasks it left (`run_to_the_end`)."""
    with garbage_collection_for_serving():
        run_to_the_end(main, event_loop_factory())


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process's stop event rules."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def configure_logging(settings: Settings, quiet: bool = False) -> None:
    """Logging as the settings say (`bot.logs`): addresses and secrets masked in every line;
    `quiet` (a terminal chat) shows warnings and errors only."""
    setup_logging(
        level="WARNING" if quiet else settings.log_level,
        fmt=settings.log_format,
        library_level=settings.log_library_level,
        secrets=settings.secrets,
    )


def _stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set `stop`; the first also arms `_exit_if_still_running`."""
    loop = asyncio.get_running_loop()
    armed: list[threading.Timer] = []

    def stopping() -> None:
        stop.set()
        if not armed:
            deadline = threading.Timer(STOP_DEADLINE, _exit_if_still_running)
            deadline.daemon = True  # never keeps a process alive that has stopped
            deadline.start()
            armed.append(deadline)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping)


def _exit_if_still_running() -> None:
    """The last resort of a stop: a process still running `STOP_DEADLINE` seconds after the
    signal (a task that ignored its cancellation, a thread that never ended) writes where every
    thread stands, so the next person can see what held it, and exits with status 1. Nothing
    durable is lost: what was not committed stays pending, as after a crash."""
    sys.stderr.write(
        f"still running {STOP_DEADLINE:g} s after the signal to stop: exiting now; "
        "where every thread stood:\n"
    )
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(1)


def web_config(app: Any, settings: Settings, quiet: bool) -> uvicorn.Config:
    """uvicorn's configuration for the web server: no access log unless `ACCESS_LOG` asks for
    it (a line per request costs CPU on every webhook), none at all when `quiet`."""
    return uvicorn.Config(
        app,
        host="0.0.0.0",
        port=settings.port,
        log_level="warning" if quiet else "info",
        access_log=settings.access_log and not quiet,
        log_config=None,  # uvicorn's lines go through our handler, masked like all others
        lifespan="off",
    )


def listen_on(host: str, port: int) -> socket.socket:
    """The web server's socket, bound here rather than by uvicorn, which answers a port in use
    with a traceback and `sys.exit` from inside its task. An `OSError` whose message is the one
    line the command line shows (`bot.cli.errors`), exit code 1."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as error:
        listening.close()
        if error.errno == errno.EADDRINUSE:
            raise OSError(
                error.errno,
                f"port {port} is in use by another program (another `mutuality run` or "
                "`mutuality web`?); stop it, or set PORT to a free port",
            ) from error
        raise OSError(error.errno, f"cannot listen on port {port}: {error.strerror}") from error
    listening.set_inheritable(True)
    return listening


async def _serve_web(runtime: Runtime, stop: asyncio.Event, quiet: bool) -> None:
    # imported here: the worker and the clock serve no web app and need not load FastAPI
    from bot.web.app import create_app

    config = web_config(create_app(runtime), runtime.settings, quiet)
    listening = listen_on(config.host, config.port)
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    waiting = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await serving
    waiting.cancel()
    if not stop.is_set():
        raise RuntimeError(f"the web server stopped (is port {runtime.settings.port} free?)")


STOP_GRACE = 7.0
"""Seconds a process's jobs get, once it is told to stop, to finish what they hold (a turn, a
round of sends) before they are cancelled. Process managers send SIGKILL 10 seconds after
SIGTERM (Heroku, `docker stop`); the rest is for closing connections."""
STOP_DEADLINE = 9.5
"""Seconds after SIGTERM or SIGINT by which a process has exited, cleanly or not
(`_exit_if_still_running`): before the process manager's SIGKILL, with what held it written
down."""


async def _until_stopped(stop: asyncio.Event, jobs: list[Job]) -> None:
    """Run the jobs until `stop` (or until one fails, which stops the others). The jobs
    finish what they hold within `STOP_GRACE`; whatever is still running then is cancelled:
    a turn not committed stays pending in the inbox, a line not sent stays queued."""
    tasks = [asyncio.create_task(job()) for job in jobs]
    stopping = asyncio.create_task(stop.wait())
    try:
        running: set[asyncio.Task[None] | asyncio.Task[bool]] = {*tasks, stopping}
        while not stop.is_set() and running - {stopping}:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopping and task.exception() is not None:
                    stop.set()
                    raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        stopping.cancel()
        log.info("stopping")
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE)
        if late:
            log.warning(
                "%s jobs did not finish within %g s of the stop: cancelled", len(late), STOP_GRACE
            )
            for task in late:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def console_url(settings: Settings) -> str:
    """Where staff open the console: under `PUBLIC_URL` when set, else on this machine."""
    base = settings.public_url or f"http://127.0.0.1:{settings.port}"
    return f"{base}/console"


async def web(settings: Settings) -> None:
    async with Runtime.open(settings) as runtime:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        log.info("console at %s", console_url(settings))
        await runtime.register_telegram_webhook()
        await _until_stopped(stop, [lambda: _serve_web(runtime, stop, quiet=False)])


async def worker(settings: Settings) -> None:
    async with Runtime.open(settings) as runtime:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        log.info("worker started; channels: %s", ", ".join(runtime.channels) or "none")
        await _until_stopped(
            stop, [lambda: runtime.worker.run(stop), lambda: runtime.sender.run(stop)]
        )
        log.info("worker stopped; closing its connections")
    log.info("worker closed")


async def clock(settings: Settings) -> None:
    async with Runtime.open(settings, with_channels=False) as runtime:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        ticker = runtime.ticker
        assert ticker is not None
        log.info("clock started (one sweeps at a time; others wait for its lease)")
        await _until_stopped(stop, [lambda: run_sweeper(ticker, stop)])


async def run(settings: Settings, chat_as: str | None) -> None:
    """Everything in one process on the settings' database; with `chat_as`, also a console
    conversation as that member in this terminal (Ctrl-D ends it and the process)."""
    async with Runtime.open(settings) as runtime:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        quiet = chat_as is not None
        assert runtime.ticker is not None
        ticker = runtime.ticker
        jobs: list[Job] = [
            lambda: runtime.worker.run(stop),
            lambda: runtime.sender.run(stop),
            lambda: run_sweeper(ticker, stop),
        ]
        # The web server always runs: it serves the coordinator console, and the webhooks
        # when a channel pushes to us.
        jobs.append(lambda: _serve_web(runtime, stop, quiet))
        print(f"Console: {console_url(settings)}", file=sys.stderr, flush=True)
        if settings.twilio_enabled or settings.telegram_webhook:
            await runtime.register_telegram_webhook()
        elif runtime.telegram is not None:
            jobs.append(lambda: runtime.poll_telegram(stop))
        if chat_as is not None:

            async def chat() -> None:
                # ends with the process too (Ctrl-C, SIGTERM), even while it waits for a line
                talking = asyncio.create_task(console.chat(runtime.service, chat_as))
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({talking, stopping}, return_when=asyncio.FIRST_COMPLETED)
                for task in (talking, stopping):
                    task.cancel()
                await asyncio.gather(talking, stopping, return_exceptions=True)
                stop.set()

            jobs.append(chat)
        await _until_stopped(stop, jobs)
