"""The console in a real browser (Debian's Chromium through Playwright), as a coordinator uses
it: controls found by their labels and roles, as a screen reader finds them.

Screenshots go to a temporary folder, and to `CONSOLE_SCREENSHOTS` when it names a folder (the
guide's pictures in docs/console/ are made that way)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.console.browser import Stack, running_stack
from tests.console.seed import PASSWORD

TELEGRAM_MEMBER = 7000000001


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as built:
        yield built


class Shots:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.wanted = os.environ.get("CONSOLE_SCREENSHOTS")

    async def take(self, page: Page, name: str) -> Path:
        path = self.folder / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        if self.wanted:
            Path(self.wanted).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(self.wanted) / path.name)
        return path


@pytest.fixture
def shots(tmp_path: Path) -> Shots:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return Shots(folder)


async def sign_in(page: Page, stack: Stack, login: str, password: str = PASSWORD) -> None:
    await page.goto(f"{stack.url}/console/")
    await page.get_by_label("Email or phone").fill(login)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_sign_in_lock_out_and_group_scope(
    stack: Stack, browser: Browser, shots: Shots
) -> None:
    page = await browser.new_page()
    await page.goto(f"{stack.url}/console/audit")
    await expect(page).to_have_url(f"{stack.url}/console/login")
    await shots.take(page, "sign-in")
    for _ in range(5):
        await sign_in(page, stack, "juan@example.org", "not my password")
        await expect(page.get_by_role("alert")).to_contain_text("do not match")
    await sign_in(page, stack, "juan@example.org")
    await expect(page.get_by_role("alert")).to_contain_text("locked for 15 minutes")

    await sign_in(page, stack, "grace@example.org")
    await expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    await expect(page.get_by_role("link", name="Baraka")).to_be_visible()
    await page.get_by_role("link", name="Audit log").click()
    await expect(page.get_by_role("cell", name="sign_in_locked").first).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{stack.url}/console/login")

    await page.context.clear_cookies()
    page = await browser.new_page()
    await sign_in(page, stack, "+254700000100")  # a coordinator also signs in with the phone
    await expect(page.get_by_role("alert")).to_contain_text("locked")  # still Juan: locked


async def test_a_coordinator_sees_their_groups_searches_and_is_refused_without_csrf(
    stack: Stack, browser: Browser, shots: Shots
) -> None:
    context = await browser.new_context(viewport={"width": 360, "height": 740})
    page = await context.new_page()
    await sign_in(page, stack, "juan@example.org")
    await expect(page.get_by_role("link", name="Amina")).to_be_visible()
    await expect(page.get_by_role("link", name="Baraka")).to_have_count(0)
    await shots.take(page, "inbox-phone")

    await page.get_by_label("Search").fill("mangoes")
    await page.get_by_role("button", name="Filter").click()
    hits = page.get_by_role("region", name="Messages with these words")
    await expect(hits.locator("mark")).to_have_text(["mangoes"])
    await expect(hits).not_to_contain_text("cheap here")  # Baraka's group is not Juan's
    await shots.take(page, "search-phone")

    other = await page.goto(f"{stack.url}/console/members/{stack.program.other_member}")
    assert other is not None and other.status == 404
    await expect(page.get_by_role("alert")).to_have_text("No such member.")

    member = stack.program.kibera_member
    refused = await page.request.post(f"{stack.url}/console/members/{member}/take-over", form={})
    assert refused.status == 403
    async with stack.runtime.database.read() as uow:
        found = await uow.members.get(member)
    assert found is not None and found.taken_over_by_id is None


async def test_take_over_reply_hand_back_with_live_updates(
    stack: Stack, browser: Browser, shots: Shots
) -> None:
    chat = TELEGRAM_MEMBER
    for number, line in enumerate(["hi", "1", "yes", "Neema", "1", "yes"], start=1):
        await stack.member_says(number, chat, line)
    async with stack.runtime.database.read() as uow:
        group = await uow.groups.get(stack.program.kibera_group)
    assert group is not None
    await stack.member_says(7, chat, group.join_code)
    await stack.member_says(8, chat, "agent")
    deadline = time.monotonic() + 15
    while not any("coordinator will answer" in text for text in stack.sent_to(chat)):
        assert time.monotonic() < deadline, stack.sent_to(chat)
        await page_sleep()

    page = await browser.new_page()
    await sign_in(page, stack, "juan@example.org")
    await expect(page.locator("#waiting-count")).to_have_text("1")
    await page.get_by_role("link", name="Neema").click()
    transcript = page.get_by_role("list", name="Conversation")
    await expect(transcript).to_contain_text("agent")

    # A new line appears without reloading (the page polls every second; the bound here is
    # generous because a shared test machine is slow, not a measure of speed).
    await stack.member_says(9, chat, "is anyone there?")
    await expect(transcript).to_contain_text("is anyone there?", timeout=5000)

    await page.get_by_role("button", name="Take over").click()
    await page.get_by_label("Reply").fill("Hello Neema, this is Juan from the program.")
    await page.get_by_role("button", name="Send").click()
    await expect(transcript).to_contain_text("Hello Neema, this is Juan")
    deadline = time.monotonic() + 10
    while "Hello Neema, this is Juan from the program." not in stack.sent_to(chat):
        assert time.monotonic() < deadline, "the reply never reached the member"
        await page_sleep()
    await shots.take(page, "taken-over")

    said_before = len(stack.sent_to(chat))
    await stack.member_says(10, chat, "thank you Juan")
    await expect(transcript).to_contain_text("thank you Juan", timeout=5000)
    await page_sleep(1.0)
    assert len(stack.sent_to(chat)) == said_before  # no bot answer while taken over

    await page.get_by_role("button", name="Hand back").click()
    await expect(page.get_by_role("button", name="Take over")).to_be_visible()
    await stack.member_says(11, chat, "help")
    deadline = time.monotonic() + 10
    while len(stack.sent_to(chat)) == said_before:
        assert time.monotonic() < deadline, "the bot did not answer after the hand back"
        await page_sleep()


async def test_outside_whatsapps_window_the_coordinator_sends_an_approved_template(
    stack: Stack, browser: Browser, shots: Shots
) -> None:
    member = stack.program.whatsapp_member  # Wanjiru last wrote two days ago
    context = await browser.new_context(viewport={"width": 360, "height": 740})
    page = await context.new_page()
    await sign_in(page, stack, "juan@example.org")
    await page.goto(f"{stack.url}/console/members/{member}")
    await page.get_by_role("button", name="Take over").click()

    offered = page.get_by_role("region", name="Approved templates")
    await expect(offered).to_contain_text("more than 24 hours ago")
    await expect(offered.get_by_role("textbox", name="Reply")).to_have_count(0)
    follow_up = offered.get_by_role("radio", name="follow_up")
    await expect(follow_up).to_be_checked()
    await expect(offered.get_by_role("radio")).to_have_count(1)  # call_back is Kiswahili only
    filled = "Hello Wanjiru, this is Juan from your peer group. Reply to this message to talk."
    await expect(follow_up).to_have_accessible_description(filled)
    await shots.take(page, "template-offered")

    await offered.get_by_role("button", name="Send template").click()
    transcript = page.get_by_role("list", name="Conversation")
    line = transcript.locator("li.line.out").last
    await expect(line).to_contain_text(filled)
    await expect(line).to_contain_text("template follow_up")
    deadline = time.monotonic() + 10
    while not stack.twilio.accepted:
        assert time.monotonic() < deadline, "the template never reached Twilio"
        await page_sleep()
    [sent] = stack.twilio.accepted
    assert sent["To"] == "whatsapp:+254711111111" and "Body" not in sent
    assert sent["rendered"] == {"kind": "twilio/text", "body": filled}
    await page.reload()
    await expect(transcript.locator("li.line.out").last.locator(".status")).to_have_text("sent")
    await shots.take(page, "template-sent")

    page = await browser.new_page()
    await sign_in(page, stack, "grace@example.org")
    await page.goto(f"{stack.url}/console/audit")
    row = page.get_by_role("row").filter(has_text="follow_up")
    await expect(row).to_contain_text("template")
    await expect(row).to_contain_text("Juan")


async def test_the_console_in_the_staff_members_language(
    stack: Stack, browser: Browser, shots: Shots
) -> None:
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    await page.goto(f"{stack.url}/console/login")
    await expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    await page.get_by_label("E-mail ou téléphone").fill("juan@example.org")
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.get_by_label("Langue", exact=True).select_option("sw")
    await page.get_by_role("button", name="Changer").click()
    await expect(page.get_by_role("button", name="Toka")).to_be_visible()
    await expect(page.get_by_role("heading", name="Mazungumzo")).to_be_visible()
    await shots.take(page, "inbox-kiswahili")


async def page_sleep(seconds: float = 0.05) -> None:
    import asyncio

    await asyncio.sleep(seconds)
