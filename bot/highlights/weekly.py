"""The weekly peer highlight: what a group did together in an ISO week, told back to the group.

`compose` writes it in the group's language from the week's numbers: how many members checked
in out of how many, the group's total sales and savings with the trend against the week before,
how many acts of help were recorded, and one or two approved stories not yet published. A week
without check-ins still gets a short, encouraging highlight, never a scolding one.

Privacy: a figure (a total, the help count) is shown only when at least 3 members are behind
it; with fewer check-ins the highlight says how many checked in and nothing else. Amounts in
another currency than the group's are never added to its totals: they are shown apart, or,
when too few members gave them, named as private. Help is given as a count only. Who helped
whom is never named, because naming a pair would need both members' consent to share it;
stories are quoted only once a member agreed to share them and staff approved them, with the
member's first name alone.

`deliver` records the highlight (one per group and week, so the clock, a retry and the CLI can
all call it safely), queues it in the outbox for every bound group chat and, one by one, for the
members who would not see it there, and marks the quoted stories published: all in the caller's
transaction.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import format_percent

from bot.turns.service import queue_outbound
from conversations import highlight_texts as texts
from conversations.answers import GroupRef, Money
from conversations.i18n import Catalogs
from conversations.rendering import RenderedMessage, format_money, render_text
from storage.records import AddressRecord, GroupRecord
from storage.repositories.highlights import SALES_STEP, FeaturedStory, WeekStats
from storage.unit_of_work import UnitOfWork

MAX_CHARACTERS = 700
"""The highlight's length budget: stories are shortened or left for next week to keep it."""
MAX_STORIES = 2
MIN_MEMBERS_BEHIND_A_FIGURE = 3
"""A group total of fewer members than this would show one member's number in disguise."""
MIN_STORY_CHARACTERS = 40
"""A first story is shortened to fit the budget, but never below this: then it waits."""
NUDGE = "highlight"
INDIVIDUAL_CHANNELS = ("telegram", "whatsapp", "sms")
"""Channels a member can be sent the highlight on by themselves (not `console`, a terminal)."""

_WEEK = re.compile(r"(\d{4})-W(\d{2})", re.IGNORECASE)


def iso_week(text: str) -> tuple[int, int]:
    """ "2026-W48" → (2026, 48). Raises ValueError, saying what is expected, for anything else
    (including week 53 of a year that has 52)."""
    match = _WEEK.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not an ISO week: write it like 2026-W48")
    year, week = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{year} has no week {week} (ISO weeks run from 1 to 52 or 53)") from None
    return year, week


def week_label(year: int, week: int) -> str:
    """The week as stored with the highlight: "2026-W48"."""
    return f"{year:04d}-W{week:02d}"


def current_week(timezone: str, now: datetime) -> tuple[int, int]:
    """The ISO (year, week) that `now` falls in, in `timezone`."""
    calendar = now.astimezone(_zone(timezone)).isocalendar()
    return calendar.year, calendar.week


