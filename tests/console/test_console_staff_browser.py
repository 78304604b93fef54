"""The admin's staff page in a real browser: a staff user edited and removed by the controls'
labels and roles, and the removed one's open session ended at once."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.console.browser import Stack
from tests.console.test_console_browser import sign_in, stack

__all__ = ["stack"]  # the fixture


async def test_an_admin_edits_and_removes_a_coordinator(stack: Stack, browser: Browser) -> None:
    juan = await browser.new_page()
    await sign_in(juan, stack, "juan@example.org")
    await expect(juan.get_by_role("heading", name="Conversations")).to_be_visible()

    admin = await (await browser.new_context()).new_page()
    await sign_in(admin, stack, "grace@example.org")
    await admin.goto(f"{stack.url}/console/staff")
    person = admin.get_by_role("region", name="Juan")
    await person.get_by_label("Phone").fill("+254 700 000 111")
    await person.get_by_role("button", name="Save details").click()
    await expect(admin.get_by_role("status")).to_have_text("Saved.")
    await expect(admin.get_by_role("region", name="Juan")).to_contain_text("+254700000111")

    person = admin.get_by_role("region", name="Juan")
    await person.get_by_label("Yes, remove Juan").check()
    await person.get_by_role("button", name="Remove from staff").click()
    await expect(admin.get_by_role("status")).to_contain_text("Removed")
    await expect(admin.get_by_role("region", name="Juan")).to_have_count(0)
    await expect(admin.get_by_role("list", name="Removed staff")).to_contain_text("Juan")

    await juan.reload()
    await expect(juan).to_have_url(f"{stack.url}/console/login")
