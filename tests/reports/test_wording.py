"""The evidence report's words: methods are message ids whose English is what the report has
always said, read in every shipped language with their numbers in place; kinds of help read
with their check-in labels; the text and spreadsheet read in a language, or plain English."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from bot.i18n.catalogs import load_catalogs
from bot.reports import evidence_files
from bot.reports.evidence import (
    ACTIVE_METHOD,
    COMPLETED_METHOD,
    ENROLLED_METHOD,
    HELP_METHOD,
    NETWORK_METHOD,
    RECIPROCITY_METHOD,
    WEEK_METHOD,
    WEEKS_METHOD,
    Change,
    Count,
    EvidenceReport,
    HelpKindTotal,
    HelpWeek,
    Mutuality,
    NetworkEdge,
    Participation,
    WeekParticipation,
    _change_method,
    _journal_method,
)
from bot.reports.method import Method
from bot.reports.wording import (
    PLAIN,
    UnknownLanguage,
    Wording,
    help_kind_labels,
    wording_for,
)
from bot.turns.checkins import load_checkins
from conversations.i18n import IDENTITY

CATALOGS = load_catalogs()
CHECKINS = load_checkins(CATALOGS)
TRANSLATED = [code for code in CATALOGS.codes if code != "en"]


class Broken:
    """A catalog whose translator lost a placeholder's name."""

    def gettext(self, message: str) -> str:
        return message.replace("%(days)s", "%(dias)s")

    def pgettext(self, context: str, message: str) -> str:
        return message


def test_methods_read_in_english_exactly_as_the_report_always_wrote_them() -> None:
    assert str(ACTIVE_METHOD) == (
        "Members who answered at least one question in the last 28 days (in the group, for a "
        "group)."
    )
    assert str(COMPLETED_METHOD) == (
        "Members who completed the weekly check-in that week (one per member and week). Weeks "
        "run Monday to Sunday in each group's time zone (what belongs to no group: in UTC)."
    )
    assert str(WEEKS_METHOD).startswith(
        "Completed: Members who completed the weekly check-in that week (one per member and "
        "week). Weeks run Monday"
    )
    assert " Response rate: Completed divided by invited." in str(WEEKS_METHOD)
    assert str(_change_method("profit")).startswith(
        "Per member, from sales minus costs of the same check-in (both answered, in one "
        "currency): baseline = median of the member's first 4 weekly check-ins, now = median "
        "of their last 4 "
    )
    assert "Members with fewer than 8 check-in weeks" in str(_change_method("sales"))
    assert str(_journal_method("savings_balance")).startswith(
        "Per member, the total savings balance from the monthly journal: their first"
    )


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_method_reads_in_every_language_with_its_numbers(code: str) -> None:
    gettext = CATALOGS.translator(code).gettext
    methods = [
        WEEK_METHOD, ENROLLED_METHOD, ACTIVE_METHOD, WEEKS_METHOD, HELP_METHOD,
        RECIPROCITY_METHOD, NETWORK_METHOD,
        *(_change_method(m) for m in ("sales", "costs", "profit", "savings")),
        *(_journal_method(s) for s in ("household_income", "savings_balance")),
    ]  # fmt: skip
    for method in methods:
        text = method.render(gettext)
        assert text != str(method), (code, method.message)
        assert "%(" not in text, text
    assert "28" in ACTIVE_METHOD.render(gettext)
    change = _change_method("sales").render(gettext)
    assert " 4 " in change and " 8 " in change
    # the shared sentence is put in place in the same language, not in English
    week = WEEK_METHOD.render(gettext)
    assert week in COMPLETED_METHOD.render(gettext) and week in HELP_METHOD.render(gettext)
    assert str(WEEK_METHOD) not in WEEKS_METHOD.render(gettext)


def test_a_translation_with_broken_placeholders_reads_in_english_rather_than_failing() -> None:
    assert ACTIVE_METHOD.render(Broken().gettext) == str(ACTIVE_METHOD)
    with pytest.raises(KeyError):
        Method.of("only %(days)s", weeks=8).render()  # the English is the author's to fix
    broken = Wording(Broken())
    assert broken.text("the last %(days)s days", days=28) == "the last 28 days"


