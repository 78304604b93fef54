"""Everything a process needs, built once from the settings and closed once.

`Runtime.open(settings)` connects the database (migrated on the embedded default), the
coordination backend (Redis when `REDIS_URL` is set, in-process otherwise), the channel adapters
that are configured, the conversation service, the worker and the sender. Processes differ only
in which loops they run: `web` serves webhooks, `worker` runs worker and sender, `run` all of it
plus Telegram long polling when no webhook is configured.

A channel's client library is imported only when that channel is configured (here, when the
adapters are built): the clock, a WhatsApp-only deployment or a Telegram-less web process never
load python-telegram-bot.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from bot.channels.base import ChannelAdapter
from bot.channels.templates import load_templates
from bot.channels.whatsapp_content import ContentCreator
from bot.i18n.catalogs import load_catalogs
from bot.pipeline.coordination.contracts import Coordination
from bot.pipeline.coordination.factory import coordination as build_coordination
from bot.pipeline.coordination.factory import redis_ready
from bot.pipeline.dispatch import EventHandler
from bot.pipeline.inbox import InboxWriter, ingest
from bot.pipeline.interactive import InteractiveContents
from bot.pipeline.sender import Limits, Sender
from bot.pipeline.worker import Worker
from bot.schedule.sweeper import Sweeper, SweepPolicy
from bot.settings import Settings
from bot.turns.checkins import Checkins, load_checkins
from bot.turns.service import ConversationService, utc_now
from storage.database import Database

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramChannel

log = logging.getLogger(__name__)

STATUS_PATH = "/webhooks/twilio/status"


def limits_from(settings: Settings) -> Limits:
    return Limits(
        telegram_per_second=settings.telegram_rate_per_second,
        telegram_chat_per_second=settings.telegram_chat_rate_per_second,
        telegram_chat_burst=settings.telegram_chat_burst,
        telegram_group_per_minute=settings.telegram_group_rate_per_minute,
        whatsapp_per_second=settings.whatsapp_rate_per_second,
        sms_per_second=settings.sms_rate_per_second,
    )


def telegram_connections(settings: Settings) -> int:
    """The Bot API connections a process keeps: a second of sends at the channel's rate may be
    in flight at once (the sender starts each as soon as the limiter lets it), plus a long poll
    and callback answers."""
    return max(1, math.ceil(settings.telegram_rate_per_second)) + 4


def build_channels(settings: Settings) -> dict[str, ChannelAdapter]:
    """The adapters of the configured channels; each channel's module (and its client library)
    is imported here, and only when configured."""
    channels: dict[str, ChannelAdapter] = {}
    if settings.telegram_bot_token:
        from bot.channels.telegram import TelegramChannel

        channels["telegram"] = TelegramChannel(
            settings.telegram_bot_token,
            settings.telegram_api_url,
            connections=telegram_connections(settings),
        )
    if settings.twilio_enabled:
        from bot.channels.twilio import TwilioChannel

        assert settings.twilio_account_sid and settings.twilio_auth_token
        callback = f"{settings.public_url}{STATUS_PATH}" if settings.public_url else None
        if settings.twilio_whatsapp_from:
            channels["whatsapp"] = TwilioChannel(
                "whatsapp",
                settings.twilio_account_sid,
                settings.twilio_auth_token,
                settings.twilio_whatsapp_from,
                callback,
                api_url=settings.twilio_api_url,
                content_api_url=settings.twilio_content_api_url,
            )
        if settings.twilio_sms_from:
            channels["sms"] = TwilioChannel(
                "sms",
                settings.twilio_account_sid,
                settings.twilio_auth_token,
                settings.twilio_sms_from,
                callback,
                api_url=settings.twilio_api_url,
            )
    return channels


def interactive_contents(
    settings: Settings,
    database: Database,
    channels: dict[str, ChannelAdapter],
    checkins: Checkins,
    clock: Callable[[], datetime],
) -> InteractiveContents | None:
    """WhatsApp's tap-to-answer contents, when WhatsApp is configured and they are wanted."""
    whatsapp = channels.get("whatsapp")
    if not settings.whatsapp_interactive or not isinstance(whatsapp, ContentCreator):
        return None
    return InteractiveContents(database, whatsapp, checkins.catalogs, clock)


