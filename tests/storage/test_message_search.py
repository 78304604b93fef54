"""Full-text search of the message log, on each backend: every word, phrases, the last word as a
prefix, case and accents folded, scope, order, and an index that follows every change of the
lines (a worker's batch, a rewritten text, an erasure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text, update

from storage import Database
from storage.models import Message
from storage.repositories import conversations
from storage.repositories.messages import message_values
from storage.search import INDEX_TABLE, Term, fts5_query, parse, tsquery_text
from tests.outbox_lines import log_outbound

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

LINES = {
    "amina": [
        "I sold mangoes at the market",
        "Nimeuza maembe sokoni leo",
        "We had rain all week",
    ],
    "baraka": [
        "Vendí café y pan dulce",
        "MANGOES were cheap here",
        "the market was closed, no sales",
    ],
}


async def _program(database: Database) -> tuple[int, int, dict[str, int]]:
    """Two groups, a member in each, their lines interleaved (Amina's first), one a minute."""
    ids: dict[str, int] = {}
    async with database.transaction() as uow:
        first = await uow.groups.create("Kibera", "Africa/Nairobi", "en", "KES", at=T0)
        second = await uow.groups.create("Mathare", "Africa/Nairobi", "en", "KES", at=T0)
        for name, group, phone in (
            ("amina", first, "+254711000001"),
            ("baraka", second, "+254711000002"),
        ):
            member = await uow.members.create("whatsapp", phone, "en", "KES", at=T0)
            await uow.members.update(member.id, name=name.title(), at=T0)
            await uow.members.join_group(member.id, group.id, T0)
            ids[name] = member.id
        rows = []
        for number, (amina, baraka) in enumerate(zip(LINES["amina"], LINES["baraka"], strict=True)):
            at = T0 + timedelta(minutes=2 * number)
            rows.append(
                message_values(
                    ids["amina"],
                    "whatsapp",
                    "+254711000001",
                    "in",
                    amina,
                    None,
                    "received",
                    None,
                    at,
                )
            )
            rows.append(
                message_values(
                    ids["baraka"],
                    "whatsapp",
                    "+254711000002",
                    "in",
                    baraka,
                    None,
                    "received",
                    None,
                    at + timedelta(minutes=1),
                )
            )
        await uow.messages.log_many(rows)  # one batch, as a worker writes a round of turns
    return first.id, second.id, ids


async def _found(database: Database, words: str, groups: frozenset[int] | None = None) -> list[str]:
    async with database.read() as uow:
        return [hit.text for hit in await uow.conversations.search(groups, words)]


async def test_every_word_must_match_in_any_order(database: Database) -> None:
    await _program(database)
    assert await _found(database, "market sold") == ["I sold mangoes at the market"]
    assert await _found(database, "market") == [
        "the market was closed, no sales",
        "I sold mangoes at the market",
    ]
    assert await _found(database, "market rain") == []


async def test_a_quoted_phrase_needs_its_words_together(database: Database) -> None:
    await _program(database)
    assert await _found(database, '"sold mangoes"') == ["I sold mangoes at the market"]
    assert await _found(database, '"mangoes sold"') == []
    assert await _found(database, '"the market" closed') == ["the market was closed, no sales"]


async def test_the_last_word_is_a_prefix_as_it_is_typed(database: Database) -> None:
    await _program(database)
    assert await _found(database, "mang") == [
        "MANGOES were cheap here",
        "I sold mangoes at the market",
    ]
    assert await _found(database, "mang sold") == []  # only the last word is a prefix
    assert await _found(database, "sold mang") == ["I sold mangoes at the market"]
    assert await _found(database, '"sold mang"') == []  # a closed phrase is whole words
    assert await _found(database, "sok") == ["Nimeuza maembe sokoni leo"]


async def test_case_and_accents_do_not_matter(database: Database) -> None:
    await _program(database)
    assert await _found(database, "CAFE") == ["Vendí café y pan dulce"]
    assert await _found(database, "vendi café") == ["Vendí café y pan dulce"]
    assert (await _found(database, "mangoes"))[0] == "MANGOES were cheap here"


async def test_a_coordinator_searches_only_their_groups(database: Database) -> None:
    first, second, _ = await _program(database)
    assert await _found(database, "mangoes", frozenset({first})) == ["I sold mangoes at the market"]
    assert await _found(database, "mangoes", frozenset({second})) == ["MANGOES were cheap here"]
    assert await _found(database, "mangoes", frozenset()) == []


async def test_matches_beyond_the_newest_lines_come_in_order_and_once(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An admin's search tests the newest lines first, then asks the index for older ones."""
    await _program(database)
    monkeypatch.setattr(conversations, "RECENT_LINES", 2)
    assert await _found(database, "market") == [
        "the market was closed, no sales",
        "I sold mangoes at the market",
    ]
    assert await _found(database, "mang") == [
        "MANGOES were cheap here",
        "I sold mangoes at the market",
    ]
    async with database.read() as uow:
        newest = await uow.conversations.search(None, "m", limit=3)  # 4 lines have an m-word
        every = await uow.conversations.search(None, "m", limit=50)
    assert [hit.text for hit in every] == [
        "the market was closed, no sales",
        "MANGOES were cheap here",
        "Nimeuza maembe sokoni leo",
        "I sold mangoes at the market",
    ]
    assert [hit.message_id for hit in newest] == [hit.message_id for hit in every][:3]


@pytest.mark.parametrize(
    "typed",
    [
        "'",
        '"',
        "\\",
        "' OR 1=1 --",
        '"unclosed',
        "a & b | !c",
        "NOT AND OR",
        "x:* <-> y",
        "*",
        "!!!",
        "NEAR(a b)",
        "col:value",
    ],
)
async def test_any_input_is_words_never_syntax(database: Database, typed: str) -> None:
    await _program(database)
    assert await _found(database, typed) == []


async def test_the_index_follows_new_changed_and_deleted_lines(database: Database) -> None:
    _, _, ids = await _program(database)
    async with database.transaction() as uow:
        record = await log_outbound(
            uow,
            member_id=ids["amina"],
            channel="whatsapp",
            address_value="+254711000001",
            text="Zawadi will bring the mandazi",
            payload=None,
            at=T0 + timedelta(hours=1),
        )
    assert await _found(database, "mandazi") == ["Zawadi will bring the mandazi"]
    async with database.transaction() as uow:
        await uow.messages.set_status(record.id, "sent", at=T0 + timedelta(hours=2))
        await uow.session.execute(
            update(Message).where(Message.id == record.id).values(text="••• will bring the chapati")
        )
    assert await _found(database, "mandazi") == []
    assert await _found(database, "chapati") == ["••• will bring the chapati"]
    async with database.transaction() as uow:
        await uow.session.execute(delete(Message).where(Message.id == record.id))
    assert await _found(database, "chapati") == []
    assert await _index_size(database) == len(LINES["amina"]) + len(LINES["baraka"])


async def test_erasure_leaves_no_word_of_the_member_in_the_index(database: Database) -> None:
    _, _, ids = await _program(database)
    async with database.transaction() as uow:
        await uow.member_data.erase(ids["amina"], T0 + timedelta(days=1))
    assert await _found(database, "maembe") == []
    assert await _found(database, "mangoes") == ["MANGOES were cheap here"]
    if database.backend == "sqlite":
        async with database.read() as uow:
            segments = await uow.session.scalars(text(f"SELECT block FROM {INDEX_TABLE}_data"))
            stored = b"".join(bytes(block) for block in segments)
        # terms are stored prefix-compressed ("cheap" after "cafe" is "heap"): look for the
        # ends of the words, which no neighbour shares
        for gone in (b"embe", b"koni", b"euza", b"ngoes at"):
            assert gone not in stored, gone
        assert b"embe" in b"maembe" and b"heap" in stored and b"ulce" in stored


async def _index_size(database: Database) -> int:
    async with database.read() as uow:
        if database.backend == "sqlite":
            return int(
                await uow.session.scalar(text(f"SELECT count(*) FROM {INDEX_TABLE}_docsize")) or 0
            )
        return int(
            await uow.session.scalar(select(func.count()).select_from(text(INDEX_TABLE))) or 0
        )


def test_what_a_search_means() -> None:
    assert parse('  "sold  out" mandazi  Café ') == [
        Term("sold out", phrase=True),
        Term("mandazi"),
        Term("Café", prefix=True),
    ]
    assert parse('mandazi "sold out') == [
        Term("mandazi"),
        Term("sold out", phrase=True, prefix=True),
    ]
    assert parse("!!! -- ?") == []
    assert len(parse(" ".join(f"w{n}" for n in range(40)))) == 12
    terms = parse('I\'m \\ "x"')
    assert tsquery_text(terms) == "'I''m' & 'x'"
    assert fts5_query(parse('a"b')) == '"a" "b"*'
