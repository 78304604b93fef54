"""`/console/groups`: the list and a group's page, scoped to the viewer's groups; join links
and QR codes on the channels configured; schedule changes by admins, checked as the command
line checks them, CSRF-protected and audited. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.runtime import Runtime
from bot.settings import Settings
from bot.web.app import create_app
from bot.web.console.sharing import (
    NO_USERNAME_TELEGRAM,
    NOT_CONFIGURED_TELEGRAM,
    NOT_CONFIGURED_WHATSAPP,
    JoinLinks,
    qr_svg,
)
from tests.console.conftest import Console
from tests.console.seed import Clock, csrf_of, seed, sign_in
from tests.fakes.telegram_api import FakeTelegram

SCHEDULE = {
    "timezone": "Africa/Nairobi",
    "checkin": "0 10 * * TUE",
    "highlights": "0 17 * * SUN",
    "quiet_start": "22:00",
    "quiet_end": "06:30",
}


def _group_names(html: str) -> list[str]:
    return re.findall(r'<a href="/console/groups/\d+">([^<]+)</a>', html)


@pytest.mark.parametrize(
    ("login", "expected"),
    [
        ("grace@example.org", ["Kibera Market Peers", "Mathare Tailors"]),
        ("juan@example.org", ["Kibera Market Peers"]),
        ("sam@example.org", ["Kibera Market Peers"]),
    ],
)
async def test_each_role_lists_the_groups_it_works_with(
    console: Console, login: str, expected: list[str]
) -> None:
    await sign_in(console.client, login)
    page = await console.client.get("/console/groups")
    assert page.status_code == 200
    assert _group_names(page.text) == expected
    assert 'href="/console/groups">Groups</a>' in page.text  # in the navigation


async def test_another_groups_page_is_not_found_exactly_like_a_missing_one(
    console: Console,
) -> None:
    await sign_in(console.client, "juan@example.org")
    other = await console.client.get(f"/console/groups/{console.program.other_group}")
    missing = await console.client.get("/console/groups/99999")
    assert other.status_code == missing.status_code == 404
    assert "No such group." in other.text
    assert other.text == missing.text.replace(
        "/groups/99999", f"/groups/{console.program.other_group}"
    )
    assert "Mathare" not in other.text


async def test_without_a_session_the_group_pages_redirect_to_sign_in(console: Console) -> None:
    for path in ("/console/groups", f"/console/groups/{console.program.kibera_group}"):
        response = await console.client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login"


async def test_the_group_page_lists_members_linked_for_those_who_read_conversations(
    console: Console,
) -> None:
    kibera = console.program.kibera_group
    await sign_in(console.client, "juan@example.org")
    page = (await console.client.get(f"/console/groups/{kibera}")).text
    assert f'<a href="/console/members/{console.program.kibera_member}">Amina</a>' in page
    assert f'<a href="/console/members/{console.program.whatsapp_member}">Wanjiru</a>' in page
    assert "Baraka" not in page
    assert "0 9 * * MON" in page and "21:00–07:00" in page and "Africa/Nairobi" in page
    assert "Save schedule" not in page  # a coordinator does not change schedules

    await console.client.post(
        "/console/logout", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    await sign_in(console.client, "sam@example.org")
    page = (await console.client.get(f"/console/groups/{kibera}")).text
    assert "Amina" in page and "/console/members/" not in page.replace(
        "/console/members/import", ""
    )  # the staff role reads no transcripts: names without links


async def test_join_links_are_left_out_with_the_reason_when_no_channel_is_configured(
    console: Console,
) -> None:
    await sign_in(console.client, "grace@example.org")
    page = (await console.client.get(f"/console/groups/{console.program.kibera_group}")).text
    assert NOT_CONFIGURED_TELEGRAM in page and NOT_CONFIGURED_WHATSAPP in page
    assert "t.me/" not in page and "wa.me/" not in page and "<svg" not in page


@pytest.fixture
async def shared(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, int, str]]:
    """The console with Telegram (a fake Bot API, whose bot is @mutuality_bot) and WhatsApp
    configured: a client signed in as the admin, the Kibera group's id and join code."""
    async with FakeTelegram(token="123:abc") as telegram:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            DATABASE_URL=database_url,
            CONSOLE_SECRET="a test secret for signing cookies",
            PUBLIC_URL="https://mutuality.example.org",
            TELEGRAM_BOT_TOKEN="123:abc",
            TELEGRAM_API_URL=telegram.url,
            TWILIO_ACCOUNT_SID="AC" + "0" * 32,
            TWILIO_AUTH_TOKEN="a token",
            TWILIO_WHATSAPP_FROM="whatsapp:+14155238886",
        )
        async with Runtime.open(settings, clock=Clock()) as runtime:
            program = await seed(runtime.database, runtime.service)
            async with runtime.database.read() as uow:
                group = await uow.groups.get(program.kibera_group)
            assert group is not None
            transport = httpx.ASGITransport(app=create_app(runtime))
            async with httpx.AsyncClient(transport=transport, base_url="https://c.test") as client:
                await sign_in(client, "grace@example.org")
                yield client, group.id, group.join_code