@dataclass
class Runtime:
    settings: Settings
    database: Database
    coordination: Coordination
    checkins: Checkins
    channels: dict[str, ChannelAdapter]
    service: ConversationService
    worker: Worker
    sender: Sender
    clock: Callable[[], datetime] = utc_now
    ticker: Sweeper | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    inbox: InboxWriter = field(init=False)

    def __post_init__(self) -> None:
        self.inbox = InboxWriter(self.database, self.coordination.queue)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        clock: Callable[[], datetime] = utc_now,
        *,
        with_channels: bool = True,
    ) -> AsyncIterator[Runtime]:
        """Everything, closed again on leaving. `with_channels=False` is for a process that
        never speaks to a provider (the clock only writes timers' work to the inbox and the
        outbox): no adapter is built, so no channel library is loaded."""
        problems = settings.problems()
        if problems:
            raise ValueError("; ".join(problems))
        checkins = load_checkins(load_catalogs(settings.locales_path), settings.checkins_path)
        database = Database(settings.database_url, pool_size=settings.database_pool_size)
        channels: dict[str, ChannelAdapter] = {}
        coordination: Coordination | None = None
        try:
            await database.upgrade()
            if settings.redis_url:
                await redis_ready(settings.redis_url)
            coordination = await build_coordination(settings.redis_url, settings.redis_prefix)
            channels = build_channels(settings) if with_channels else {}
            service = ConversationService(database, checkins, settings.default_country, clock)
            service.data_rights.public_url = settings.public_url
            handler = EventHandler(service)
            worker = Worker(database, coordination, handler, channels, clock)
            templates = load_templates(settings.templates_path)
            sender = Sender(
                database,
                coordination,
                channels,
                limits_from(settings),
                clock,
                templates=templates,
                interactive=interactive_contents(settings, database, channels, checkins, clock),
            )
            policy = SweepPolicy(retention=timedelta(days=settings.retention_days))
            ticker = Sweeper(
                database,
                checkins,
                coordination.queue,
                clock,
                policy,
                outbox=coordination.outbox_wakeup,
            )
            yield cls(
                settings,
                database,
                coordination,
                checkins,
                channels,
                service,
                worker,
                sender,
                clock,
                ticker,
            )

        finally:
            for adapter in channels.values():
                await adapter.close()
            if coordination is not None:
                await coordination.close()
            await database.dispose()

    @property
    def telegram(self) -> TelegramChannel | None:
        """The Telegram adapter when Telegram is configured (`build_channels` made it one)."""
        return cast("TelegramChannel | None", self.channels.get("telegram"))

    async def register_telegram_webhook(self) -> None:
        """Point Telegram at our webhook, with the secret it must send back."""
        if self.telegram is None or not self.settings.telegram_webhook:
            return
        assert self.settings.telegram_webhook_secret is not None
        url = f"{self.settings.public_url}/webhooks/telegram"
        await self.telegram.set_webhook(url, self.settings.telegram_webhook_secret)
        log.info("Telegram webhook set to %s", url)

    async def poll_telegram(self, stop: asyncio.Event) -> None:
        """Long polling (no public URL needed): each update goes through the same inbox."""
        telegram = self.telegram
        if telegram is None:
            return
        from bot.channels.bounds import bounded_events
        from bot.channels.telegram import TelegramPayloadError, parse_update, poll

        username = await telegram.bot_username()

        async def handle(update: dict[str, object]) -> None:
            try:
                events = bounded_events(parse_update(update, username))
            except (TelegramPayloadError, ValueError):  # its words are the member's: not logged
                log.warning("skipping a malformed Telegram update %s", update.get("update_id"))
                return
            await ingest(self.database, self.coordination.queue, events, self.clock())

        log.info("polling Telegram for updates as @%s", username)
        await poll(telegram, handle, stop)
