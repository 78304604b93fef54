"""WhatsApp members tap their answers: questions go as quick replies or list pickers created
through the real twilio client at the fake Content API, taps come back through the webhook,
and everything that does not fit (or cannot be created) stays a numbered list."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conversations.i18n import Catalogs
from storage import Database
from storage.models import Answer
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from tests.pipeline.test_pipeline import (
    AUTH,
    SID,
    TOKEN,
    Stack,
    running,
    settings_for,
    twilio_form,
    wait_until,
)

BASE = twilio_form("whatsapp_inbound_text")
LANGUAGES = ["en", "es", "fil", "sw", "fr"]


class Member:
    """One WhatsApp member talking to the stack: types, taps buttons and list items."""

    def __init__(self, stack: Stack, phone: str) -> None:
        self.stack, self.phone, self.count = stack, phone, 0

    def _form(self, **fields: str) -> dict[str, str]:
        self.count += 1
        sid = f"SM{self.phone[1:]}{self.count:06d}".ljust(34, "0")
        form = dict(BASE, From=f"whatsapp:{self.phone}", WaId=self.phone[1:])
        form.update(MessageSid=sid, SmsMessageSid=sid, SmsSid=sid, **fields)
        return form

    async def _post(self, form: dict[str, str]) -> None:
        before = len(self.received())
        response = await self.stack.twilio_post("/webhooks/twilio", form)
        assert response.status_code == 200, response.text
        await wait_until(lambda: len(self.received()) > before)

    async def types(self, text: str) -> None:
        await self._post(self._form(Body=text, MessageType="text"))

    async def taps_button(self, payload: str, title: str = "") -> None:
        await self._post(
            self._form(Body=title, ButtonPayload=payload, ButtonText=title, MessageType="button")
        )

    async def taps_item(self, list_id: str, title: str = "") -> None:
        await self._post(
            self._form(Body=title, ListId=list_id, ListTitle=title, MessageType="interactive")
        )

    def received(self) -> list[dict[str, Any]]:
        return [m for m in self.stack.twilio.accepted if m["To"] == f"whatsapp:{self.phone}"]

    def last(self) -> dict[str, Any]:
        return self.received()[-1]


async def settled(member: Member) -> dict[str, Any]:
    """The member's last message once the turn's messages have all arrived."""
    count = -1
    while count != len(member.received()):
        count = len(member.received())
        await _pause()
    return member.last()


async def _pause() -> None:
    await asyncio.sleep(0.3)


@asynccontextmanager
async def whatsapp_stack(database_url: str, **settings: Any) -> AsyncIterator[Stack]:
    async with FakeTelegram(token=TOKEN) as telegram, FakeTwilio(SID, AUTH) as twilio:
        chosen = settings_for(database_url, telegram, twilio).model_copy(update=settings)
        async with running(chosen, telegram, twilio) as built:
            yield built


def catalogs(stack: Stack) -> Catalogs:
    return stack.runtime.checkins.catalogs


def _(stack: Stack, language: str, source: str) -> str:
    return catalogs(stack).gettext(language, source)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_onboarding_and_a_weekly_check_in_by_tapping(
    database_url: str, language: str
) -> None:
    async with whatsapp_stack(database_url) as stack:
        async with stack.runtime.database.transaction() as uow:
            now = datetime.now(UTC)
            group = await uow.groups.create(
                "Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=now
            )
            grace = await uow.members.create("whatsapp", "+254700000999", "en", "KES", at=now)
            await uow.members.update(grace.id, at=now, name="Grace", consent=True, onboarded_at=now)
            await uow.members.join_group(grace.id, group.id, now)
        amina = Member(stack, "+254712345678")
        await amina.types("hi")
        welcome = (await settled(amina))["rendered"]
        assert welcome["kind"] == "twilio/list-picker"
        assert welcome["button"] == _(stack, "en", "Choose")
        assert len(welcome["items"]) == 5 and welcome["body"].startswith("Welcome!")

        title = next(item[0] for item in welcome["items"] if item[1] == f"s:language:{language}")
        await amina.taps_item(f"s:language:{language}", title)
        consent = (await settled(amina))["rendered"]
        assert consent["kind"] == "twilio/quick-reply"
        yes, no = consent["buttons"]
        assert yes == (_(stack, language, "Yes"), "s:consent:yes")
        assert no == (_(stack, language, "No"), "s:consent:no")

        await amina.taps_button("s:consent:yes", yes[0])
        name_question = await settled(amina)
        assert "ContentSid" not in name_question  # a question without choices stays text
        await amina.types("Amina")
        business = (await settled(amina))["rendered"]
        assert business["kind"] == "twilio/list-picker" and len(business["items"]) == 6
        assert business["button"] == _(stack, language, "Choose")
        assert all(len(item[0]) <= 24 for item in business["items"])
        services = next(item for item in business["items"] if item[1].endswith(":services"))
        label = _(stack, language, "Services (hair, repairs, transport)")
        # the label whole: as the item when it fits, else below a shortened item
        assert label in (services[0], services[2])
        await amina.taps_item(services[1], services[0])
        await amina.types(_(stack, language, "Yes"))  # the currency offered: KES
        await amina.types(group.join_code)
        await settled(amina)

        await amina.types("checkin")
        for amount in ("2000", "500", "300"):
            await settled(amina)
            await amina.types(amount)
        last = await settled(amina)
        gave_help = last["rendered"]
        assert gave_help["kind"] == "twilio/quick-reply"
        await amina.taps_button("s:gave_help:no")
        got_help = (await settled(amina))["rendered"]
        await amina.taps_button("s:got_help:no", got_help["buttons"][1][0])
        await settled(amina)
        await amina.types("skip")  # challenge
        await settled(amina)
        await amina.types("Sell at the Saturday market")  # goal
        await settled(amina)
        await amina.types("skip")  # win
        done = await settled(amina)
        assert "ContentSid" not in done

        async with stack.runtime.database.transaction() as uow:
            member = await uow.members.by_address("whatsapp", amina.phone)
            assert member is not None and member.locale == language
            stored = await uow.session.scalars(select(Answer).where(Answer.member_id == member.id))
            answers = {answer.step_id: answer for answer in stored}
        assert answers["business_type"].value_text == "services"
        assert answers["gave_help"].value_choice == "no"
        assert answers["got_help"].value_choice == "no"


async def test_contents_are_created_once_for_every_member_and_across_restarts(
    database_url: str,
) -> None:
    async with FakeTelegram(token=TOKEN) as telegram, FakeTwilio(SID, AUTH) as twilio:
        settings = settings_for(database_url, telegram, twilio)
        async with running(settings, telegram, twilio) as stack:
            first, second = Member(stack, "+254700000101"), Member(stack, "+254700000102")
            await first.types("hi")
            await second.types("hello")
            await settled(second)
            sids = {first.last()["ContentSid"], second.last()["ContentSid"]}
            assert len(sids) == 1 and len(twilio.contents) == 1
        requests = twilio.content_requests
        async with running(settings, telegram, twilio) as stack:
            third = Member(stack, "+254700000103")
            await third.types("jambo")
            assert third.last()["ContentSid"] in sids
        assert twilio.content_requests == requests  # found in the database, not created again


async def test_a_tap_on_an_earlier_question_is_stale(database_url: str) -> None:
    async with whatsapp_stack(database_url) as stack:
        amina = Member(stack, "+254700000201")
        await amina.types("hi")
        await settled(amina)
        await amina.taps_item("s:language:sw", "Kiswahili")
        consent = (await settled(amina))["rendered"]
        await amina.taps_item("s:language:fr", "Français")  # the old list, tapped again
        await settled(amina)
        stale, again = amina.received()[-2:]
        assert stale["Body"] == _(
            stack, "sw", "That button was for an earlier question. Here is the current one:"
        )
        assert again["rendered"]["buttons"] == consent["buttons"]
        async with stack.runtime.database.transaction() as uow:
            member = await uow.members.by_address("whatsapp", amina.phone)
        assert member is not None and member.locale == "sw"


async def test_sender_picks_buttons_a_list_or_a_numbered_list_by_the_choices(
    database_url: str,
) -> None:
    async with whatsapp_stack(database_url) as stack:
        now = datetime.now(UTC)
        async with stack.runtime.database.transaction() as uow:
            await uow.members.create("whatsapp", "+254700000301", "en", "KES", at=now)
            await uow.members.touch_inbound("whatsapp", "+254700000301", now)
            rows = []
            for count in (2, 6, 12):
                choices = [[f"c{i}", f"Option {i}"] for i in range(count)]
                numbered = "\n".join(f"{i + 1}) Option {i}" for i in range(count))
                rows.append(
                    dict(
                        member_id=None, channel="whatsapp", address_value="+254700000301",
                        direction="out", text=f"Pick one of {count}\n{numbered}",
                        payload={"choices": choices, "step": f"pick{count}", "one_tap": True,
                                 "question": f"Pick one of {count}", "locale": "en"},
                        status="queued", created_at=now,
                    )
                )  # fmt: skip
        member = Member(stack, "+254700000301")
        await _log(stack.runtime.database, rows)
        await wait_until(lambda: len(member.received()) == 3)
        buttons, listed, numbered = member.received()
        assert buttons["rendered"]["kind"] == "twilio/quick-reply"
        assert buttons["rendered"]["body"] == "Pick one of 2"
        assert listed["rendered"]["kind"] == "twilio/list-picker"
        assert len(listed["rendered"]["items"]) == 6
        assert "ContentSid" not in numbered and numbered["Body"].endswith("12) Option 11")


async def _log(database: Database, rows: list[dict[str, Any]]) -> None:
    from bot.turns.service import message_values

    async with database.transaction() as uow:
        await uow.messages.log_many(
            [
                message_values(
                    row["member_id"], row["channel"], row["address_value"], "out", row["text"],
                    row["payload"], "queued", None, row["created_at"],
                )
                for row in rows
            ]
        )  # fmt: skip
    # the sender polls at least once a second; no wake-up is needed


async def test_a_content_that_cannot_be_created_falls_back_and_is_logged_once(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with whatsapp_stack(database_url) as stack:
        stack.twilio.fail_next_contents(10)
        with caplog.at_level(logging.WARNING, logger="bot.pipeline.interactive"):
            for phone in ("+254700000401", "+254700000402", "+254700000403"):
                member = Member(stack, phone)
                await member.types("hi")
                first = await settled(member)
                assert "ContentSid" not in first and "\n1) English" in first["Body"]
        warnings = [r for r in caplog.records if r.name == "bot.pipeline.interactive"]
        assert len(warnings) == 1
        assert stack.twilio.content_requests == 1  # not asked again within the pause


async def test_without_interactive_messages_whatsapp_keeps_numbered_lists(
    database_url: str,
) -> None:
    async with whatsapp_stack(database_url, whatsapp_interactive=False) as stack:
        assert stack.runtime.sender.interactive is None
        member = Member(stack, "+254700000501")
        await member.types("hi")
        assert "\n1) English" in (await settled(member))["Body"]


def test_every_shipped_question_fits_wherever_it_should() -> None:
    """Each tap-to-answer question of the shipped check-ins, in every language, fits
    WhatsApp's interactive messages: a translation that grows too long shows here."""
    from bot.i18n.catalogs import load_catalogs
    from bot.pipeline.interactive import shipped_questions, tap_content
    from bot.turns.checkins import load_checkins

    checkins = load_checkins(load_catalogs())
    found = list(shipped_questions(checkins.library, checkins.catalogs))
    assert {language for *_, language in found} == set(LANGUAGES)
    for checkin_id, step_id, choices, language in found:
        content = tap_content(checkins.catalogs, step_id, choices, language)
        assert content is not None, f"{checkin_id}/{step_id} in {language} does not fit"