def test_the_help_kinds_are_labelled_by_the_checkins_choices() -> None:
    labels = help_kind_labels(CHECKINS.library)
    assert labels == {
        "advice": "Advice or ideas",
        "money": "Lent money",
        "goods": "Lent goods or tools",
        "customers": "Sent customers",
        "work": "Worked together",
        "other": "Another way",
    }
    spanish = wording_for(CATALOGS, CHECKINS.library, "es")
    assert spanish.kind("advice") == "Consejos o ideas"
    assert spanish.kinds(("money", "barter")) == "Prestar dinero, barter"  # an older kind
    assert wording_for(CATALOGS, CHECKINS.library, "en").kind("advice") == "Advice or ideas"
    assert PLAIN.kind("advice") == "advice"


def test_an_unknown_language_names_the_ones_there_are() -> None:
    with pytest.raises(UnknownLanguage) as raised:
        wording_for(CATALOGS, CHECKINS.library, "pt")
    assert str(raised.value) == 'no language "pt" in the catalogs; available: ' + ", ".join(
        CATALOGS.codes
    )


NOW = datetime(2026, 11, 9, 12, tzinfo=UTC)


def _report() -> EvidenceReport:
    """A small report by hand: one of each figure, and a kind no definition knows."""
    sales = Change(
        "sales", "KES", 2, 1, 0, Decimal("100"), Decimal("150"), Decimal("50"), 1,
        Decimal("0.5"), (Decimal("20"), Decimal("80")), _change_method("sales"),
    )  # fmt: skip
    income = Change(
        "household_income", "KES", 1, 0, 0, Decimal("900"), Decimal("1000"), Decimal("100"), 1,
        Decimal("1"), (Decimal("100"),), _journal_method("household_income"),
    )  # fmt: skip
    return EvidenceReport(
        group="Kibera",
        since=date(2026, 8, 1),
        generated_at=NOW,
        participation=Participation(
            (
                Count("enrolled", "members enrolled", 5, ENROLLED_METHOD),
                Count("active", "active (last 28 days)", 3, ACTIVE_METHOD),
            ),
            (WeekParticipation("2026-W32", 4, 5, 1, Decimal("1.25")),),
        ),
        business=(sales,),
        household=(income,),
        mutuality=Mutuality(
            weeks=(
                HelpWeek("2026-W33", "advice", 2, 1, 1),
                HelpWeek("2026-W34", "barter", 1, 1, 0),
            ),
            totals=(HelpKindTotal("advice", 2, 1, 1), HelpKindTotal("barter", 1, 1, 0)),
            reciprocity=(Count("gave", "members who gave help", 2, RECIPROCITY_METHOD),),
            network=(NetworkEdge("Kibera", 1, "Amina", 2, "Baraka", 3, ("advice", "barter")),),
        ),
        notes=(WEEK_METHOD,),
    )


def _sheets(data: bytes) -> dict[str, list[tuple[object, ...]]]:
    workbook = load_workbook(io.BytesIO(data))
    return {name: list(workbook[name].values) for name in workbook.sheetnames}


def test_the_plain_files_keep_the_stored_names_and_the_english() -> None:
    report = _report()
    sheets = _sheets(evidence_files.to_xlsx(report))
    assert list(sheets) == [
        "summary", "participation", "business", "household", "change distribution",
        "help per week", "help network", "methods",
    ]  # fmt: skip
    assert sheets["summary"][4] == ("members enrolled", 5, str(ENROLLED_METHOD))
    assert sheets["help per week"][1][:2] == ("2026-W33", "advice")
    assert sheets["help network"][1][-1] == "advice, barter"
    assert sheets["business"][1][1] == "sales"
    text = evidence_files.to_text(report)
    assert text.startswith("Evidence for Kibera since 2026-08-01 (made 2026-11-09 12:00 UTC)\n")
    assert f"How (active (last 28 days)): {ACTIVE_METHOD}\n" in text
    assert "\nadvice " in text and "\nbarter " in text


