"""The program's pages in a real browser (Debian's Chromium through Playwright): a staff user
composes a broadcast with a segment and watches the audience count follow it, dry-runs it,
sends it, and sees each recipient's delivery state arrive from the fake Telegram; a coordinator
approves a story from the queue. Controls are found by their labels and roles; screenshots at
desktop and phone width (see `tests/console/test_console_browser.py` for where they go)."""

from __future__ import annotations

from playwright.async_api import Browser, expect
from sqlalchemy import update

from storage.models import Group
from tests.broadcasts.seed import member
from tests.console.browser import Stack
from tests.console.test_console_browser import Shots, shots, sign_in, stack

__all__ = ["shots", "stack"]  # the fixtures this module shares

FOOD_CHATS = (7100000001, 7100000002)
TAILOR_CHAT = 7100000003


async def _members(stack: Stack) -> None:
    """Three Telegram members of Kibera with consent (two sell food), and quiet hours off so
    the broadcast goes now whatever the hour the test runs at."""
    kibera = stack.program.kibera_group
    async with stack.runtime.database.transaction() as uow:
        await uow.session.execute(
            update(Group).where(Group.id == kibera).values(quiet_start="00:00", quiet_end="00:00")
        )
        for chat in FOOD_CHATS:
            await member(uow, ("telegram", str(chat)), kibera, business_type="food")
        await member(uow, ("telegram", str(TAILOR_CHAT)), kibera, business_type="making")


async def test_compose_with_a_live_count_send_and_watch_delivery(
    stack: Stack, browser: Browser, shots: Shots
) -> None:
    await _members(stack)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, stack, "sam@example.org")
    await page.get_by_role("link", name="Broadcasts").click()
    await page.get_by_role("link", name="New broadcast").click()
    await expect(page.get_by_label("Kibera Market Peers")).to_be_checked()
    audience = page.get_by_role("region", name="Audience")
    # everyone in Kibera: the three above, Amina (console only) and Wanjiru (no consent)
    await expect(audience).to_contain_text("3 of 5 matching members")

    await page.get_by_label("Condition 1: field").select_option("business_type")
    await page.get_by_label("Condition 1: value").fill("food")
    await expect(audience).to_contain_text("2 of 3 matching members")  # no reload
    await expect(audience).to_contain_text("1 with no reachable address")
    await page.get_by_label("Condition 1: value").fill("making")
    await expect(audience).to_contain_text("1 of 1 matching members")
    await page.get_by_label("Condition 1: value").fill("food")
    await expect(audience).to_contain_text("2 of 3 matching members")

    await page.get_by_label("Text in English").fill("Market day moves to Thursday this week.")
    await page.get_by_role("button", name="Preview and dry run").click()
    await expect(page.get_by_role("heading", name="Dry run: nothing was sent")).to_be_visible()
    await expect(page.get_by_role("article", name="Preview [en]")).to_contain_text(
        "2 members get this text"
    )
    await shots.take(page, "broadcast-compose")
    assert stack.sent_to(FOOD_CHATS[0]) == []

    await page.get_by_role("button", name="Send or schedule").click()
    recipients = page.get_by_role("table", name="Recipients")
    await expect(recipients.get_by_role("row")).to_have_count(4)  # a header, three members
    # The page polls; each food seller's line turns "sent" as the fake Telegram takes it.
    await expect(recipients.get_by_role("cell", name="sent", exact=True)).to_have_count(
        2, timeout=15000
    )
    await expect(recipients).to_contain_text("skipped: with no reachable address")
    await expect(page.get_by_role("progressbar", name="Delivery")).to_have_attribute("value", "3")
    for chat in FOOD_CHATS:
        assert stack.sent_to(chat) == ["Market day moves to Thursday this week."]
    assert stack.sent_to(TAILOR_CHAT) == []
    await shots.take(page, "broadcast-progress")

    phone = await browser.new_context(viewport={"width": 360, "height": 740})
    small = await phone.new_page()
    await sign_in(small, stack, "sam@example.org")
    await small.goto(page.url)
    await expect(small.get_by_role("table", name="Recipients")).to_contain_text("sent")
    await shots.take(small, "broadcast-progress-phone")
    await small.goto(f"{stack.url}/console/broadcasts/new")
    await expect(small.get_by_role("region", name="Audience")).to_contain_text("matching")
    await shots.take(small, "broadcast-compose-phone")


async def test_a_coordinator_approves_a_story_as_the_group_will_read_it(
    stack: Stack, browser: Browser, shots: Shots
) -> None:
    async with stack.runtime.database.transaction() as uow:
        story = await uow.stories.propose(
            stack.program.kibera_member,
            stack.program.kibera_group,
            None,
            "I sold all my mangoes before noon",
            stack.runtime.clock(),
        )
    context = await browser.new_context(viewport={"width": 360, "height": 740})
    page = await context.new_page()
    await sign_in(page, stack, "juan@example.org")
    await page.get_by_role("link", name="Stories").click()
    card = page.get_by_role("article", name=f"Story #{story.id}")
    await expect(card).to_contain_text('Amina shares: "I sold all my mangoes before noon"')
    await shots.take(page, "stories-phone")
    await card.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status")).to_contain_text(f"Story #{story.id} approved")
    await expect(page.get_by_role("article", name=f"Story #{story.id}")).to_have_count(0)
    async with stack.runtime.database.read() as uow:
        approved = await uow.stories.get(story.id)
    assert approved is not None and approved.status == "approved"
