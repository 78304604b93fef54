"""The highlight's text: numbers from SQL, trends, help counts, stories, every language."""

from __future__ import annotations

from decimal import Decimal

from bot.highlights.weekly import MAX_CHARACTERS, compose, compose_highlight
from bot.i18n.catalogs import load_catalogs
from storage import Database
from storage.repositories.highlights import CurrencyTotal

from .builders import JOINED, add_member, checkin, help_given, local, member_story, seed_group_weeks

CATALOGS = load_catalogs()

ENGLISH = """\
This week in Kibera Market Peers:
Check-ins: 3 of 4 members.
Acts of help between members: 2.
A few amounts came in other currencies (USD): too few members used them to show a total.

A story to share: "Keep your receipts in one envelope: the week's sums get easy."

Amina shares: "I opened a second stall at the market!"

Well done, everyone. Keep helping each other!"""
"""Sales come from two members and savings from one: no figure is shown for either."""

SPANISH = """\
Esta semana en Mercado Juárez:
Registros: 7 de 7 miembros.
Ventas del grupo: 3.500,50 MXN (30 % menos que la semana pasada).
Ahorro del grupo: 500 MXN (más que la semana pasada, que fue cero).
Ventas del grupo en USD: 60 US$.
Ahorro del grupo en USD: 6 US$.
Algunas cantidades llegaron en otras monedas (COP): muy pocos miembros las usaron para mostrar \
un total.

¡Buen trabajo a todos! Sigan ayudándose unos a otros."""


async def test_the_week_in_english(database: Database) -> None:
    async with database.transaction() as uow:
        seeded = await seed_group_weeks(uow)
    async with database.transaction() as uow:
        composed = await compose_highlight(uow, seeded.group, 2026, 48, CATALOGS)
    assert composed.text == ENGLISH
    assert composed.week == "2026-W48"
    stats = composed.stats
    assert (stats.checked_in, stats.members, stats.help_given) == (3, 4, 2)
    assert (stats.sales, stats.sales_members) == (Decimal("3500.50"), 2)
    assert (stats.saved, stats.saved_members) == (Decimal(500), 1)
    assert stats.other_currencies == (
        CurrencyTotal("sales", "USD", Decimal(50), 1),
        CurrencyTotal("saved", "USD", Decimal(10), 1),
    )
    previous = composed.previous
    assert (previous.checked_in, previous.sales, previous.sales_members) == (1, 3000, 1)
    # Oldest approval first: the staff story (approved 10 Nov), then Amina's (20 Nov); Grace's
    # (21 Nov) waits for next week.
    assert composed.story_ids == (seeded.stories["staff"], seeded.stories["amina"])


async def test_a_figure_needs_three_members_and_other_currencies_stand_apart(
    database: Database,
) -> None:
    zone = "America/Mexico_City"
    this_week, last_week = local(zone, "2026-11-25 10:00"), local(zone, "2026-11-18 10:00")
    async with database.transaction() as uow:
        group = await uow.groups.create("Mercado Juárez", zone, "es", "MXN", at=JOINED)
        people = [
            (("1000", "100"), ("2000", "0"), "MXN"),
            (("2000", "200"), ("2000", "0"), "MXN"),
            (("500.50", "200"), ("1000", "0"), "MXN"),
            (("10", "1"), None, "USD"),
            (("20", "2"), None, "USD"),
            (("30", "3"), None, "USD"),
            (("90000", "1000"), None, "COP"),  # one member: named, never shown
        ]
        for index, (now, before, currency) in enumerate(people, start=1):
            member = await add_member(uow, group.id, f"Socia {index}", f"+5255000000{index}")
            await checkin(uow, member.id, group.id, this_week, *now, currency=currency)
            if before is not None:
                await checkin(uow, member.id, group.id, last_week, *before, currency=currency)
    async with database.transaction() as uow:
        assert await compose(uow, group, 2026, 48, CATALOGS) == SPANISH


async def test_fewer_than_three_check_ins_say_how_many_and_nothing_else(
    database: Database,
) -> None:
    zone = "America/Bogota"
    async with database.transaction() as uow:
        group = await uow.groups.create("Tenderos de Suba", zone, "en", "COP", at=JOINED)
        ana = await add_member(uow, group.id, "Ana", "+573000000001")
        ben = await add_member(uow, group.id, "Ben", "+573000000002")
        await add_member(uow, group.id, "Cruz", "+573000000003")
        await checkin(uow, ana.id, group.id, local(zone, "2026-11-25 10:00"), "1500", "100")
        await help_given(uow, ana, ben, group.id, local(zone, "2026-11-25 10:00"))
    async with database.transaction() as uow:
        text = await compose(uow, group, 2026, 48, CATALOGS)
    assert text == (
        "This week in Tenderos de Suba:\n"
        "Check-ins: 1 of 3 members.\n\n"
        "Well done, everyone. Keep helping each other!"
    )
    assert "1,500" not in text and "1.500" not in text


async def test_the_same_week_composes_the_same_text(database: Database) -> None:
    async with database.transaction() as uow:
        seeded = await seed_group_weeks(uow)
    async with database.transaction() as uow:
        first = await compose(uow, seeded.group, 2026, 48, CATALOGS)
        second = await compose(uow, seeded.group, 2026, 48, CATALOGS)
    async with database.transaction() as uow:
        third = await compose(uow, seeded.group, 2026, 48, CATALOGS)
    assert first == second == third


