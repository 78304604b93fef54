"""`/console/members/import`: the dry run's report, then Apply of exactly the file checked;
admins only, CSRF, size caps, bad files, audit. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import html
import re
from datetime import timedelta

import httpx

from bot.web.console.imports import (
    CHANGED,
    EXPIRED,
    MAX_FILE_BYTES,
    MAX_LINES,
    NO_FILE,
    NO_LENGTH,
    SPREADSHEET,
    TOO_LARGE,
    TOO_MANY_LINES,
)
from storage.repositories.roster import RosterRepository
from tests.console.conftest import Console
from tests.console.seed import csrf_of, sign_in

GOOD = (
    "Full Name,Phone Number,telegram_id,group,language,Notes\n"
    "Neema,+254722000001,,Kibera Market Peers,sw,met at the market\n"
    "Wanjiru Kamau,+254711111111,,,,\n"
    "Neema,+254722000001,,Kibera Market Peers,sw,met at the market\n"
    "Otieno,0722000002,,Kibera Market Peers,,\n"
)
BAD = (
    "name,phone,telegram_id,group,language\n"
    "Neema,254722000001,,,\n"
    "Zawadi,+254722000003,,No Such Group,\n"
    "Kioko,,abc,,xx\n"
)
CONTENT = re.compile(r'name="content" value="([^"]+)"')


async def _form(client: httpx.AsyncClient) -> str:
    page = await client.get("/console/members/import")
    assert page.status_code == 200
    return csrf_of(page.text)


async def _check(
    client: httpx.AsyncClient, data: bytes, name: str = "members.csv", csrf: str | None = None
) -> httpx.Response:
    token = csrf if csrf is not None else await _form(client)
    return await client.post(
        "/console/members/import",
        data={"csrf_token": token},
        files={"file": (name, data, "text/csv")},
    )


async def _apply(client: httpx.AsyncClient, checked: httpx.Response) -> httpx.Response:
    found = CONTENT.search(checked.text)
    assert found, "the report offers no Apply"
    return await client.post(
        "/console/members/import/apply",
        data={"csrf_token": csrf_of(checked.text), "content": found.group(1)},
    )


async def _phones(console: Console) -> dict[str, str | None]:
    async with console.runtime.database.read() as uow:
        found = {}
        for phone in ("+254722000001", "+254722000002", "+254722000003"):
            member = await uow.members.by_address("whatsapp", phone)
            found[phone] = None if member is None else member.name
        return found


async def test_the_report_first_then_apply_writes_exactly_that_file(console: Console) -> None:
    await sign_in(console.client, "grace@example.org")
    checked = await _check(console.client, GOOD.encode())
    assert checked.status_code == 200
    report = html.unescape(checked.text)
    assert "Would create 2 · update 1 · leave unchanged 0 · lines with errors 0" in report
    assert "new member Neema, language sw, in Kibera Market Peers" in report
    assert "new member Otieno" in report  # a national number read in Kenya, the group's country
    assert "name Wanjiru -> Wanjiru Kamau" in report
    assert "Columns left out (unknown): Notes" in report
    assert "line 4: the same as line 2; imported once" in report
    assert set((await _phones(console)).values()) == {None}  # nothing written

    applied = await _apply(console.client, checked)
    assert applied.status_code == 200
    assert "Imported: created 2, updated 1, unchanged 0." in applied.text
    assert await _phones(console) == {
        "+254722000001": "Neema",
        "+254722000002": "Otieno",
        "+254722000003": None,
    }
    async with console.runtime.database.read() as uow:
        neema = await uow.members.by_address("whatsapp", "+254722000001")
        assert neema is not None and neema.locale == "sw" and neema.consent is None
        group = await uow.members.current_group(neema.id)
        assert group is not None and group.id == console.program.kibera_group
        lines = await uow.audit.page(0, 2)
    assert [line.action for line in lines] == ["members_import_applied", "members_import_checked"]
    for line in lines:
        assert line.detail is not None and "create 2, update 1, unchanged 0" in line.detail
        assert "Neema" not in line.detail and "254722" not in line.detail

    again = await _apply(console.client, checked)  # the same Apply form a second time
    assert again.status_code == 409 and EXPIRED in again.text
    rechecked = await _check(console.client, GOOD.encode())
    assert "Would create 0 · update 0 · leave unchanged 3" in rechecked.text


async def test_a_file_with_errors_shows_them_by_line_and_offers_no_apply(
    console: Console,
) -> None:
    await sign_in(console.client, "grace@example.org")
    checked = await _check(console.client, BAD.encode())
    assert checked.status_code == 400
    text = html.unescape(checked.text)
    assert 'line 2: phone "254722000001" must start with + and the country code' in text
    assert 'line 3: unknown group "No Such Group"' in text
    assert 'line 4: telegram_id "abc" must be the person' in text
    assert 'line 4: unknown language "xx"' in text
    assert "lines with errors 3" in text
    assert 'name="content"' not in text and ">Apply</button>" not in text
    assert (await _phones(console))["+254722000003"] is None


async def test_apply_takes_only_the_checked_bytes(console: Console) -> None:
    await sign_in(console.client, "grace@example.org")
    checked = await _check(console.client, GOOD.encode())
    forged = GOOD.replace("Otieno", "Mallory").encode()
    response = await console.client.post(
        "/console/members/import/apply",
        data={
            "csrf_token": csrf_of(checked.text),
            "content": base64.urlsafe_b64encode(forged).decode(),
        },
    )
    assert response.status_code == 409 and EXPIRED in response.text
    garbage = await console.client.post(
        "/console/members/import/apply",
        data={"csrf_token": csrf_of(checked.text), "content": "not base64!"},
    )
    assert garbage.status_code == 409
    assert set((await _phones(console)).values()) == {None}


async def test_a_check_expires_after_30_minutes(console: Console) -> None:
    await sign_in(console.client, "grace@example.org")
    checked = await _check(console.client, GOOD.encode())
    console.clock.advance(timedelta(minutes=31))
    late = await _apply(console.client, checked)
    assert late.status_code == 409 and EXPIRED in late.text
    assert (await _phones(console))["+254722000001"] is None


async def test_a_check_is_tied_to_the_browser_session_that_made_it(console: Console) -> None:
    await sign_in(console.client, "grace@example.org")
    checked = await _check(console.client, GOOD.encode())
    other = httpx.AsyncClient(transport=console.client._transport, base_url="http://console.test")
    async with other:
        await sign_in(other, "grace@example.org")
        found = CONTENT.search(checked.text)
        assert found
        stolen = await other.post(
            "/console/members/import/apply",
            data={"csrf_token": await _form(other), "content": found.group(1)},
        )
    assert stolen.status_code == 409 and EXPIRED in stolen.text
    assert (await _phones(console))["+254722000001"] is None


async def test_members_changed_since_the_check_show_the_new_report_instead(
    console: Console,
) -> None:
    await sign_in(console.client, "grace@example.org")
    checked = await _check(console.client, GOOD.encode())
    async with console.runtime.database.transaction() as uow:
        member = await uow.members.create(
            "whatsapp", "+254722000001", "en", None, at=console.clock()
        )
        await uow.members.update(member.id, at=console.clock(), name="Neema W")
    changed = await _apply(console.client, checked)
    assert changed.status_code == 409
    assert CHANGED in html.unescape(changed.text)
    assert "name Neema W -> Neema" in html.unescape(changed.text)
    assert (await _phones(console))["+254722000002"] is None  # nothing written
    applied = await _apply(console.client, changed)  # the new report's Apply
    assert applied.status_code == 200
    assert "Imported: created 1, updated 2, unchanged 0." in applied.text


async def test_only_admins_import_and_only_with_the_csrf_token(console: Console) -> None:
    for login in ("juan@example.org", "sam@example.org"):
        client = httpx.AsyncClient(
            transport=console.client._transport, base_url="http://console.test"
        )
        async with client:
            await sign_in(client, login)
            assert (await client.get("/console/members/import")).status_code == 403
            page = await client.get("/console/groups")
            refused = await _check(client, GOOD.encode(), csrf=csrf_of(page.text))
            assert refused.status_code == 403
            assert "Import members" not in page.text
    await sign_in(console.client, "grace@example.org")
    await _form(console.client)
    no_token = await _check(console.client, GOOD.encode(), csrf="")
    assert no_token.status_code == 403
    assert (await _phones(console))["+254722000001"] is None
    anonymous = httpx.AsyncClient(
        transport=console.client._transport, base_url="http://console.test"
    )
    async with anonymous:
        response = await anonymous.post(
            "/console/members/import", files={"file": ("m.csv", b"x", "text/csv")}
        )
    assert response.status_code == 303 and response.headers["location"] == "/console/login"


async def test_bad_files_are_refused_with_what_to_do(console: Console) -> None:
    await sign_in(console.client, "grace@example.org")
    xlsx = await _check(console.client, b"PK\x03\x04" + b"\x00" * 200, name="members.xlsx")
    assert xlsx.status_code == 400 and SPREADSHEET in html.unescape(xlsx.text)
    latin1 = await _check(console.client, "name,phone\nJosé,+254722000001\n".encode("latin-1"))
    assert latin1.status_code == 400
    assert "line 2: the file is not UTF-8 text" in html.unescape(latin1.text)
    empty = await _check(console.client, b"")
    assert empty.status_code == 400 and "the file is empty" in empty.text
    no_header = await _check(console.client, b"Neema,+254722000001\n")
    assert no_header.status_code == 400
    assert "the first line must be the header" in html.unescape(no_header.text)
    nothing = await console.client.post(
        "/console/members/import", data={"csrf_token": await _form(console.client)}
    )
    assert nothing.status_code == 400 and NO_FILE in nothing.text
    assert (await _phones(console))["+254722000001"] is None


async def test_files_over_the_cap_are_refused_before_they_are_read(console: Console) -> None:
    await sign_in(console.client, "grace@example.org")
    csrf = await _form(console.client)
    header = b"name,phone,telegram_id,group,language\n"
    line = b"Neema,+254722000001,,,\n"
    big = header + line * (MAX_FILE_BYTES // len(line) + 1)
    refused = await _check(console.client, big, csrf=csrf)
    assert refused.status_code == 413 and TOO_LARGE in refused.text
    just_over = header + b"x" * (MAX_FILE_BYTES - len(header) + 1)  # its form fits the request
    assert len(just_over) == MAX_FILE_BYTES + 1
    refused = await console.client.post(
        "/console/members/import",
        content=b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        + csrf.encode()
        + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="m.csv"\r\n'
        + b"Content-Type: text/csv\r\n\r\n"
        + just_over
        + b"\r\n--b--\r\n",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert refused.status_code == 413 and TOO_LARGE in refused.text

    async def chunks() -> object:
        yield b"--b\r\n"

    unsized = await console.client.post(
        "/console/members/import",
        content=chunks(),  # type: ignore[arg-type]
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert unsized.status_code == 411 and NO_LENGTH in unsized.text
    async with console.runtime.database.read() as uow:
        lines = await uow.audit.page(0, 5)
    assert not any(line.action.startswith("members_import") for line in lines)


async def test_more_members_than_one_request_writes_are_refused_with_the_way_out(
    console: Console,
) -> None:
    await sign_in(console.client, "grace@example.org")
    header = "name,phone,telegram_id,group,language\n"
    rows = [f"Member {i},+2547{22000000 + i},,,\n" for i in range(MAX_LINES + 1)]
    refused = await _check(console.client, (header + "".join(rows)).encode())
    assert refused.status_code == 413
    said = TOO_MANY_LINES % {"lines": f"{MAX_LINES + 1:,}", "most": f"{MAX_LINES:,}"}
    assert said in html.unescape(refused.text)
    assert "at most 10,000 at a time" in html.unescape(refused.text)
    assert 'name="content"' not in refused.text
    accepted = await _check(console.client, (header + "".join(rows[:MAX_LINES])).encode())
    assert accepted.status_code == 200 and 'name="content"' in accepted.text


async def test_a_program_of_thousands_checks_applies_and_applies_again_as_unchanged(
    console: Console,
) -> None:
    """3,000 members with a notes column: a file over 1 MB, whose Apply form carries more
    than the 1 MB Starlette reads in a form field by default."""
    await sign_in(console.client, "grace@example.org")
    size = 3_000
    notes = "pays weekly and sells mangoes and tomatoes at the Toi market by the gate " * 5
    lines = [f"Member {n},+254733{n:06d},,Kibera Market Peers,sw,{notes}\n" for n in range(size)]
    data = ("name,phone,telegram_id,group,language,notes\n" + "".join(lines)).encode()
    assert 1024 * 1024 < len(data) <= MAX_FILE_BYTES
    checked = await _check(console.client, data)
    assert checked.status_code == 200
    report = html.unescape(checked.text)
    assert "Would create 3,000 · update 0 · leave unchanged 0 · lines with errors 0" in report
    assert "Warning: Kibera Market Peers would have" in report
    applied = await _apply(console.client, checked)
    assert applied.status_code == 200, html.unescape(applied.text)[-2000:]
    assert "Imported: created 3,000, updated 0, unchanged 0." in applied.text

    async with console.runtime.database.read() as uow:
        entries = [
            entry
            for entry in await RosterRepository(uow.session).entries()
            if entry.member.name is not None and entry.member.name.startswith("Member ")
        ]
    assert sorted(entry.member.name or "" for entry in entries) == sorted(
        f"Member {n}" for n in range(size)
    )
    for entry in entries:
        n = int((entry.member.name or "").removeprefix("Member "))
        phone = f"+254733{n:06d}"
        assert [(a.channel, a.value) for a in entry.addresses] == [
            ("whatsapp", phone),
            ("sms", phone),
        ]
        assert entry.group_id == console.program.kibera_group
        assert entry.member.locale == "sw" and entry.member.consent is None

    again = await _check(console.client, data)
    assert "Would create 0 · update 0 · leave unchanged 3,000" in html.unescape(again.text)
    unchanged = await _apply(console.client, again)
    assert "Imported: created 0, updated 0, unchanged 3,000." in unchanged.text
    async with console.runtime.database.read() as uow:
        assert [
            entry
            for entry in await RosterRepository(uow.session).entries()
            if entry.member.name is not None and entry.member.name.startswith("Member ")
        ] == entries
