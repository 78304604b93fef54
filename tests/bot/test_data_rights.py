"""A member's data rights in chat: `mydata` shows what is kept, `delete` and the word shown
erase it, down to the bytes of the SQLite file."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from bot.i18n.catalogs import load_catalogs
from bot.members.copies import member_copy_document
from bot.pipeline.documents import make_document
from bot.turns.checkins import load_checkins
from bot.turns.data_rights import erase_code
from bot.turns.service import ConversationService
from bot.web.data_copies import add_data_copy_routes
from conversations.inputs import Reply
from storage import Database
from storage.models import DataCopy

CHECKINS = load_checkins(load_catalogs())
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ZAWADI = "+254712345678"
GRACE = "+254700000002"


async def say(svc: ConversationService, address: str, *lines: str) -> list[str]:
    said: list[str] = []
    for line in lines:
        replies = await svc.receive_from("whatsapp", address, Reply(text=line))
        said.extend(message.text for message in replies)
    return said


async def two_members(database: Database) -> ConversationService:
    async with database.transaction() as uow:
        group = await uow.groups.create(
            "Kibera Market Peers", "Africa/Nairobi", "en", "KES", at=NOW
        )
    svc = ConversationService(database, CHECKINS, "KE", clock=lambda: NOW)
    await say(svc, ZAWADI, "hi", "1", "yes", "Zawadi Mwangaza", "1", "yes", group.join_code)
    await say(svc, GRACE, "hi", "1", "yes", "Grace", "1", "yes", group.join_code)
    await say(svc, ZAWADI, "checkin", "2000", "500", "100", "no", "no", "rain", "more stock")
    await say(svc, ZAWADI, "Zawadi sold out of mandazi by noon", "no")  # a win, not shared
    # Grace says she was helped by Zawadi: her words quote the name
    await say(svc, GRACE, "checkin", "1500", "300", "50", "no", "yes", "zawadi")
    return svc


def file_bytes(database: Database) -> bytes:
    path = Path(str(database.url.database))
    return b"".join(
        candidate.read_bytes()
        for candidate in (path, path.with_name(path.name + "-wal"))
        if candidate.exists()
    )


async def test_mydata_says_what_is_kept_in_the_members_language(database: Database) -> None:
    svc = await two_members(database)
    [summary] = await say(svc, ZAWADI, "mydata")
    assert summary.startswith("Here is what I keep about you:\nName: Zawadi Mwangaza\n")
    assert "Group: Kibera Market Peers" in summary
    assert f"Reached at: whatsapp {ZAWADI}" in summary
    assert "Check-ins completed: 1," in summary
    assert "Latest answers:\n- share_win: no (2026-11-27)\n- win: Zawadi sold out" in summary
    await say(svc, ZAWADI, "language", "2")
    [resumen] = await say(svc, ZAWADI, "mis datos")
    assert resumen.startswith("Esto es lo que guardo sobre ti:\nNombre: Zawadi Mwangaza")
    assert resumen.endswith("Envía BORRAR para que se borre todo.")


async def test_delete_and_the_word_shown_erase_the_member_everywhere(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # what the processes write (libraries: WARNING)
    svc = await two_members(database)
    async with database.transaction() as uow:
        zawadi = await uow.members.by_address("whatsapp", ZAWADI)
    assert zawadi is not None
    code = erase_code(zawadi)
    # the word alone, never asked for, is an ordinary answer
    assert await say(svc, ZAWADI, code) != []
    async with database.transaction() as uow:
        assert await uow.members.by_address("whatsapp", ZAWADI) is not None

    [confirm] = await say(svc, ZAWADI, "delete")
    assert f"To confirm, send {code}." in confirm
    assert await say(svc, ZAWADI, code.lower()) == []

    async with database.transaction() as uow:
        assert await uow.members.by_address("whatsapp", ZAWADI) is None
        assert await uow.members.addresses(zawadi.id) == []
        assert await uow.messages.for_member(zawadi.id) == []
        erased = await uow.members.get(zawadi.id)
        stored = await uow.member_data.summary(zawadi.id)
        answers = await uow.exports.answer_rows()
        audit = await uow.audit.for_member(zawadi.id)
    assert erased is not None and erased.name is None and erased.opted_out
    assert stored.addresses == () and stored.messages == 0
    sales = [a for a in answers if a.member_id == zawadi.id and a.step_id == "sales"]
    assert [a.value for a in sales] == ["2000.00"]  # the number stays, unlinked
    assert all(a.raw_text is None for a in answers if a.member_id == zawadi.id)
    assert [line.action for line in audit] == ["erased"]

    exported = repr(answers).lower()
    logged = "\n".join(record.getMessage() for record in caplog.records).lower()
    for trace in ("zawadi", "mwangaza", "254712345678"):
        assert trace not in exported
        assert trace not in logged
    if database.backend == "sqlite":
        data = file_bytes(database).lower()
        for trace in (b"zawadi", b"mwangaza", b"254712345678", b"mandazi"):
            assert trace not in data, trace
    # Grace keeps her own data; only the quote of the name is gone
    async with database.transaction() as uow:
        grace = await uow.members.by_address("whatsapp", GRACE)
        assert grace is not None
        texts = [m.text for m in await uow.messages.for_member(grace.id, limit=100)]
    assert "•••" in texts and not any(re.search("zawadi", t, re.I) for t in texts)


async def test_mydata_gives_a_one_time_link_to_a_full_copy(database: Database) -> None:
    svc = await two_members(database)
    svc.data_rights.public_url = "https://journal.example.org"
    now = [NOW]
    app = FastAPI()
    runtime = SimpleNamespace(database=database, clock=lambda: now[0])
    add_data_copy_routes(app, runtime)  # type: ignore[arg-type]
    summary, link_line = await say(svc, ZAWADI, "mydata")
    assert summary.startswith("Here is what I keep about you:")
    [link] = re.findall(r"https://journal\.example\.org/data/\S+", link_line)
    path = link.removeprefix("https://journal.example.org")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as web:
        first = await web.get(path)
        again = await web.get(path)
        unknown = await web.get("/data/" + "x" * 32)
        _, expiring = await say(svc, ZAWADI, "mydata")
        now[0] = NOW + timedelta(hours=25)
        late = await web.get(re.findall(r"/data/\S+", expiring)[0])
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/csv")
    assert first.headers["cache-control"] == "no-store"
    copy = first.content.decode("utf-8-sig")
    assert "Zawadi Mwangaza" in copy and ZAWADI in copy and "mandazi" in copy
    assert (again.status_code, unknown.status_code, late.status_code) == (404, 404, 404)
    async with database.transaction() as uow:
        zawadi = await uow.members.by_address("whatsapp", ZAWADI)
        assert zawadi is not None
        audit = await uow.audit.for_member(zawadi.id)
    assert [line.action for line in audit] == ["copy_downloaded"]


async def test_mydata_on_telegram_queues_the_copy_as_a_file_and_no_link(
    database: Database,
) -> None:
    """A line that names the copy, never its bytes: the file is made when the line goes out."""
    svc = await two_members(database)
    svc.data_rights.public_url = "https://journal.example.org"
    async with database.transaction() as uow:
        zawadi = await uow.members.by_address("whatsapp", ZAWADI)
        assert zawadi is not None
        await uow.members.add_address(zawadi.id, "telegram", "5123456789", at=NOW)
    summary, caption = await svc.receive_from("telegram", "5123456789", Reply(text="mydata"))
    assert summary.text.startswith("Here is what I keep about you:")
    assert caption.text.startswith("Here is a full copy of it, as a spreadsheet file.")
    async with database.transaction() as uow:
        [line] = [m for m in await uow.messages.for_member(zawadi.id) if m.id == caption.message_id]
        links = await uow.session.scalar(select(func.count()).select_from(DataCopy))
        document = await make_document(uow, line)
    assert line.payload == {"document": "member_copy"}
    assert links == 0
    assert document is not None and document.filename == "my-data.csv"
    made = document.content.decode("utf-8-sig")
    assert "Zawadi Mwangaza" in made and "mandazi" in made and "Grace" not in made


async def test_no_copy_is_made_for_an_erased_member_or_an_unknown_kind(
    database: Database,
) -> None:
    await two_members(database)
    async with database.transaction() as uow:
        zawadi = await uow.members.by_address("whatsapp", ZAWADI)
        assert zawadi is not None
        [line] = (await uow.messages.for_member(zawadi.id, limit=1))[-1:]
        unknown = replace(line, payload={"document": "somebody_elses_copy"})
        assert await make_document(uow, unknown) is None
        assert await member_copy_document(uow, zawadi.id) is not None
        await uow.member_data.erase(zawadi.id, NOW)
    async with database.transaction() as uow:
        assert await member_copy_document(uow, zawadi.id) is None
        assert await make_document(uow, replace(line, payload={"document": "member_copy"})) is None