def test_the_spreadsheet_in_spanish() -> None:
    spanish = wording_for(CATALOGS, CHECKINS.library, "es")
    sheets = _sheets(evidence_files.to_xlsx(_report(), spanish))
    assert list(sheets)[:3] == ["resumen", "participación", "negocio"]
    summary = sheets["resumen"]
    assert summary[0] == ("cifra", "valor", "cómo se calcula")
    assert summary[4] == ("Miembros inscritos", 5, ENROLLED_METHOD.render(spanish.text))
    active = summary[5]
    assert active[0] == "Miembros activos" and "últimos 28 días" in str(active[2])
    business = sheets["negocio"]
    assert business[0][:2] == ("moneda", "medida")
    assert business[1][1] == "Ventas"
    assert str(business[1][-1]).startswith("Por miembro, a partir de la respuesta semanal de")
    help_weeks = sheets["ayuda por semana"]
    assert help_weeks[0][:2] == ("semana", "tipo")
    assert [row[1] for row in help_weeks[1:]] == ["Consejos o ideas", "barter"]
    assert sheets["red de ayuda"][1][-1] == "Consejos o ideas, barter"
    methods = {row[0]: row[1] for row in sheets["métodos"][1:]}
    assert methods["Ventas (KES)"] == _change_method("sales").render(spanish.text)
    assert methods["nota"] == WEEK_METHOD.render(spanish.text)
    # the money and percent formats follow the translated headers
    workbook = load_workbook(io.BytesIO(evidence_files.to_xlsx(_report(), spanish)))
    header = [cell.value for cell in workbook["negocio"][1]]
    row = workbook["negocio"][2]
    assert row[header.index("mediana de línea de base")].number_format == "#,##0.00"
    assert row[header.index("proporción que mejoró")].number_format == "0.0%"


@pytest.mark.parametrize("code", CATALOGS.codes)
def test_every_language_names_its_sheets_as_excel_allows(code: str) -> None:
    wording = wording_for(CATALOGS, CHECKINS.library, code)
    names = list(_sheets(evidence_files.to_xlsx(_report(), wording)))
    assert len(set(names)) == 8
    for name in names:
        assert len(name) <= evidence_files.SHEET_TITLE_LENGTH, name
        assert not set(name) & set("\\*?:/[]"), name
    if code != "en":
        assert "summary" not in names


def test_a_sheet_title_a_translation_made_too_long_is_cut_to_fit() -> None:
    class Long:
        def gettext(self, message: str) -> str:
            return f"{message}: un nombre [demasiado] largo para una hoja"

        def pgettext(self, context: str, message: str) -> str:
            return message

    names = list(_sheets(evidence_files.to_xlsx(_report(), Wording(Long()))))
    assert names[0] == "summary- un nombre -demasiado-"
    assert all(len(name) <= 31 for name in names)


def test_the_text_in_swahili() -> None:
    swahili = wording_for(CATALOGS, CHECKINS.library, "sw")
    text = evidence_files.to_text(_report(), swahili)
    assert text.startswith("Ushahidi wa Kibera tangu 2026-08-01 (umetengenezwa 2026-11-09 12:00")
    assert "\nUSHIRIKI\n" in text
    assert "Ushauri au mawazo" in text and "barter" in text
    assert f"Jinsi (Wanachama hai): {ACTIVE_METHOD.render(swahili.text)}\n" in text
    assert "Members who" not in text


def test_json_is_english_whatever_the_reader() -> None:
    plain = evidence_files.to_json(_report())
    assert f'"method": "{ENROLLED_METHOD}"'.encode() in plain
    assert b'"kind": "advice"' in plain
    assert b'"notes": [\n    "Weeks run Monday to Sunday' in plain


def test_english_reading_labels_kinds_but_keeps_the_english_words() -> None:
    english = Wording(IDENTITY, help_kind_labels(CHECKINS.library))
    sheets = _sheets(evidence_files.to_xlsx(_report(), english))
    assert sheets["summary"][4] == ("Members enrolled", 5, str(ENROLLED_METHOD))
    assert sheets["help per week"][1][1] == "Advice or ideas"
    assert sheets["help per week"][2][1] == "barter"