def week_bounds(year: int, week: int, timezone: str) -> tuple[datetime, datetime]:
    """The week in UTC: from its Monday 00:00 to the next Monday 00:00, wall-clock time in
    `timezone` (a week that changes the clocks is 167 or 169 hours long)."""
    zone = _zone(timezone)
    monday = date.fromisocalendar(year, week, 1)
    start = datetime.combine(monday, time(0), tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{timezone}'") from None


def _previous(year: int, week: int) -> tuple[int, int]:
    calendar = (date.fromisocalendar(year, week, 1) - timedelta(days=7)).isocalendar()
    return calendar.year, calendar.week


@dataclass(frozen=True, slots=True)
class Trend:
    """A total against last week's: `percent` is the whole-percent change, None when last
    week's total was zero. A change that rounds to 0% is "same"."""

    direction: Literal["up", "down", "same"]
    percent: int | None


def trend(this_week: Decimal, last_week: Decimal) -> Trend:
    """Totals are never negative (the check-in's amounts have `min: 0`)."""
    if last_week == 0:
        return Trend("up" if this_week > 0 else "same", None)
    change = ((this_week - last_week) * 100 / abs(last_week)).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    if change == 0:
        return Trend("same", 0)
    return Trend("up" if change > 0 else "down", abs(int(change)))


@dataclass(frozen=True, slots=True)
class ComposedHighlight:
    """A highlight as composed: its text, the stories it quotes and the numbers behind it."""

    week: str
    text: str
    story_ids: tuple[int, ...]
    stats: WeekStats
    previous: WeekStats


class _Writer:
    """Source string → the group's language → rendered; a broken translation falls back to
    the English source rather than silencing the highlight."""

    def __init__(self, catalogs: Catalogs, locale: str) -> None:
        self.catalogs = catalogs
        self.locale = locale

    def __call__(self, source: str, **params: Any) -> str:
        translated = self.catalogs.gettext(self.locale, source)
        text = render_text(translated, params, self.locale)
        if text is None:
            text = render_text(source, params, self.locale) or source
        return text

    def money(self, amount: Decimal, currency: str) -> str:
        return format_money(Money(amount, currency), self.locale)

    def trend(self, this_week: Decimal, last_week: Decimal) -> str:
        found = trend(this_week, last_week)
        if found.direction == "same":
            return self(texts.TREND_SAME)
        if found.percent is None:
            return self(texts.TREND_UP_FROM_ZERO)
        percent = format_percent(Decimal(found.percent) / 100, locale=self.locale)
        percent = percent.replace("\u00a0", " ").replace("\u202f", " ")
        source = texts.TREND_UP if found.direction == "up" else texts.TREND_DOWN
        return self(source, percent=percent)

    def story(self, story: FeaturedStory, text: str) -> str:
        first_name = (story.member_name or "").split()
        if story.member_id is not None and first_name:
            return self(texts.MEMBER_STORY, name=first_name[0], story=text)
        return self(texts.STORY, story=text)


def story_as_quoted(catalogs: Catalogs, language: str, story: FeaturedStory) -> str:
    """The story as a highlight in `language` (its group's) quotes it, whole: what the group
    will read once it is approved (a long one may be shortened to fit that week's highlight)."""
    return _Writer(catalogs, language).story(story, " ".join(story.text.split()))


async def compose_highlight(
    uow: UnitOfWork, group: GroupRecord, year: int, week: int, catalogs: Catalogs
) -> ComposedHighlight:
    """The group's highlight for the ISO week, from what the database holds now.

    The same data gives the same text, so a preview is exactly what `deliver` would send.
    """
    start, end = week_bounds(year, week, group.timezone)
    before_start, before_end = week_bounds(*_previous(year, week), group.timezone)
    stats = await uow.highlights.week_stats(group.id, start, end)
    previous = await uow.highlights.week_stats(group.id, before_start, before_end)
    featured = await uow.highlights.featured_stories(group.id, MAX_STORIES)

    say = _Writer(catalogs, group.language)
    lines = [say(texts.TITLE, group=GroupRef(group.id, group.name, group.join_code))]
    if stats.checked_in:
        lines.append(say(texts.CHECKED_IN, checked_in=stats.checked_in, members=stats.members))
    if stats.checked_in >= MIN_MEMBERS_BEHIND_A_FIGURE:
        lines.extend(_figures(say, group.currency, stats, previous))
    head = "\n".join(lines)
    closing = say(texts.CLOSING if stats.checked_in else texts.QUIET_WEEK)

    stories: list[str] = []
    used: list[int] = []
    room = MAX_CHARACTERS - len(head) - len(closing) - 2
    for story in featured:
        story_text = " ".join(story.text.split())
        if not story_text:
            continue
        paragraph = say.story(story, story_text)
        if len(paragraph) + 2 > room:
            if stories:
                break
            allowed = room - 2 - len(say.story(story, ""))
            if allowed < MIN_STORY_CHARACTERS:
                break
            paragraph = say.story(story, _shorten(story_text, allowed))
        stories.append(paragraph)
        used.append(story.id)
        room -= len(paragraph) + 2
    text = "\n\n".join([head, *stories, closing])
    return ComposedHighlight(week_label(year, week), text, tuple(used), stats, previous)


def _figures(say: _Writer, currency: str, stats: WeekStats, previous: WeekStats) -> list[str]:
    """The group's totals, each only when at least `MIN_MEMBERS_BEHIND_A_FIGURE` members add
    up to it (a trend only when last week's did too); amounts in other currencies apart."""
    least = MIN_MEMBERS_BEHIND_A_FIGURE
    lines = []
    own = (
        (texts.SALES, texts.SALES_ALONE, "sales", stats.sales, stats.sales_members),
        (texts.SAVED, texts.SAVED_ALONE, "saved", stats.saved, stats.saved_members),
    )
    before = {"sales": (previous.sales, previous.sales_members)}
    before["saved"] = (previous.saved, previous.saved_members)
    for with_trend, alone, name, total, members in own:
        if members < least:
            continue
        amount = say.money(total, currency)
        last, last_members = before[name]
        if last_members >= least:
            lines.append(say(with_trend, **{name: amount, "trend": say.trend(total, last)}))
        else:
            lines.append(say(alone, **{name: amount}))
    if stats.help_given:
        lines.append(say(texts.HELP, help=stats.help_given))
    private: list[str] = []
    for other in stats.other_currencies:
        if other.members < least:
            if other.currency not in private:
                private.append(other.currency)
            continue
        amount = say.money(other.total, other.currency)
        if other.step == SALES_STEP:
            lines.append(say(texts.OTHER_SALES, currency=other.currency, sales=amount))
        else:
            lines.append(say(texts.OTHER_SAVED, currency=other.currency, saved=amount))
    if private:
        lines.append(say(texts.OTHER_PRIVATE, currencies=", ".join(private)))
    return lines


def _shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word and marked with "..." (plain dots: SMS's
    alphabet has no ellipsis character)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "..."


async def compose(
    uow: UnitOfWork, group: GroupRecord, year: int, week: int, catalogs: Catalogs
) -> str:
    """The text of the group's highlight for the ISO week (see `compose_highlight`)."""
    return (await compose_highlight(uow, group, year, week, catalogs)).text


@dataclass(frozen=True, slots=True)
class HighlightPreview:
    """What a group receives for a week: the recorded text once it was sent (`sent`), else
    the text `deliver` would send from what the database holds now."""

    group: GroupRecord
    week: str
    text: str
    sent: bool


async def preview(
    uow: UnitOfWork,
    group: GroupRecord,
    week: tuple[int, int] | None,
    catalogs: Catalogs,
    now: datetime,
) -> HighlightPreview:
    """The group's highlight for the ISO `week` (None: the current week in the group's time
    zone), in the group's language; writes nothing."""
    year, number = week or current_week(group.timezone, now)
    label = week_label(year, number)
    recorded = await uow.highlights.get(group.id, label)
    if recorded is not None:
        return HighlightPreview(group, label, recorded.text, sent=True)
    return HighlightPreview(
        group, label, await compose(uow, group, year, number, catalogs), sent=False
    )


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    """What `deliver` did.

    `already_sent`: the week's highlight was recorded before, and nothing was written now
    (`text` is then the recorded one). `group_chats`: bound group chats written to; `members`:
    members written to individually, per channel; `skipped`: the group's other members, by
    reason ("opted_out", "no_consent", "unreachable", "in_group_chat"). `message_ids` are the
    outbox rows (a recipient gets more than one only if a channel had to split the text).
    """

    group_id: int
    week: str
    text: str
    already_sent: bool
    group_chats: Mapping[str, int]
    members: Mapping[str, int]
    skipped: Mapping[str, int]
    message_ids: tuple[int, ...] = ()
    published_story_ids: tuple[int, ...] = ()

    @property
    def delivered(self) -> bool:
        """Whether this call recorded and queued the highlight (False: it was already sent)."""
        return not self.already_sent

    @property
    def by_channel(self) -> dict[str, int]:
        """Recipients per channel, group chats and members together."""
        counts = Counter(self.group_chats)
        counts.update(self.members)
        return dict(sorted(counts.items()))


async def deliver(
    uow: UnitOfWork,
    group: GroupRecord,
    year: int,
    week: int,
    catalogs: Catalogs,
    now: datetime,
) -> DeliveryPlan:
    """Record the group's highlight for the ISO week and queue it, in the caller's transaction.

    Written to: every group chat bound to the group; then each current member who has not opted
    out and has recorded consent, on their most recently active reachable address (not
    blocked; Telegram, WhatsApp or SMS), unless the group has a bound chat and the member a
    reachable Telegram address (they read it in the group). Every row's payload names the
    nudge ("highlight") and the WhatsApp template's variables ({"1": group name}), for the
    24-hour window rule. The quoted stories are marked published (a story rejected meanwhile
    raises the stories repository's `InvalidTransition`: the whole delivery rolls back, to be
    composed again). A week already recorded writes nothing at all.
    """
    composed = await compose_highlight(uow, group, year, week, catalogs)
    if not await uow.highlights.record(group.id, composed.week, composed.text, now):
        recorded = await uow.highlights.get(group.id, composed.week)
        return DeliveryPlan(
            group_id=group.id,
            week=composed.week,
            text=recorded.text if recorded is not None else composed.text,
            already_sent=True,
            group_chats={},
            members={},
            skipped={},
        )

    rendered = RenderedMessage(composed.text, (), locale=group.language)
    template = {"1": group.name}
    message_ids: list[int] = []
    chats: Counter[str] = Counter()
    members: Counter[str] = Counter()
    skipped: Counter[str] = Counter()

    bound = await uow.group_chats.for_group(group.id)
    for chat in bound:
        written = await queue_outbound(
            uow,
            None,
            chat.channel,
            chat.chat_id,
            rendered,
            None,
            now,
            nudge=NUDGE,
            template=template,
        )
        message_ids.extend(row.message_id for row in written)
        chats[chat.channel] += 1

    for member in await uow.groups.members(group.id):
        if member.opted_out:
            skipped["opted_out"] += 1
            continue
        if member.consent is not True:
            skipped["no_consent"] += 1
            continue
        reachable = [
            address
            for address in await uow.members.addresses(member.id)
            if address.blocked_at is None and address.channel in INDIVIDUAL_CHANNELS
        ]
        if bound and any(address.channel == "telegram" for address in reachable):
            skipped["in_group_chat"] += 1
            continue
        if not reachable:
            skipped["unreachable"] += 1
            continue
        address = max(reachable, key=_recency)
        written = await queue_outbound(
            uow,
            member.id,
            address.channel,
            address.value,
            rendered,
            None,
            now,
            nudge=NUDGE,
            template=template,
        )
        message_ids.extend(row.message_id for row in written)
        members[address.channel] += 1

    for story_id in composed.story_ids:
        await uow.stories.publish(story_id, now)
    return DeliveryPlan(
        group_id=group.id,
        week=composed.week,
        text=composed.text,
        already_sent=False,
        group_chats=dict(chats),
        members=dict(members),
        skipped=dict(skipped),
        message_ids=tuple(message_ids),
        published_story_ids=composed.story_ids,
    )


def _recency(address: AddressRecord) -> tuple[bool, datetime, int]:
    """Most recently heard from first; never heard from last; then the newest address."""
    heard = address.last_inbound_at
    return (heard is not None, heard or datetime.min.replace(tzinfo=UTC), address.id)