async def test_last_week_seen_from_its_own_week(database: Database) -> None:
    async with database.transaction() as uow:
        seeded = await seed_group_weeks(uow)
    async with database.transaction() as uow:
        composed = await compose_highlight(uow, seeded.group, 2026, 47, CATALOGS)
    assert composed.text.splitlines()[:3] == [
        "This week in Kibera Market Peers:",
        "Check-ins: 1 of 4 members.",
        "",
    ]


async def test_a_week_without_check_ins_is_encouraging(database: Database) -> None:
    async with database.transaction() as uow:
        seeded = await seed_group_weeks(uow)
    async with database.transaction() as uow:
        # 2026-W50: nobody checked in; only the stories are still waiting.
        text = await compose(uow, seeded.group, 2026, 50, CATALOGS)
    assert text == (
        "This week in Kibera Market Peers:\n\n"
        'A story to share: "Keep your receipts in one envelope: the week\'s sums get easy."\n\n'
        'Amina shares: "I opened a second stall at the market!"\n\n'
        "A quiet week for check-ins, and that is okay. Every week is a fresh start: send me "
        "CHECKIN when you are ready to tell me how business went."
    )


async def test_a_quiet_week_in_kiswahili_with_help_and_no_stories(database: Database) -> None:
    zone = "Africa/Nairobi"
    async with database.transaction() as uow:
        group = await uow.groups.create("Wachuuzi wa Gikomba", zone, "sw", "KES", at=JOINED)
        amina = await add_member(uow, group.id, "Amina", "+254700000001")
        juma = await add_member(uow, group.id, "Juma", "+254700000002")
        await help_given(uow, amina, juma, group.id, local(zone, "2026-11-24 10:00"))
    async with database.transaction() as uow:
        text = await compose(uow, group, 2026, 48, CATALOGS)
    assert text == (  # one act of help is one member's story: not told
        "Wiki hii katika Wachuuzi wa Gikomba:\n\n"
        "Wiki tulivu kwa ripoti, na hiyo ni sawa. Kila wiki ni mwanzo mpya: nitumie RIPOTI "
        "ukiwa tayari kuniambia biashara ilivyokwenda."
    )


async def test_a_check_in_counts_in_its_local_week_across_a_clock_change(
    database: Database,
) -> None:
    zone = "America/New_York"
    async with database.transaction() as uow:
        group = await uow.groups.create("Bronx Bakers", zone, "en", "USD", at=JOINED)
        for index, name in enumerate(("Ana", "Ben", "Cruz"), start=1):
            baker = await add_member(
                uow, group.id, name, f"+1718555000{index}", at=local(zone, "2026-10-01 09:00")
            )
            # Sunday 1 November, 23:30 EST (04:30 UTC on Monday): still 2026-W44 in New York.
            await checkin(
                uow,
                baker.id,
                group.id,
                local(zone, "2026-11-01 23:30"),
                "100",
                "10",
                currency="USD",
            )
            # Monday 2 November, 00:30 EST: 2026-W45.
            await checkin(
                uow,
                baker.id,
                group.id,
                local(zone, "2026-11-02 00:30"),
                "200",
                "20",
                currency="USD",
            )
            # Sunday 25 October, 23:30 EDT: 2026-W43.
            await checkin(
                uow, baker.id, group.id, local(zone, "2026-10-25 23:30"), "50", "5", currency="USD"
            )
    async with database.transaction() as uow:
        w43 = await compose_highlight(uow, group, 2026, 43, CATALOGS)
        w44 = await compose_highlight(uow, group, 2026, 44, CATALOGS)
        w45 = await compose_highlight(uow, group, 2026, 45, CATALOGS)
    assert (w43.stats.sales, w44.stats.sales, w45.stats.sales) == (150, 300, 600)
    assert "Sales together: $300 (up 100% on last week)." in w44.text
    assert "Saved together: $60 (up 100% on last week)." in w45.text


async def test_long_stories_are_shortened_or_wait_to_keep_it_short(database: Database) -> None:
    zone = "Africa/Nairobi"
    words = "We sold every basket at the Saturday market and took new orders. "
    async with database.transaction() as uow:
        group = await uow.groups.create("Kibera Market Peers", zone, "en", "KES", at=JOINED)
        amina = await add_member(uow, group.id, "Amina", "+254700000001")
        grace = await add_member(uow, group.id, "Grace", "+254700000002")
        await checkin(uow, amina.id, group.id, local(zone, "2026-11-25 10:00"), "2000", "100")
        first = await member_story(
            uow,
            amina,
            group.id,
            words * 10,
            created=JOINED,
            approved=local(zone, "2026-11-20 10:00"),
        )
        await member_story(
            uow,
            grace,
            group.id,
            words * 3,
            created=JOINED,
            approved=local(zone, "2026-11-21 10:00"),
        )
    async with database.transaction() as uow:
        composed = await compose_highlight(uow, group, 2026, 48, CATALOGS)
    assert len(composed.text) <= MAX_CHARACTERS
    assert composed.story_ids == (first,)  # Grace's story waits for next week
    quoted = composed.text.split("\n\n")[1]
    cut = "We sold every basket at the Saturday market and..."
    assert quoted == 'Amina shares: "' + words * 8 + cut + '"'  # cut at a word
    assert composed.text.endswith("Well done, everyone. Keep helping each other!")
