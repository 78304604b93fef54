"""The admin's staff page: editing and removing staff users, admin only, with CSRF, audited;
a removed staff user's sessions end at once and their sign-in is refused."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from storage.models import AuditEntry
from tests.console.conftest import Console
from tests.console.seed import csrf_of, sign_in


async def _audit(console: Console) -> list[tuple[int | None, str, str | None]]:
    async with console.runtime.database.read() as uow:
        rows = await uow.session.execute(
            select(AuditEntry.staff_id, AuditEntry.action, AuditEntry.detail).order_by(
                AuditEntry.id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def _as(console: Console, login: str) -> httpx.Cookies:
    """Sign in as `login` and return that session's cookies."""
    console.client.cookies.clear()
    assert (await sign_in(console.client, login)).status_code == 303
    return httpx.Cookies(console.client.cookies)


async def test_removing_ends_sessions_now_and_refuses_sign_in(console: Console) -> None:
    program = console.program
    juan = await _as(console, "juan@example.org")
    assert (await console.client.get("/console/")).status_code == 200
    await _as(console, "grace@example.org")
    page = await console.client.get("/console/staff")
    assert f'action="/console/staff/{program.coordinator}/remove"' in page.text
    # without ticking the confirmation, nothing happens
    unconfirmed = await console.client.post(
        f"/console/staff/{program.coordinator}/remove", data={"csrf_token": csrf_of(page.text)}
    )
    assert unconfirmed.status_code == 400 and "Tick the box" in unconfirmed.text
    removed = await console.client.post(
        f"/console/staff/{program.coordinator}/remove",
        data={"csrf_token": csrf_of(page.text), "confirm": "yes"},
    )
    assert removed.status_code == 303
    after = await console.client.get(removed.headers["location"])
    assert "Removed staff" in after.text and "Details of Juan" not in after.text
    assert (
        program.admin,
        "staff_removed",
        "Juan (coordinator; juan@example.org, +254700000100)",
    ) in (await _audit(console))
    # Juan's open session ends with his next request; signing in again is refused
    console.client.cookies = juan
    assert (await console.client.get("/console/")).status_code == 303
    console.client.cookies.clear()
    assert (await sign_in(console.client, "juan@example.org")).status_code == 401
    assert (await sign_in(console.client, "+254700000100")).status_code == 401


async def test_only_an_admin_edits_or_removes_and_only_with_the_csrf_token(
    console: Console,
) -> None:
    program = console.program
    await _as(console, "juan@example.org")
    token = csrf_of((await console.client.get("/console/")).text)
    for action in ("remove", "edit"):
        refused = await console.client.post(
            f"/console/staff/{program.staff}/{action}",
            data={"csrf_token": token, "confirm": "yes", "name": "X", "role": "admin"},
        )
        assert refused.status_code == 403
    await _as(console, "grace@example.org")
    for action in ("remove", "edit"):
        forged = await console.client.post(
            f"/console/staff/{program.staff}/{action}",
            data={"csrf_token": "forged", "confirm": "yes", "name": "X", "role": "admin"},
        )
        assert forged.status_code == 403
    async with console.runtime.database.read() as uow:
        sam = await uow.staff.get(program.staff)
    assert sam is not None and (sam.name, sam.role) == ("Sam", "staff")
    assert not [line for line in await _audit(console) if line[1].startswith("staff_")]


async def test_an_admin_edits_a_staff_user_and_is_told_what_is_wrong(console: Console) -> None:
    program = console.program
    await _as(console, "grace@example.org")
    page = await console.client.get("/console/staff")
    token = csrf_of(page.text)
    form = {
        "csrf_token": token,
        "name": "Samuel",
        "role": "coordinator",
        "email": "samuel@example.org",
        "phone": "+254 700 000 200",
        "telegram": "",
    }
    saved = await console.client.post(f"/console/staff/{program.staff}/edit", data=form)
    assert saved.status_code == 303
    async with console.runtime.database.read() as uow:
        sam = await uow.staff.get(program.staff)
    assert sam is not None
    assert (sam.name, sam.role, sam.email, sam.phone) == (
        "Samuel", "coordinator", "samuel@example.org", "+254700000200",
    )  # fmt: skip
    for change, message in (
        ({"email": "juan@example.org"}, "the email juan@example.org already belongs to staff"),
        ({"phone": "0700"}, "must start with + and the country code"),
        ({"role": "owner"}, "unknown role"),
        ({"email": "", "phone": ""}, "needs a phone number, a Telegram id or an email"),
    ):
        refused = await console.client.post(
            f"/console/staff/{program.staff}/edit", data={**form, **change}
        )
        assert refused.status_code == 400 and message in refused.text, change
    # the last admin can neither lose the role nor be removed
    demote = await console.client.post(
        f"/console/staff/{program.admin}/edit",
        data={"csrf_token": token, "name": "Grace", "role": "staff", "email": "grace@example.org"},
    )
    assert demote.status_code == 400 and "Grace is the last admin" in demote.text
    remove = await console.client.post(
        f"/console/staff/{program.admin}/remove", data={"csrf_token": token, "confirm": "yes"}
    )
    assert remove.status_code == 409 and "Grace is the last admin" in remove.text
    async with console.runtime.database.read() as uow:
        grace = await uow.staff.get(program.admin)
    assert grace is not None and grace.role == "admin"
    assert [line[1] for line in await _audit(console) if line[1].startswith("staff_")] == [
        "staff_edited"
    ]
