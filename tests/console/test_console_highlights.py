"""`/console/highlights`: each group's weekly highlight as `mutuality highlights preview`
prints it, in the group's language, for the viewer's groups, with a week picker."""

from __future__ import annotations

import asyncio
import html
import re

from click.testing import CliRunner

from bot.cli import main
from bot.highlights.weekly import deliver
from tests.console.conftest import Console
from tests.console.seed import sign_in
from tests.highlights.builders import seed_group_weeks
from tests.highlights.test_compose import CATALOGS

SECTION = re.compile(
    r'<h2 id="highlight-\d+"><a href="/console/groups/\d+">([^<]+)</a></h2>\s*'
    r'<p class="meta">([^<]+?) · (\w+) · (?:<strong>)?([^<]+?)(?:</strong>)?</p>\s*'
    r'<div class="highlight-text" lang="(\w+)">([^<]*)</div>'
)


def _sections(page: str) -> dict[str, tuple[str, str, str, str, str]]:
    return {
        html.unescape(name): (week, language, status, lang, html.unescape(text))
        for name, week, language, status, lang, text in SECTION.findall(page)
    }


async def _cli_preview(database_url: str, group: str, week: str) -> str:
    runner = CliRunner(env={"DATABASE_URL": database_url})
    result = await asyncio.to_thread(
        runner.invoke, main, ["highlights", "preview", group, "--week", week]
    )
    assert result.exit_code == 0, result.output
    return result.stdout.removesuffix("\n")


async def test_each_group_shows_what_the_command_line_preview_prints(
    console: Console, database_url: str
) -> None:
    async with console.runtime.database.transaction() as uow:
        await seed_group_weeks(uow, name="Soko la Wiki", language="sw")
    await sign_in(console.client, "grace@example.org")
    page = await console.client.get("/console/highlights", params={"week": "2026-W48"})
    assert page.status_code == 200
    sections = _sections(page.text)
    assert list(sections) == [
        "Kibera Market Peers",
        "Mathare Tailors",
        "Next door to Soko la Wiki",
        "Soko la Wiki",
    ]
    week, language, status, lang, text = sections["Soko la Wiki"]
    assert (week, language, status, lang) == ("2026-W48", "sw", "not sent yet", "sw")
    assert text == await _cli_preview(database_url, "Soko la Wiki", "2026-W48")
    assert text.startswith("Wiki hii katika Soko la Wiki")  # in the group's language
    assert "Amina" in text  # the approved story, as the group will read it


async def test_a_week_already_sent_shows_the_text_that_was_sent(console: Console) -> None:
    async with console.runtime.database.transaction() as uow:
        seeded = await seed_group_weeks(uow, name="Soko la Wiki", language="sw")
        plan = await deliver(uow, seeded.group, 2026, 48, CATALOGS, console.clock())
    await sign_in(console.client, "grace@example.org")
    page = await console.client.get("/console/highlights?week=2026-W48")
    week, _, status, _, text = _sections(page.text)["Soko la Wiki"]
    assert (week, status, text) == ("2026-W48", "already sent", plan.text)


async def test_without_a_week_each_group_shows_its_current_week(console: Console) -> None:
    await sign_in(console.client, "juan@example.org")
    page = await console.client.get("/console/highlights")
    sections = _sections(page.text)
    assert list(sections) == ["Kibera Market Peers"]  # the coordinator's group only
    assert sections["Kibera Market Peers"][0] == "2026-W50"  # 7 December 2026, in Nairobi
    assert 'type="week"' in page.text and '<label for="week">Week</label>' in page.text


async def test_the_staff_role_previews_its_groups_too(console: Console) -> None:
    await sign_in(console.client, "sam@example.org")
    page = await console.client.get("/console/highlights?week=2026-W49")
    assert list(_sections(page.text)) == ["Kibera Market Peers"]


async def test_a_week_that_does_not_exist_is_refused_with_why(console: Console) -> None:
    await sign_in(console.client, "grace@example.org")
    for week, words in (("2026-W60", "2026 has no week 60"), ("next week", "is not an ISO week")):
        page = await console.client.get("/console/highlights", params={"week": week})
        assert page.status_code == 400
        assert words in html.unescape(page.text)
        assert _sections(page.text) == {}


async def test_without_a_session_highlights_redirect_to_sign_in(console: Console) -> None:
    response = await console.client.get("/console/highlights")
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