async def test_sync_content_creates_every_content_once_and_says_what_it_did(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'mutuality.db'}"
    async with FakeTwilio(SID, AUTH) as twilio:
        env = {
            "PATH": os.environ["PATH"],
            "DATABASE_URL": database_url,
            "PUBLIC_URL": "https://bot.example.org",
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": AUTH,
            "TWILIO_API_URL": twilio.url,
            "TWILIO_CONTENT_API_URL": twilio.url,
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        }

        async def sync() -> tuple[int, str]:
            process = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).with_name("mutuality")), "whatsapp", "sync-content",
                cwd=tmp_path, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await process.communicate()
            return process.returncode or 0, out.decode() + err.decode()

        code, output = await sync()
        assert code == 0, output
        from bot.i18n.catalogs import load_catalogs
        from bot.pipeline.interactive import shipped_questions, tap_content
        from bot.turns.checkins import load_checkins

        checkins = load_checkins(load_catalogs())
        needed = {
            getattr(tap_content(checkins.catalogs, step, choices, language), "key", None)
            for _, step, choices, language in shipped_questions(checkins.library, checkins.catalogs)
        }
        assert None not in needed
        assert len(twilio.contents) == len(needed)
        assert f"{len(needed)} created, 0 already there" in output
        assert "onboarding/business_type (sw): list" in output

        code, output = await sync()
        assert code == 0 and f"0 created, {len(needed)} already there" in output
        assert len(twilio.contents) == len(needed)

        twilio.contents.clear()
        (tmp_path / "mutuality.db").unlink()
        twilio.fail_next_contents(1)
        code, output = await sync()
        assert code == 1 and "1 failed" in output
