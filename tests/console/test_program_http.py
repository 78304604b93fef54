"""The program's pages over HTTP: stories (the moderation queue, approve / edit / reject, a
story written by the staff role waiting for a moderator) and broadcasts (compose with a
segment, the live count, dry run, schedule, send, progress, cancel, resume), with roles, group
scope, CSRF and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape
from sqlalchemy import func, select, update

from bot.broadcasts import segments
from bot.broadcasts.running import DELIVERY
from storage.models import AuditEntry, Broadcast, Group, Message
from tests.broadcasts.seed import member
from tests.console.conftest import Console
from tests.console.seed import Clock, csrf_of, sign_in


async def _actions(console: Console) -> list[tuple[int | None, str, str | None]]:
    async with console.runtime.database.read() as uow:
        rows = await uow.session.execute(
            select(AuditEntry.staff_id, AuditEntry.action, AuditEntry.detail).order_by(
                AuditEntry.id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def _csrf(console: Console, path: str = "/console/stories") -> str:
    return csrf_of((await console.client.get(path)).text)


async def _story(console: Console, group: str, text: str) -> int:
    """A member's story, proposed, as the engine stores it."""
    program = console.program
    member_id = program.kibera_member if group == "kibera" else program.other_member
    group_id = program.kibera_group if group == "kibera" else program.other_group
    async with console.runtime.database.transaction() as uow:
        story = await uow.stories.propose(member_id, group_id, None, text, console.clock())
    return story.id


async def _status(console: Console, story_id: int) -> tuple[str, str, str | None]:
    async with console.runtime.database.read() as uow:
        story = await uow.stories.get(story_id)
    assert story is not None
    return story.status, story.text, story.original_text


# --- stories ------------------------------------------------------------------------------------


async def test_the_queue_shows_each_story_as_its_group_reads_it_in_the_groups_language(
    console: Console,
) -> None:
    async with console.runtime.database.transaction() as uow:
        await uow.session.execute(
            update(Group).where(Group.id == console.program.kibera_group).values(language="sw")
        )
    await _story(console, "kibera", "I bought a second sewing machine")
    await _story(console, "other", "Mathare's secret")
    await sign_in(console.client, "juan@example.org")
    page = (await console.client.get("/console/stories")).text
    assert str(escape('Amina anasimulia: "I bought a second sewing machine"')) in page
    assert "Mathare&#39;s secret" not in page and "Mathare's secret" not in page
    assert ">Approve</button>" in page and ">Reject</button>" in page


