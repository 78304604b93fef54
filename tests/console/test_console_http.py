"""The console over HTTP: sign-in, lock-out, sessions, CSRF, roles and group scope, the inbox
and search, a member's transcript, take over / reply / hand back, the audit log."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from sqlalchemy import select

from conversations.inputs import Reply
from storage.models import AuditEntry, Message
from tests.console.conftest import Console
from tests.console.seed import KIBERA_MEMBER, OTHER_MEMBER, PASSWORD, csrf_of, sign_in


def _session_cookie(console: Console) -> dict[str, object]:
    value = console.client.cookies["mutuality_console"]
    payload = value.split(".", 1)[0]
    return json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))


async def _audit(console: Console) -> list[tuple[int | None, str, int | None]]:
    async with console.runtime.database.read() as uow:
        rows = await uow.session.execute(
            select(AuditEntry.staff_id, AuditEntry.action, AuditEntry.member_id).order_by(
                AuditEntry.id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_without_a_session_every_page_redirects_to_sign_in(console: Console) -> None:
    for path in (
        "/console/",
        f"/console/members/{console.program.kibera_member}",
        "/console/audit",
    ):
        response = await console.client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/login"


async def test_security_headers_on_every_console_response(console: Console) -> None:
    for path in ("/console/login", "/console/", "/console/static/console.css"):
        response = await console.client.get(path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"


async def test_sign_in_sets_a_new_session_in_a_safe_cookie(console: Console) -> None:
    form = await console.client.get("/console/login")
    assert 'for="login">Email or phone' in form.text and ">Sign in</button>" in form.text
    before = _session_cookie(console)
    response = await sign_in(console.client, "JUAN@example.org ")
    assert response.status_code == 303 and response.headers["location"] == "/console/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie
    after = _session_cookie(console)
    assert after["staff"] == console.program.coordinator
    assert after["csrf"] != before["csrf"]  # the session changed at sign-in
    assert (await console.client.get("/console/")).status_code == 200
    # The phone signs in too.
    console.client.cookies.clear()
    assert (await sign_in(console.client, "+254700000100")).status_code == 303


async def test_a_wrong_password_is_refused(console: Console) -> None:
    response = await sign_in(console.client, "juan@example.org", "not the password")
    assert response.status_code == 401
    assert "do not match an account" in response.text
    assert (await sign_in(console.client, "nobody@example.org")).status_code == 401
    assert (await console.client.get("/console/")).status_code == 303


async def test_five_wrong_passwords_lock_that_account_only(console: Console) -> None:
    for _ in range(5):
        assert (await sign_in(console.client, "juan@example.org", "wrong!")).status_code == 401
    locked = await sign_in(console.client, "juan@example.org")
    assert locked.status_code == 403 and "locked for 15 minutes" in locked.text
    assert (await sign_in(console.client, "grace@example.org")).status_code == 303
    console.client.cookies.clear()
    console.clock.advance(timedelta(minutes=16))
    assert (await sign_in(console.client, "juan@example.org")).status_code == 303


async def test_wrong_passwords_spread_over_more_than_15_minutes_do_not_lock(
    console: Console,
) -> None:
    for _ in range(4):
        await sign_in(console.client, "juan@example.org", "wrong!")
    console.clock.advance(timedelta(minutes=16))
    for _ in range(4):
        await sign_in(console.client, "juan@example.org", "wrong!")
    assert (await sign_in(console.client, "juan@example.org")).status_code == 303


async def test_idle_sessions_end(console: Console) -> None:
    await sign_in(console.client, "juan@example.org")
    console.clock.advance(timedelta(minutes=479))
    assert (await console.client.get("/console/")).status_code == 200
    console.clock.advance(timedelta(minutes=481))
    assert (await console.client.get("/console/")).status_code == 303


async def test_sign_out_ends_the_session_even_for_a_copied_cookie(console: Console) -> None:
    await sign_in(console.client, "juan@example.org")
    copied = console.client.cookies["mutuality_console"]
    page = await console.client.get("/console/")
    response = await console.client.post("/console/logout", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    console.client.cookies.set("mutuality_console", copied, domain="console.test", path="/console")
    assert (await console.client.get("/console/")).status_code == 303


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    console: Console,
) -> None:
    await sign_in(console.client, "juan@example.org")
    member_id = console.program.kibera_member
    for data in ({}, {"csrf_token": "forged"}):
        response = await console.client.post(f"/console/members/{member_id}/take-over", data=data)
        assert response.status_code == 403
    assert (await console.client.post("/console/login", data={"login": "x"})).status_code == 403
    async with console.runtime.database.read() as uow:
        member = await uow.members.get(member_id)
    assert member is not None and member.taken_over_by_id is None


async def test_a_coordinator_sees_only_their_groups(console: Console) -> None:
    await sign_in(console.client, "juan@example.org")
    inbox = await console.client.get("/console/")
    assert "Amina" in inbox.text and "Wanjiru" in inbox.text and "Baraka" not in inbox.text
    other = await console.client.get(f"/console/members/{console.program.other_member}")
    missing = await console.client.get("/console/members/999999")
    assert other.status_code == missing.status_code == 404
    assert "Baraka" not in other.text
    # Nothing tells an existing member of another group from a missing one.
    other_id = f"/console/members/{console.program.other_member}"
    assert other.text.replace(other_id, "/console/members/999999") == missing.text
    hits = await console.client.get("/console/", params={"q": "mangoes"})
    assert "<mark>mangoes</mark>" in hits.text and "cheap here" not in hits.text
    assert (await console.client.get("/console/audit")).status_code == 403


async def test_an_admin_sees_every_group_and_the_audit_log(console: Console) -> None:
    await sign_in(console.client, "grace@example.org")
    inbox = await console.client.get("/console/")
    assert "Amina" in inbox.text and "Baraka" in inbox.text
    await console.client.get(f"/console/members/{console.program.other_member}")
    audit = await console.client.get("/console/audit")
    assert audit.status_code == 200 and "read" in audit.text and "Baraka" in audit.text


async def test_the_staff_role_reads_no_transcripts(console: Console) -> None:
    await sign_in(console.client, "sam@example.org")
    home = await console.client.get("/console/")
    assert home.status_code == 200 and "Amina" not in home.text
    member = await console.client.get(f"/console/members/{console.program.kibera_member}")
    assert member.status_code == 403


async def test_filters_and_search_by_name_or_phone(console: Console) -> None:
    await sign_in(console.client, "grace@example.org")
    whatsapp = await console.client.get("/console/", params={"channel": "whatsapp"})
    assert "Wanjiru" in whatsapp.text and "Amina" not in whatsapp.text
    by_group = await console.client.get(
        "/console/", params={"group": str(console.program.other_group)}
    )
    assert "Baraka" in by_group.text and "Amina" not in by_group.text
    by_phone = await console.client.get("/console/", params={"q": "712345"})
    assert "Amina" in by_phone.text and "Baraka" not in by_phone.text
    by_name = await console.client.get("/console/", params={"q": "bARAKA"})
    assert "Baraka" in by_name.text and "Amina" not in by_name.text


async def test_reading_a_transcript_is_audited(console: Console) -> None:
    await sign_in(console.client, "juan@example.org")
    member_id = console.program.kibera_member
    page = await console.client.get(f"/console/members/{member_id}")
    assert page.status_code == 200
    assert page.text.index("Welcome") < page.text.index("I sold mangoes at the market")
    assert (console.program.coordinator, "read", member_id) in await _audit(console)


async def test_take_over_reply_and_hand_back(console: Console) -> None:
    runtime, member_id = console.runtime, console.program.kibera_member
    await sign_in(console.client, "juan@example.org")
    page = await console.client.get(f"/console/members/{member_id}")
    token = csrf_of(page.text)
    # Replying before taking over is refused.
    refused = await console.client.post(
        f"/console/members/{member_id}/reply", data={"csrf_token": token, "reply": "hi"}
    )
    assert refused.status_code == 409 and "Take over this conversation" in refused.text

    taken = await console.client.post(
        f"/console/members/{member_id}/take-over", data={"csrf_token": token}
    )
    assert taken.status_code == 303
    sent = await console.client.post(
        f"/console/members/{member_id}/reply",
        data={"csrf_token": token, "reply": "Hello Amina, this is Juan."},
    )
    assert sent.status_code == 303
    async with runtime.database.read() as uow:
        queued = await uow.session.scalar(
            select(Message).where(Message.member_id == member_id).order_by(Message.id.desc())
        )
    assert queued is not None
    assert (queued.direction, queued.status, queued.channel, queued.address_value, queued.text) == (
        "out", "queued", "console", KIBERA_MEMBER, "Hello Amina, this is Juan."
    )  # fmt: skip

    # The member's next message is stored and shown, and the bot does not answer it.
    assert await runtime.service.receive_from("console", KIBERA_MEMBER, Reply(text="thanks!")) == []
    page = await console.client.get(f"/console/members/{member_id}")
    assert "thanks!" in page.text and ">Hand back</button>" in page.text

    back = await console.client.post(
        f"/console/members/{member_id}/hand-back", data={"csrf_token": token}
    )
    assert back.status_code == 303
    async with runtime.database.read() as uow:
        told = await uow.conversations.transcript(member_id, limit=1)
    assert [(line.direction, line.status, line.text) for line in told] == [
        (
            "out",
            "queued",
            "You are talking with the journal bot again. Send HELP to see what you can do.",
        )
    ]
    assert await runtime.service.receive_from("console", KIBERA_MEMBER, Reply(text="help")) != []
    actions = [
        action
        for _, action, member in await _audit(console)
        if member == member_id and action != "read"
    ]
    assert actions == ["take_over", "reply", "hand_back"]


async def test_a_free_form_whatsapp_reply_outside_24_hours_is_refused(console: Console) -> None:
    member_id = console.program.whatsapp_member
    await sign_in(console.client, "juan@example.org")
    token = csrf_of((await console.client.get(f"/console/members/{member_id}")).text)
    await console.client.post(f"/console/members/{member_id}/take-over", data={"csrf_token": token})
    refused = await console.client.post(
        f"/console/members/{member_id}/reply", data={"csrf_token": token, "reply": "Hi Wanjiru"}
    )
    assert refused.status_code == 409 and "more than 24 hours ago" in refused.text
    async with console.runtime.database.read() as uow:
        outbound = await uow.session.scalar(
            select(Message).where(Message.member_id == member_id, Message.direction == "out")
        )
    assert outbound is None


async def test_a_template_is_sent_only_when_offered_taken_over_and_with_csrf(
    console: Console,
) -> None:
    member_id = console.program.whatsapp_member
    await sign_in(console.client, "juan@example.org")
    page = await console.client.get(f"/console/members/{member_id}")
    token = csrf_of(page.text)
    send = f"/console/members/{member_id}/template"
    before = await console.client.post(send, data={"csrf_token": token, "template": "follow_up"})
    assert before.status_code == 409 and "Take over this conversation" in before.text
    await console.client.post(f"/console/members/{member_id}/take-over", data={"csrf_token": token})
    taken = await console.client.get(f"/console/members/{member_id}")
    assert "Approved templates" in taken.text and 'id="reply"' not in taken.text
    assert "No approved template is set up" in taken.text  # this program has no templates file
    forged = await console.client.post(send, data={"template": "follow_up"})
    assert forged.status_code == 403
    unknown = await console.client.post(send, data={"csrf_token": token, "template": "follow_up"})
    assert unknown.status_code == 409 and "not offered for this member" in unknown.text
    async with console.runtime.database.read() as uow:
        outbound = await uow.session.scalar(
            select(Message).where(Message.member_id == member_id, Message.direction == "out")
        )
    assert outbound is None


async def test_new_lines_since_the_last_one_shown(console: Console) -> None:
    member_id = console.program.kibera_member
    await sign_in(console.client, "juan@example.org")
    page = await console.client.get(f"/console/members/{member_id}")
    last = page.text.split('data-last="', 1)[1].split('"', 1)[0]
    assert (
        await console.client.get(f"/console/members/{member_id}/since?after={last}")
    ).text.strip() == ""
    await console.runtime.service.receive_from("console", KIBERA_MEMBER, Reply(text="new line"))
    fresh = await console.client.get(f"/console/members/{member_id}/since?after={last}")
    assert "new line" in fresh.text
    other = console.program.other_member
    assert (await console.client.get(f"/console/members/{other}/since?after=0")).status_code == 404


async def test_the_waiting_count_shows_in_the_navigation(console: Console) -> None:
    await console.runtime.service.receive_from("console", KIBERA_MEMBER, Reply(text="agent"))
    await sign_in(console.client, "juan@example.org")
    page = await console.client.get("/console/")
    assert '<strong id="waiting-count">1</strong>' in page.text
    waiting = await console.client.get("/console/", params={"state": "waiting"})
    assert "Amina" in waiting.text and "Wanjiru" not in waiting.text


async def test_the_console_speaks_the_staff_members_language(console: Console) -> None:
    spanish = await console.client.get(
        "/console/login", headers={"accept-language": "es-MX,es;q=0.9"}
    )
    assert ">Iniciar sesión</button>" in spanish.text and 'lang="es"' in spanish.text
    await sign_in(console.client, "juan@example.org")
    page = await console.client.get("/console/")
    chosen = await console.client.post(
        "/console/language",
        data={"csrf_token": csrf_of(page.text), "language": "sw", "next": "/console/"},
    )
    assert chosen.status_code == 303
    console.client.cookies.clear()
    await sign_in(console.client, "juan@example.org")
    assert ">Toka</button>" in (await console.client.get("/console/")).text  # kept on the account


async def test_the_password_is_not_in_the_cookie(console: Console) -> None:
    await sign_in(console.client, "juan@example.org")
    assert PASSWORD not in json.dumps(_session_cookie(console))


async def test_the_transcript_shows_check_ins_and_their_answers_beside_the_lines(
    console: Console,
) -> None:
    service, member_id = console.runtime.service, console.program.kibera_member
    for line in ("checkin", "ksh 2,500"):
        console.clock.advance(timedelta(minutes=1))
        await service.receive_from("console", KIBERA_MEMBER, Reply(text=line))
    await sign_in(console.client, "juan@example.org")
    page = (await console.client.get(f"/console/members/{member_id}")).text
    assert "Check-in ended: onboarding (completed)" in page
    started = page.index("Check-in started: weekly_checkin")
    answered = page.index("Answer · sales: <strong>2500.00 KES</strong>")
    assert page.index("ksh 2,500") < answered  # beside the line that gave it
    assert page.index(">checkin<") < started < page.index("ksh 2,500")


async def test_private_notes_are_kept_for_staff_and_audited(console: Console) -> None:
    member_id = console.program.kibera_member
    await sign_in(console.client, "juan@example.org")
    page = await console.client.get(f"/console/members/{member_id}")
    token = csrf_of(page.text)
    added = await console.client.post(
        f"/console/members/{member_id}/notes",
        data={"csrf_token": token, "note": "Prefers calls after 5 pm"},
    )
    assert added.status_code == 303
    page = await console.client.get(f"/console/members/{member_id}")
    assert "Juan</span> Prefers calls after 5 pm" in page.text
    assert (console.program.coordinator, "note", member_id) in await _audit(console)
    other = console.program.other_member
    refused = await console.client.post(
        f"/console/members/{other}/notes", data={"csrf_token": token, "note": "x"}
    )
    assert refused.status_code == 404
    async with console.runtime.database.read() as uow:
        assert await uow.conversations.private_notes(other) == []
    # Members never see notes: nothing was queued to them.
    async with console.runtime.database.read() as uow:
        lines = await uow.conversations.transcript(member_id)
    assert all("Prefers calls" not in line.text for line in lines)


async def test_an_admin_sets_a_coordinators_groups_in_the_console(console: Console) -> None:
    program = console.program
    await sign_in(console.client, "juan@example.org")
    assert (await console.client.get("/console/staff")).status_code == 403
    console.client.cookies.clear()
    await sign_in(console.client, "grace@example.org")
    page = await console.client.get("/console/staff")
    assert page.status_code == 200 and "Groups of Juan" in page.text
    saved = await console.client.post(
        f"/console/staff/{program.coordinator}/groups",
        data={
            "csrf_token": csrf_of(page.text),
            "group": [str(program.other_group), "999999"],
        },
    )
    assert saved.status_code == 303
    async with console.runtime.database.read() as uow:
        assert await uow.staff.group_ids(program.coordinator) == {program.other_group}
    assert (program.admin, "staff_groups", None) in await _audit(console)
    console.client.cookies.clear()
    await sign_in(console.client, "juan@example.org")
    inbox = await console.client.get("/console/")
    assert "Baraka" in inbox.text and "Amina" not in inbox.text


async def test_a_coordinator_exports_their_groups_only(console: Console) -> None:
    for address in (KIBERA_MEMBER, OTHER_MEMBER):
        for line in ("checkin", "2500"):
            await console.runtime.service.receive_from("console", address, Reply(text=line))
    await sign_in(console.client, "juan@example.org")
    answers = await console.client.get("/console/export/answers.csv")
    assert answers.status_code == 200 and answers.headers["content-type"].startswith("text/csv")
    assert "Amina" in answers.text and "Baraka" not in answers.text
    other = await console.client.get(
        "/console/export/answers.csv", params={"group": str(console.program.other_group)}
    )
    assert other.status_code == 200 and "Baraka" not in other.text
    assert (await console.client.get("/console/export/help.csv")).status_code == 200
    assert (await console.client.get("/console/export/secrets.csv")).status_code == 404
    actions = [action for _, action, _ in await _audit(console)]
    assert actions.count("export_answers") == 2 and actions.count("export_help") == 1
    console.client.cookies.clear()
    await sign_in(console.client, "grace@example.org")
    everything = await console.client.get("/console/export/answers.csv")
    assert "Amina" in everything.text and "Baraka" in everything.text
