"""The program's pages in a real browser (Debian's Chromium through Playwright): groups with
their join QR codes, members import by upload, and the weekly highlights; each on a desktop
and on a 360 px phone, with screenshots (docs/console/ when `CONSOLE_SCREENSHOTS` names it)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import PIL.Image
import pytest
import zxingcpp
from playwright.async_api import Browser, Page, expect

from tests.console.browser import Stack, running_stack
from tests.console.test_console_browser import Shots, sign_in
from tests.highlights.builders import seed_group_weeks

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 360, "height": 740}}
ROSTER = (
    "Full Name,Phone Number,group,language\n"
    "Neema Achieng,+254722000001,Kibera Market Peers,sw\n"
    "Otieno,0722000002,Kibera Market Peers,\n"
    "Wanjiru Kamau,+254711111111,,\n"
)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as built:
        yield built


@pytest.fixture
def shots(tmp_path: Path) -> Shots:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return Shots(folder)


def _decoded(png: bytes) -> list[str]:
    """The QR codes a screenshot shows, read by zxing-cpp as a phone's camera would."""
    return [found.text for found in zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(png)))]


async def _page(browser: Browser, size: str) -> Page:
    context = await browser.new_context(viewport=SIZES[size])  # type: ignore[arg-type]
    return await context.new_page()


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_a_groups_page_with_its_join_qr_code_and_schedule(
    stack: Stack, browser: Browser, shots: Shots, size: str
) -> None:
    page = await _page(browser, size)
    await sign_in(page, stack, "grace@example.org")
    await page.get_by_role("link", name="Groups", exact=True).click()
    await expect(page.get_by_role("heading", name="Groups")).to_be_visible()
    await page.get_by_role("link", name="Kibera Market Peers").click()
    await expect(page.get_by_role("heading", name="Kibera Market Peers")).to_be_visible()

    qr = page.get_by_role("img", name="QR code of the link https://t.me/mutuality_bot?start=")
    await expect(qr).to_be_visible()
    code = await page.locator("#join-title code").inner_text()
    link = f"https://t.me/mutuality_bot?start=join-{code}"
    assert _decoded(await qr.locator("svg").screenshot()) == [link]  # a phone's camera reads it
    await expect(page.get_by_role("link", name=link)).to_be_visible()
    whatsapp = f"https://wa.me/14155238886?text={code}"  # TWILIO_WHATSAPP_FROM of the stack
    whatsapp_qr = page.get_by_role("img", name=f"QR code of the link {whatsapp}")
    assert _decoded(await whatsapp_qr.locator("svg").screenshot()) == [whatsapp]
    await expect(page.get_by_role("link", name=whatsapp)).to_be_visible()
    await expect(page.get_by_role("link", name="Amina")).to_be_visible()
    await expect(page.get_by_role("link", name="Baraka")).to_have_count(0)
    await shots.take(page, f"group-{size}")

    checkin = page.get_by_label("Weekly check-in (cron, in the group's time)")
    await checkin.fill("0 23 * * MON")
    await page.get_by_role("button", name="Save schedule").click()
    await expect(page.get_by_role("alert")).to_contain_text("inside the quiet hours")
    await expect(checkin).to_have_attribute("aria-invalid", "true")
    await checkin.fill("0 10 * * TUE")
    await page.get_by_label("Quiet until").fill("06:30")
    await page.get_by_role("button", name="Save schedule").click()
    await expect(page.get_by_role("status")).to_have_text("Schedule saved.")
    await expect(page.get_by_text("0 10 * * TUE", exact=True)).to_be_visible()


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_members_import_checks_the_file_then_applies_it(
    stack: Stack, browser: Browser, shots: Shots, size: str
) -> None:
    page = await _page(browser, size)
    await sign_in(page, stack, "grace@example.org")
    await page.get_by_role("link", name="Import members").click()
    await page.get_by_label("Members file (CSV)").set_input_files(
        {"name": "roster.csv", "mimeType": "text/csv", "buffer": ROSTER.encode()}
    )
    await page.get_by_role("button", name="Check the file").click()
    report = page.get_by_role("region", name="What the import would do")
    await expect(report).to_contain_text(
        "Would create 2 · update 1 · leave unchanged 0 · lines with errors 0"
    )
    await expect(report.get_by_role("cell", name="name Wanjiru -> Wanjiru Kamau")).to_be_visible()
    await shots.take(page, f"import-report-{size}")

    # Between the press and the server's answer (seconds for a large file): the form is held
    # back here to look at that moment, then sent as the press would have sent it.
    form = 'form[action="/console/members/import/apply"]'
    await page.evaluate(
        f"""() => document.querySelector('{form}')
                  .addEventListener("submit", (event) => event.preventDefault())"""
    )
    await page.get_by_role("button", name="Apply").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Writing the members… A file of thousands takes a few seconds: keep this page open."
    )
    await expect(page.get_by_role("button", name="Apply")).to_be_disabled()  # no second send
    await page.evaluate(f"() => document.querySelector('{form}').submit()")
    await expect(page.get_by_role("status")).to_have_text(
        "Imported: created 2, updated 1, unchanged 0."
    )
    await shots.take(page, f"import-applied-{size}")
    async with stack.runtime.database.read() as uow:
        neema = await uow.members.by_address("whatsapp", "+254722000001")
    assert neema is not None and neema.name == "Neema Achieng" and neema.locale == "sw"


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_the_highlights_of_a_chosen_week(
    stack: Stack, browser: Browser, shots: Shots, size: str
) -> None:
    async with stack.runtime.database.transaction() as uow:
        await seed_group_weeks(uow, name="Soko la Wiki", language="sw")
    page = await _page(browser, size)
    await sign_in(page, stack, "grace@example.org")
    await page.get_by_role("link", name="Highlights").click()
    await page.get_by_label("Week").fill("2026-W48")
    await page.get_by_role("button", name="Show").click()
    soko = page.get_by_role("region", name="Soko la Wiki", exact=True)
    await expect(soko).to_contain_text("2026-W48 · sw · not sent yet")
    await expect(soko).to_contain_text("Wiki hii katika Soko la Wiki")
    await expect(page.get_by_role("region", name="Kibera Market Peers")).to_contain_text(
        "2026-W48 · en"
    )
    await soko.scroll_into_view_if_needed()
    await shots.take(page, f"highlights-{size}")