async def test_a_coordinator_approves_edits_and_rejects_audited(console: Console) -> None:
    first = await _story(console, "kibera", "I sold  mangoes")
    second = await _story(console, "kibera", "A story to reject")
    await sign_in(console.client, "juan@example.org")
    token = await _csrf(console)
    response = await console.client.post(
        f"/console/stories/{first}/edit",
        data={"csrf_token": token, "text": "I sold mangoes and saved KES 500"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/stories/{first}"
    assert await _status(console, first) == (
        "proposed",
        "I sold mangoes and saved KES 500",
        "I sold  mangoes",
    )
    detail = (await console.client.get(f"/console/stories/{first}")).text
    assert "the original text is kept" in detail and "I sold  mangoes" in detail
    response = await console.client.post(
        f"/console/stories/{first}/approve",
        data={"csrf_token": token, "next": "/console/stories?status=proposed"},
    )
    assert response.headers["location"] == "/console/stories?status=proposed"
    assert (await _status(console, first))[0] == "approved"
    listing = (await console.client.get("/console/stories?status=proposed")).text
    assert f"Story #{first} approved" in listing
    assert "I sold mangoes and saved" not in listing  # it left the queue
    await console.client.post(
        f"/console/stories/{second}/reject", data={"csrf_token": token, "next": "//evil.test/"}
    )
    assert (await _status(console, second))[0] == "rejected"
    coordinator = console.program.coordinator
    assert (await _actions(console))[-3:] == [
        (coordinator, "story_edit", f"story #{first}"),
        (coordinator, "story_approve", f"story #{first}"),
        (coordinator, "story_reject", f"story #{second}"),
    ]


async def test_a_refused_move_says_why_and_changes_nothing(console: Console) -> None:
    story = await _story(console, "kibera", "x" * 1200)  # a member may write more than fits
    await sign_in(console.client, "juan@example.org")
    token = await _csrf(console)
    response = await console.client.post(
        f"/console/stories/{story}/approve",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "cannot be approved as it is" in response.text
    assert (await _status(console, story))[0] == "proposed"
    assert "story_approve" not in [action for _, action, _ in await _actions(console)]


async def test_the_staff_role_writes_a_story_that_waits_and_cannot_moderate(
    console: Console,
) -> None:
    waiting = await _story(console, "kibera", "Amina's win")
    await sign_in(console.client, "sam@example.org")
    listing = await console.client.get("/console/stories")
    assert listing.status_code == 200 and "Amina" in listing.text
    assert ">Approve</button>" not in listing.text
    token = csrf_of(listing.text)
    for action in ("approve", "reject", "edit"):
        refused = await console.client.post(
            f"/console/stories/{waiting}/{action}", data={"csrf_token": token, "text": "mine"}
        )
        assert refused.status_code == 403
    assert await _status(console, waiting) == ("proposed", "Amina's win", None)
    response = await console.client.post(
        "/console/stories",
        data={
            "csrf_token": token,
            "group": str(console.program.kibera_group),
            "text": "The group bought a shared freezer",
        },
        follow_redirects=True,
    )
    assert "waits for a coordinator or an admin" in response.text
    async with console.runtime.database.read() as uow:
        written = (await uow.stories.list(group_id=console.program.kibera_group))[-1]
    assert written.status == "proposed" and written.author_staff_id == console.program.staff
    # ... and for another group not at all
    await console.client.post(
        "/console/stories",
        data={"csrf_token": token, "group": str(console.program.other_group), "text": "no"},
    )
    async with console.runtime.database.read() as uow:
        assert await uow.stories.list(group_id=console.program.other_group) == []
    assert (await _actions(console))[-1] == (
        console.program.staff,
        "story_add",
        f"story #{written.id}",
    )


async def test_a_coordinator_written_story_is_approved_at_once(console: Console) -> None:
    await sign_in(console.client, "juan@example.org")
    await console.client.post(
        "/console/stories",
        data={
            "csrf_token": await _csrf(console),
            "group": str(console.program.kibera_group),
            "text": "Ten members saved every week in November",
        },
    )
    async with console.runtime.database.read() as uow:
        written = (await uow.stories.list(group_id=console.program.kibera_group))[-1]
    assert written.status == "approved" and written.moderated_by_id == console.program.coordinator


async def test_another_groups_story_is_not_found_and_csrf_is_required(console: Console) -> None:
    theirs = await _story(console, "other", "Baraka's story")
    mine = await _story(console, "kibera", "Amina's story")
    await sign_in(console.client, "juan@example.org")
    token = await _csrf(console)
    assert (await console.client.get(f"/console/stories/{theirs}")).status_code == 404
    for action in ("approve", "reject"):
        response = await console.client.post(
            f"/console/stories/{theirs}/{action}", data={"csrf_token": token}
        )
        assert response.status_code == 404
    assert (await _status(console, theirs))[0] == "proposed"
    no_token = await console.client.post(f"/console/stories/{mine}/approve", data={})
    assert no_token.status_code == 403
    assert (await _status(console, mine))[0] == "proposed"


async def test_without_a_session_the_program_pages_redirect_to_sign_in(console: Console) -> None:
    for path in ("/console/stories", "/console/broadcasts", "/console/broadcasts/new"):
        response = await console.client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/console/login"


# --- broadcasts ---------------------------------------------------------------------------------


async def _telegram_members(console: Console) -> dict[str, int]:
    """Kibera: two food sellers on Telegram with consent (one in Kiswahili), a tailor, one
    food seller without consent, one who opted out; Mathare: one food seller."""
    kibera, other = console.program.kibera_group, console.program.other_group
    async with console.runtime.database.transaction() as uow:
        return {
            "food": await member(uow, ("telegram", "71"), kibera, business_type="food"),
            "food_sw": await member(
                uow, ("telegram", "72"), kibera, business_type="food", locale="sw"
            ),
            "tailor": await member(uow, ("telegram", "73"), kibera, business_type="tailoring"),
            "no_consent": await member(
                uow, ("telegram", "74"), kibera, business_type="food", consent=None
            ),
            "opted_out": await member(
                uow, ("telegram", "75"), kibera, business_type="food", opted_out=True
            ),
            "mathare": await member(uow, ("telegram", "76"), other, business_type="food"),
        }


def _compose(console: Console, token: str, action: str, **extra: str) -> dict[str, object]:
    form: dict[str, object] = {
        "csrf_token": token,
        "group": [str(console.program.kibera_group)],
        "field": ["business_type", ""],
        "op": ["=", "="],
        "value": ["food", ""],
        "text_en": "Market day moves to Thursday.",
        "text_sw": "Siku ya soko ni Alhamisi.",
        "at": "",
        "action": action,
    }
    form.update(extra)
    return form


async def _broadcasts(console: Console) -> list[Broadcast]:
    async with console.runtime.database.read() as uow:
        return list(await uow.session.scalars(select(Broadcast).order_by(Broadcast.id)))


async def test_only_admins_and_the_staff_role_broadcast(console: Console) -> None:
    await sign_in(console.client, "juan@example.org")
    for path in ("/console/broadcasts", "/console/broadcasts/new"):
        assert (await console.client.get(path)).status_code == 403
    page = (await console.client.get("/console/stories")).text
    assert 'href="/console/broadcasts"' not in page
    console.client.cookies.clear()
    await sign_in(console.client, "sam@example.org")
    page = (await console.client.get("/console/broadcasts/new")).text
    assert "Kibera Market Peers" in page and "Mathare Tailors" not in page
    assert "Every group" not in page  # the whole program is for admins


async def test_the_live_count_follows_the_segment_and_names_who_is_left_out(
    console: Console,
) -> None:
    await _telegram_members(console)
    await sign_in(console.client, "sam@example.org")
    kibera = str(console.program.kibera_group)
    everyone = await console.client.get("/console/broadcasts/audience", params={"group": kibera})
    # Amina and Wanjiru (seeded) count too: Amina only talks on the console, Wanjiru has no
    # recorded consent.
    assert "<strong>3 of 7 matching members would receive it.</strong>" in everyone.text
    food = await console.client.get(
        "/console/broadcasts/audience",
        params={"group": kibera, "field": "business_type", "op": "=", "value": "food"},
    )
    # Amina said food at onboarding, but reaches the bot on the console only
    assert "<strong>2 of 5 matching members would receive it.</strong>" in food.text
    assert "1 opted out" in food.text and "1 without recorded consent" in food.text
    assert "1 with no reachable address" in food.text
    wrong = await console.client.get(
        "/console/broadcasts/audience",
        params={"group": kibera, "field": "sales", "op": ">=", "value": "1,000"},
    )
    assert "condition 1: write the value without commas, like 1000" in wrong.text
    wrong = await console.client.get(
        "/console/broadcasts/audience",
        params={"group": kibera, "field": "sales", "op": ">=", "value": "a lot"},
    )
    assert "compare it with a plain number" in wrong.text
    theirs = await console.client.get(
        "/console/broadcasts/audience", params={"group": str(console.program.other_group)}
    )
    assert "Choose at least one of your groups." in theirs.text
    # Without the page's script, the form's button counts (no text needed, nothing written).
    token = await _csrf(console, "/console/broadcasts/new")
    counted = await console.client.post(
        "/console/broadcasts/new",
        data=_compose(console, token, "count", text_en="", text_sw=""),
    )
    assert counted.status_code == 200
    assert "<strong>2 of 5 matching members would receive it.</strong>" in counted.text
    assert 'value="food"' in counted.text
    assert "broadcast_dry_run" not in [action for _, action, _ in await _actions(console)]


async def test_a_dry_run_previews_each_language_and_writes_nothing_but_its_audit_line(
    console: Console,
) -> None:
    await _telegram_members(console)
    await sign_in(console.client, "sam@example.org")
    token = await _csrf(console, "/console/broadcasts/new")
    response = await console.client.post(
        "/console/broadcasts/new", data=_compose(console, token, "dry_run")
    )
    assert response.status_code == 200
    text = response.text
    assert "Dry run: nothing was sent" in text
    assert "[en] · 1 members get this text · telegram: 1 messages" in text
    assert "[sw] · 1 members get this text" in text and "Siku ya soko ni Alhamisi." in text
    assert "Market day moves to Thursday." in text  # the draft is kept
    assert await _broadcasts(console) == []
    assert (await _actions(console))[-1] == (console.program.staff, "broadcast_dry_run", "2 of 5")


async def test_a_time_inside_quiet_hours_is_refused_with_the_first_allowed(
    console: Console,
) -> None:
    await sign_in(console.client, "sam@example.org")
    token = await _csrf(console, "/console/broadcasts/new")
    response = await console.client.post(
        "/console/broadcasts/new",
        data=_compose(console, token, "send", at="2026-12-07T22:30"),
    )
    assert response.status_code == 422
    assert "inside Kibera Market Peers&#39;s quiet hours (21:00-07:00)" in response.text
    assert "the first time allowed is 2026-12-08 07:00 Africa/Nairobi" in response.text
    assert await _broadcasts(console) == []


async def test_scheduling_stores_the_groups_time_for_the_clock(console: Console) -> None:
    await sign_in(console.client, "sam@example.org")
    token = await _csrf(console, "/console/broadcasts/new")
    response = await console.client.post(
        "/console/broadcasts/new",
        data=_compose(console, token, "send", at="2026-12-08T09:00"),
    )
    assert response.status_code == 303
    (stored,) = await _broadcasts(console)
    assert stored.status == "scheduled" and stored.planned_at is None
    assert stored.scheduled_at == datetime(2026, 12, 8, 6, 0, tzinfo=UTC)  # 09:00 in Nairobi
    assert stored.segment == "business_type=food"
    assert stored.texts == {
        "en": "Market day moves to Thursday.",
        "sw": "Siku ya soko ni Alhamisi.",
    }
    assert stored.created_by_id == console.program.staff
    assert (await _actions(console))[-1][1:] == ("broadcast_schedule", f"broadcast #{stored.id}")
    page = (await console.client.get(response.headers["location"])).text
    assert f"Broadcast #{stored.id} scheduled." in page
    assert "2026-12-08 09:00 Africa/Nairobi" in page
    assert 'data-finished="1"' in page  # nothing to poll for until its time


async def test_sending_now_queues_and_shows_each_recipients_state(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = await _telegram_members(console)

    def ticking(clock: Clock) -> datetime:
        """Time moves on between two readings, as it does on a real clock."""
        clock.now += timedelta(milliseconds=10)
        return clock.now

    monkeypatch.setattr(Clock, "__call__", ticking)
    await sign_in(console.client, "sam@example.org")
    token = await _csrf(console, "/console/broadcasts/new")
    response = await console.client.post(
        "/console/broadcasts/new", data=_compose(console, token, "send")
    )
    assert response.status_code == 303
    (stored,) = await _broadcasts(console)
    async with console.runtime.database.read() as uow:
        sent = list(
            await uow.session.scalars(
                select(Message.text).where(Message.payload["broadcast"].as_integer() == stored.id)
            )
        )
    assert sorted(sent) == ["Market day moves to Thursday.", "Siku ya soko ni Alhamisi."]
    fragment = await console.client.get(f"/console/broadcasts/{stored.id}/progress")
    assert '<progress id="delivery-bar" max="5" value="3">' in fragment.text
    assert fragment.text.count("<td>queued</td>") == 2
    assert 'data-finished="0"' in fragment.text  # the page keeps polling
    assert "skipped: opted out" in fragment.text
    assert "skipped: without recorded consent" in fragment.text
    # A delivery state changes: the next poll shows it.
    async with console.runtime.database.transaction() as uow:
        await uow.session.execute(
            update(Message)
            .where(Message.member_id == members["food"], Message.direction == "out")
            .values(status="sent")
        )
    fragment = await console.client.get(f"/console/broadcasts/{stored.id}/progress")
    assert '<progress id="delivery-bar" max="5" value="4">' in fragment.text
    assert "<td>sent</td>" in fragment.text
    assert (await _actions(console))[-1][1:] == ("broadcast_send", f"broadcast #{stored.id}")


async def test_cancel_stops_what_is_queued_audited(console: Console) -> None:
    await _telegram_members(console)
    await sign_in(console.client, "sam@example.org")
    token = await _csrf(console, "/console/broadcasts/new")
    await console.client.post("/console/broadcasts/new", data=_compose(console, token, "send"))
    (stored,) = await _broadcasts(console)
    response = await console.client.post(
        f"/console/broadcasts/{stored.id}/cancel", data={"csrf_token": token}, follow_redirects=True
    )
    assert f"Broadcast #{stored.id} cancelled" in response.text
    async with console.runtime.database.read() as uow:
        statuses = set(
            await uow.session.scalars(
                select(Message.error_code).where(
                    Message.payload["broadcast"].as_integer() == stored.id
                )
            )
        )
    assert statuses == {"cancelled"}
    assert (await _actions(console))[-1] == (
        console.program.staff,
        "broadcast_cancel",
        f"broadcast #{stored.id}: 2 lines, 0 recipients",
    )


async def test_an_interrupted_broadcast_resumes_without_sending_twice(console: Console) -> None:
    await _telegram_members(console)
    now = console.clock()
    async with console.runtime.database.transaction() as uow:
        record = await uow.broadcasts.create(
            created_by_id=console.program.staff,
            group_id=console.program.kibera_group,
            language=None,
            segment="business_type=food",
            texts={"en": "Resumed."},
            scheduled_at=now - timedelta(minutes=30),
            at=now - timedelta(minutes=30),
        )
        # planned, and one recipient queued, when its process stopped
        await uow.broadcasts.set_status(record.id, "planning", at=now)
    async with console.runtime.database.transaction() as uow:
        parsed = segments.parse("business_type=food")
        await uow.broadcasts.plan(record.id, now, parsed.conditions)
        assert await uow.broadcasts.enqueue_batch(record.id, 1, now, DELIVERY) == 1
    await sign_in(console.client, "sam@example.org")
    page = await console.client.get(f"/console/broadcasts/{record.id}")
    assert ">Resume</button>" in page.text
    response = await console.client.post(
        f"/console/broadcasts/{record.id}/resume", data={"csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 303
    async with console.runtime.database.read() as uow:
        progress = await uow.broadcasts.progress(record.id)
        lines = await uow.session.scalar(
            select(func.count()).where(Message.payload["broadcast"].as_integer() == record.id)
        )
    assert progress.broadcast.status == "done"
    assert progress.recipients == {"queued": 2, "skipped": 3}
    assert lines == 2  # the recipient queued before the stop was not queued again
    assert (await _actions(console))[-1][1:] == ("broadcast_resume", f"broadcast #{record.id}")


async def test_broadcasts_outside_the_viewers_groups_are_not_found(console: Console) -> None:
    now = console.clock()
    async with console.runtime.database.transaction() as uow:
        theirs = await uow.broadcasts.create(
            created_by_id=None,
            group_id=console.program.other_group,
            language=None,
            segment=None,
            texts={"en": "Mathare news"},
            scheduled_at=now + timedelta(days=1),
            at=now,
        )
        everyone = await uow.broadcasts.create(
            created_by_id=None,
            group_id=None,
            language=None,
            segment=None,
            texts={"en": "Program news"},
            scheduled_at=now + timedelta(days=1),
            at=now,
        )
    await sign_in(console.client, "sam@example.org")
    token = await _csrf(console, "/console/broadcasts")
    listing = (await console.client.get("/console/broadcasts")).text
    assert f"#{theirs.id}<" not in listing and f"#{everyone.id}<" not in listing
    for record in (theirs, everyone):
        assert (await console.client.get(f"/console/broadcasts/{record.id}")).status_code == 404
        cancel = await console.client.post(
            f"/console/broadcasts/{record.id}/cancel", data={"csrf_token": token}
        )
        assert cancel.status_code == 404
    assert [b.status for b in await _broadcasts(console)] == ["scheduled", "scheduled"]
    console.client.cookies.clear()
    await sign_in(console.client, "grace@example.org")
    listing = (await console.client.get("/console/broadcasts")).text
    assert f"#{theirs.id}<" in listing and f"#{everyone.id}<" in listing


async def test_sending_needs_the_csrf_token(console: Console) -> None:
    await _telegram_members(console)
    await sign_in(console.client, "sam@example.org")
    form = _compose(console, "not the token", "send")
    assert (await console.client.post("/console/broadcasts/new", data=form)).status_code == 403
    del form["csrf_token"]
    assert (await console.client.post("/console/broadcasts/new", data=form)).status_code == 403
    assert await _broadcasts(console) == []


async def test_an_admin_broadcasts_to_several_groups_one_broadcast_each(console: Console) -> None:
    await _telegram_members(console)
    await sign_in(console.client, "grace@example.org")
    token = await _csrf(console, "/console/broadcasts/new")
    form = _compose(console, token, "send")
    form["group"] = [str(console.program.kibera_group), str(console.program.other_group)]
    response = await console.client.post("/console/broadcasts/new", data=form)
    assert response.headers["location"] == "/console/broadcasts"
    stored = await _broadcasts(console)
    assert sorted(b.group_id or 0 for b in stored) == sorted(
        [console.program.kibera_group, console.program.other_group]
    )
    assert {b.status for b in stored} == {"done"}
