"""The reports page in a real browser (Debian's Chromium through Playwright), found by labels
and roles: an admin moves from the whole program to a group, reads the charts by their
accessible names, downloads the XLSX, and sees the page at a phone's width and as printed; a
coordinator cannot choose another group.

Screenshots go to a temporary folder, and to `CONSOLE_SCREENSHOTS` when it names a folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from bot.i18n.catalogs import load_catalogs
from bot.reports.evidence import ACTIVE_METHOD, HELP_METHOD
from tests.console.browser import Stack, running_stack
from tests.console.seed import PASSWORD
from tests.reports.plan import program, seed


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The console's stack with the evidence plan's two groups, Kibera and Mombasa, added;
    Juan coordinates Kibera too."""
    async with running_stack(tmp_path) as built:
        async with built.runtime.database.transaction() as uow:
            groups, _ = await seed(uow, program())
            juan = await uow.staff.by_email("juan@example.org")
            assert juan is not None
            await uow.staff.set_groups(juan.id, [built.program.kibera_group, groups["Kibera"]])
        built.plan_groups = groups  # type: ignore[attr-defined]
        yield built


class Shots:
    """Screenshots of what a reader sees (the viewport, or one figure), small enough for the
    guide."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.wanted = os.environ.get("CONSOLE_SCREENSHOTS")

    async def take(self, target: Page | Locator, name: str) -> Path:
        path = self.folder / f"{name}.png"
        await target.screenshot(path=str(path))
        if self.wanted:
            Path(self.wanted).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(self.wanted) / path.name)
        return path


@pytest.fixture
def shots(tmp_path: Path) -> Shots:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return Shots(folder)


async def sign_in(page: Page, stack: Stack, login: str) -> None:
    await page.goto(f"{stack.url}/console/")
    await page.get_by_label("Email or phone").fill(login)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def test_an_admin_reads_a_groups_report_on_screen_phone_and_paper(
    stack: Stack, browser: Browser, shots: Shots, tmp_path: Path
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, stack, "grace@example.org")
    await page.get_by_role("link", name="Reports").click()
    await expect(page.get_by_role("heading", name="Reports: Whole program")).to_be_visible()
    await expect(page.get_by_text("Choose a group to see who helped whom")).to_be_visible()

    await page.get_by_label("Group").select_option(label="Kibera")
    await page.get_by_label("Since").fill("2026-08-01")
    await page.get_by_role("button", name="Show").click()
    await expect(page.get_by_role("heading", name="Reports: Kibera")).to_be_visible()
    trend = page.get_by_role("img", name="Weekly check-ins completed and response rate")
    await expect(trend).to_be_visible()
    network = page.get_by_role("img", name="Who helped whom in Kibera")
    await expect(network).to_be_visible()
    await expect(network).to_contain_text("Amina")
    await expect(page.get_by_role("img", name="Change in Sales, KES")).to_be_visible()
    await expect(page.locator("#trend-table tbody tr")).to_have_count(14)
    await shots.take(page, "reports-desktop")
    await shots.take(page.locator("figure", has=network), "reports-network")

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download this report (XLSX)").click()
    download = await download_info.value
    assert download.suggested_filename.endswith("-since-2026-08-01.xlsx")
    saved = tmp_path / "evidence.xlsx"
    await download.save_as(saved)
    assert saved.read_bytes()[:2] == b"PK"

    await page.set_viewport_size({"width": 360, "height": 740})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await expect(trend).to_be_visible()
    await trend.scroll_into_view_if_needed()
    await shots.take(page, "reports-phone")

    await page.set_viewport_size({"width": 1000, "height": 900})
    await page.emulate_media(media="print")
    await expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    await expect(page.get_by_label("Group")).to_be_hidden()
    await expect(page.get_by_role("heading", name="Exports")).to_be_hidden()
    await expect(trend).to_be_visible()
    bar_fill = await trend.locator("rect.bar").first.evaluate("e => getComputedStyle(e).fill")
    assert bar_fill == "rgb(208, 208, 208)"  # grey on paper
    await shots.take(page.locator("figure", has=trend), "reports-print")


async def test_a_coordinator_chooses_among_their_groups_only(
    stack: Stack, browser: Browser
) -> None:
    page = await browser.new_page()
    await sign_in(page, stack, "juan@example.org")
    await page.get_by_role("link", name="Reports").click()
    # waits for the reports page: read at once, the options could be looked for before it came
    options = page.get_by_label("Group").locator("option")
    await expect(options).to_have_text(["Kibera", "Kibera Market Peers"])
    mombasa = stack.plan_groups["Mombasa"]  # type: ignore[attr-defined]
    refused = await page.goto(f"{stack.url}/console/reports?group={mombasa}")
    assert refused is not None and refused.status == 404
    await expect(page.get_by_role("alert")).to_have_text("No such group.")


async def test_a_coordinator_reads_how_figures_are_computed_in_spanish(
    stack: Stack, browser: Browser
) -> None:
    """A browser that asks for Spanish gets the methods and the kinds of help in Spanish, and
    nothing on the page tells a screen reader to read them as English."""
    spanish = load_catalogs().translator("es").gettext
    context = await browser.new_context(locale="es-ES")
    page = await context.new_page()
    await page.goto(f"{stack.url}/console/")
    await page.get_by_label("Correo o teléfono").fill("juan@example.org")
    await page.get_by_label("Contraseña").fill(PASSWORD)
    await page.get_by_role("button", name="Iniciar sesión").click()
    await page.get_by_role("link", name="Informes").click()
    await expect(page.get_by_role("heading", name="Informes: Kibera")).to_be_visible()

    kinds = page.get_by_role("table", name="Ayuda por tipo, en total")
    await expect(
        kinds.get_by_role("rowheader", name="Consejos o ideas", exact=True)
    ).to_be_visible()
    await expect(kinds.get_by_role("rowheader", name="Prestar dinero", exact=True)).to_be_visible()
    await expect(kinds.get_by_role("rowheader", name="advice", exact=True)).to_have_count(0)

    active = page.get_by_role("cell", name=ACTIVE_METHOD.render(spanish), exact=True)
    await expect(active).to_be_visible()
    assert await active.evaluate("e => e.closest('[lang]').lang") == "es"
    help_method = page.get_by_text(HELP_METHOD.render(spanish), exact=True)
    await expect(help_method).to_be_visible()
    assert await help_method.evaluate("e => e.closest('[lang]').lang") == "es"
    await expect(page.locator("main [lang]")).to_have_count(0)
    await context.close()