async def test_join_links_and_their_qr_codes_on_the_configured_channels(
    shared: tuple[httpx.AsyncClient, int, str],
) -> None:
    client, group_id, code = shared
    page = (await client.get(f"/console/groups/{group_id}")).text
    telegram = f"https://t.me/mutuality_bot?start=join-{code}"
    whatsapp = f"https://wa.me/14155238886?text={code}"
    for link in (telegram, whatsapp):
        assert f'<a href="{link}" rel="noopener">{link}</a>' in page
        assert str(qr_svg(link)) in page  # the QR code of that very link
        assert f'aria-label="QR code of the link {link}"' in page
    assert NOT_CONFIGURED_TELEGRAM not in page and NOT_CONFIGURED_WHATSAPP not in page


async def test_a_failing_get_me_costs_only_the_telegram_link() -> None:
    async def get_me_fails() -> str:
        raise OSError("network down")

    links = await JoinLinks(get_me_fails, "+14155238886").of("ABC234")
    assert [(link.channel, link.url, link.missing) for link in links] == [
        ("telegram", None, NO_USERNAME_TELEGRAM),
        ("whatsapp", "https://wa.me/14155238886?text=ABC234", None),
    ]


async def _schedule_form(console: Console) -> tuple[str, str]:
    path = f"/console/groups/{console.program.kibera_group}"
    page = await console.client.get(path)
    assert "Save schedule" in page.text
    return path, csrf_of(page.text)


async def test_an_admin_changes_the_schedule_and_it_is_audited(console: Console) -> None:
    await sign_in(console.client, "grace@example.org")
    path, csrf = await _schedule_form(console)
    saved = await console.client.post(
        f"{path}/schedule", data={**SCHEDULE, "csrf_token": csrf}, follow_redirects=False
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{path}?saved=1"
    async with console.runtime.database.read() as uow:
        group = await uow.groups.get(console.program.kibera_group)
        audit = await uow.audit.page(0, 1)
    assert group is not None
    assert (
        group.checkin_schedule,
        group.highlight_schedule,
        group.quiet_start,
        group.quiet_end,
    ) == ("0 10 * * TUE", "0 17 * * SUN", "22:00", "06:30")
    assert audit[0].action == "group_schedule" and audit[0].staff_name == "Grace"
    assert audit[0].detail == (
        f"group {group.id}: Africa/Nairobi, check-in 0 10 * * TUE, highlights 0 17 * * SUN, "
        "quiet 22:00-06:30"
    )
    shown = await console.client.get(f"{path}?saved=1")
    assert "Schedule saved." in shown.text and "0 10 * * TUE" in shown.text


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"timezone": "nairobi"}, "did you mean Africa/Nairobi?"),
        ({"checkin": "0 23 * * MON"}, "fires on Mon at 23:00, inside the quiet hours"),
        ({"quiet_start": "08:00", "quiet_end": "11:00"}, "inside the quiet hours"),
        ({"quiet_end": "7 am"}, "is not a time of day like 21:00"),
        ({"checkin": "0 9 * * MON" + " " * 50 + "x" * 60}, "is too long"),
    ],
)
async def test_a_schedule_that_cannot_work_is_refused_with_why_and_nothing_changes(
    console: Console, change: dict[str, str], words: str
) -> None:
    await sign_in(console.client, "grace@example.org")
    path, csrf = await _schedule_form(console)
    refused = await console.client.post(
        f"{path}/schedule", data={**SCHEDULE, **change, "csrf_token": csrf}
    )
    assert refused.status_code == 400
    assert words in refused.text
    assert 'aria-invalid="true"' in refused.text
    async with console.runtime.database.read() as uow:
        group = await uow.groups.get(console.program.kibera_group)
        audit = await uow.audit.page(0, 1)
    assert group is not None and group.checkin_schedule == "0 9 * * MON"
    assert (group.quiet_start, group.quiet_end) == ("21:00", "07:00")
    assert audit[0].action != "group_schedule"


async def test_coordinators_cannot_change_a_schedule_nor_anyone_without_csrf(
    console: Console,
) -> None:
    kibera = console.program.kibera_group
    await sign_in(console.client, "grace@example.org")
    no_token = await console.client.post(f"/console/groups/{kibera}/schedule", data=SCHEDULE)
    assert no_token.status_code == 403
    page = await console.client.get("/console/groups")
    await console.client.post("/console/logout", data={"csrf_token": csrf_of(page.text)})
    await sign_in(console.client, "juan@example.org")
    page = await console.client.get(f"/console/groups/{kibera}")
    refused = await console.client.post(
        f"/console/groups/{kibera}/schedule",
        data={**SCHEDULE, "csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code == 403
    async with console.runtime.database.read() as uow:
        group = await uow.groups.get(kibera)
    assert group is not None and group.checkin_schedule == "0 9 * * MON"


async def test_an_admin_cannot_change_a_group_that_does_not_exist(console: Console) -> None:
    await sign_in(console.client, "grace@example.org")
    _, csrf = await _schedule_form(console)
    missing = await console.client.post(
        "/console/groups/99999/schedule", data={**SCHEDULE, "csrf_token": csrf}
    )
    assert missing.status_code == 404
