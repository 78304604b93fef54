"""`/console/reports` over HTTP, on every backend: who may open which report, that the page
and its downloads carry the figures `build_report` computes (the figures themselves are checked
against the plan in tests/reports), the FLOIP and research exports, and the audit log."""

from __future__ import annotations

import csv
import io
import re
import tempfile
import zipfile
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from babel import Locale
from markupsafe import escape
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.i18n.catalogs import load_catalogs
from bot.reports import evidence_files
from bot.reports.evidence import (
    ACTIVE_METHOD,
    ENROLLED_METHOD,
    HELP_METHOD,
    NETWORK_METHOD,
    WEEKS_METHOD,
    EvidenceReport,
    build_report,
)
from bot.reports.wording import (
    COUNT_LABELS,
    MEASURE_LABELS,
    Wording,
    help_kind_labels,
    wording_for,
)
from bot.turns.checkins import load_checkins
from bot.web.console.reports import SHORT_RESEARCH_KEY, Formats, research_refusal
from conversations.i18n import IDENTITY
from storage.models import Answer, AuditEntry
from tests.console.reports_seed import ReportsConsole, reports_console
from tests.console.seed import sign_in
from tests.reports.plan import NOW, wednesday

DOWNLOADS = ("evidence.xlsx", "evidence.json", "floip.zip", "research.zip")
FORMATS = Formats(Locale.parse("en"))
CHECKINS = load_checkins(load_catalogs())
KIND_LABELS = help_kind_labels(CHECKINS.library)


@pytest.fixture
async def console(database_url: str) -> AsyncIterator[ReportsConsole]:
    async with reports_console(database_url) as built:
        yield built


async def _audit(console: ReportsConsole) -> list[tuple[int | None, str, str | None]]:
    async with console.runtime.database.read() as uow:
        rows = await uow.session.execute(
            select(AuditEntry.staff_id, AuditEntry.action, AuditEntry.detail)
            .where(AuditEntry.action != "sign_in")
            .order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def _report(
    console: ReportsConsole, group: str | None = None, since: date | None = None
) -> EvidenceReport:
    return await build_report(
        console.runtime.database,
        group_id=console.people.groups[group] if group else None,
        group_name=group,
        since=since,
        now=NOW,
    )


def _flat(html: str) -> str:
    return re.sub(r">\s+<", "><", html)


async def test_without_a_session_reports_and_downloads_redirect_to_sign_in(
    console: ReportsConsole,
) -> None:
    for path in ("reports", *(f"reports/{name}" for name in DOWNLOADS)):
        response = await console.client.get(f"/console/{path}")
        assert response.status_code == 303, path
        assert response.headers["location"] == "/console/login"


async def test_the_staff_role_has_no_reports(console: ReportsConsole) -> None:
    await sign_in(console.client, "sam@example.org")
    home = await console.client.get("/console/")
    assert 'href="/console/reports"' not in home.text
    kibera = console.people.groups["Kibera"]
    for path in ("reports", *(f"reports/{name}" for name in DOWNLOADS)):
        response = await console.client.get(f"/console/{path}?group={kibera}")
        assert response.status_code == 403, path
        assert "Your role cannot open this page." in response.text
    assert await _audit(console) == []


async def test_a_coordinator_gets_their_group_and_404_for_any_other(
    console: ReportsConsole,
) -> None:
    await sign_in(console.client, "juan@example.org")
    home = await console.client.get("/console/")
    assert 'href="/console/reports"' in home.text
    page = await console.client.get("/console/reports")
    assert page.status_code == 200
    assert "<h1>Reports: Kibera</h1>" in page.text
    assert "Whole program" not in page.text  # no program-wide choice
    assert "Mombasa" not in page.text
    mombasa = console.people.groups["Mombasa"]
    for wanted in (str(mombasa), "999999", "abc", "-1", "²", f" {mombasa}"):
        for path in ("reports", *(f"reports/{name}" for name in DOWNLOADS)):
            response = await console.client.get(f"/console/{path}", params={"group": wanted})
            assert response.status_code == 404, (path, wanted)
            assert "No such group." in response.text
    kibera = console.people.groups["Kibera"]
    assert await _audit(console) == [
        (console.people.kibera_coordinator, "report_view", f"group {kibera}")
    ]


async def test_a_coordinator_without_groups_is_told_so(console: ReportsConsole) -> None:
    async with console.runtime.database.transaction() as uow:
        await uow.staff.set_groups(console.people.mombasa_coordinator, [])
    await sign_in(console.client, "rosa@example.org")
    response = await console.client.get("/console/reports")
    assert response.status_code == 404
    assert "You have no groups yet" in response.text


async def test_the_page_shows_every_figure_of_the_report_with_its_method(
    console: ReportsConsole,
) -> None:
    await sign_in(console.client, "grace@example.org")
    response = await console.client.get("/console/reports")
    assert response.status_code == 200
    html = _flat(response.text)
    report = await _report(console)
    assert "<h1>Reports: Whole program</h1>" in html
    for count in (*report.participation.counts, *report.mutuality.reciprocity):
        row = (
            f'<th scope="row">{COUNT_LABELS[count.key]}</th><td class="num">{count.value}</td>'
            f'<td class="method">{escape(str(count.method))}</td>'
        )
        assert row in html, count
    for week in report.participation.weeks:
        row = (
            f'<th scope="row">{week.week}</th><td class="num">{week.invited}</td>'
            f'<td class="num">{week.completed}</td>'
            f'<td class="num">{FORMATS.percent(week.response_rate)}</td>'
            f'<td class="num">{week.reminders}</td>'
        )
        assert row in html, week
    assert escape(str(report.participation.weeks_method)) in html
    assert len(report.business) >= 8 and len(report.household) >= 2  # KES and USD
    sections = [("business", c) for c in report.business]
    sections += [("household", c) for c in report.household]
    for section, change in sections:
        row = (
            f'<th scope="row">{MEASURE_LABELS[change.measure]}</th>'
            f'<td class="num">{change.members}</td><td class="num">{change.too_few}</td>'
            f'<td class="num">{change.mixed_currency}</td>'
            f'<td class="num">{FORMATS.amount(change.baseline_median)}</td>'
            f'<td class="num">{FORMATS.amount(change.now_median)}</td>'
            f'<td class="num">{FORMATS.amount(change.median_change)}</td>'
            f'<td class="num">{change.improved} ({FORMATS.percent(change.share_improved)})</td>'
        )
        assert row in html, change
        chart = f'id="{section}-{change.currency.lower()}-{change.measure}"'
        assert (chart in html) == bool(change.changes), chart
        assert escape(str(change.method)) in html
    mixed = next(c for c in report.business if c.mixed_currency)  # Grace changed currency
    assert f"{mixed.mixed_currency} in mixed currencies" in html
    for total in report.mutuality.totals:
        row = (
            f'<th scope="row">{KIND_LABELS[total.kind]}</th><td class="num">{total.records}</td>'
            f'<td class="num">{total.reported_by_giver}</td>'
            f'<td class="num">{total.reported_by_receiver}</td>'
        )
        assert row in html, total
    assert escape(str(report.mutuality.help_method)) in html
    assert html.count('lang="en"') == 1  # the page's own: no text is set apart as English
    # the whole program draws no network: it would put every group's names on one page
    assert 'id="network"' not in html and "Choose a group to see who helped whom" in html
    assert 'role="img"' in html and 'id="trend"' in html


async def test_a_groups_network_names_its_members_only_to_that_groups_coordinator(
    console: ReportsConsole,
) -> None:
    await sign_in(console.client, "juan@example.org")
    kibera = (await console.client.get("/console/reports")).text
    assert 'id="network"' in kibera
    for name in ("Amina", "Baraka", "Chausiku", "Esther"):  # Esther helped while in Kibera
        assert name in kibera
    for name in ("Fatuma", "Grace", "Hassan"):  # Mombasa's members
        assert name not in kibera
    json_file = (await console.client.get("/console/reports/evidence.json")).text
    assert "Amina" in json_file and "Fatuma" not in json_file

    console.client.cookies.clear()
    await sign_in(console.client, "rosa@example.org")
    mombasa = (await console.client.get("/console/reports")).text
    assert "<h1>Reports: Mombasa</h1>" in mombasa
    assert "Fatuma" in mombasa and "Esther" in mombasa
    for name in ("Amina", "Baraka", "Chausiku"):
        assert name not in mombasa


async def test_the_downloads_are_the_reports_files_and_are_audited(
    console: ReportsConsole,
) -> None:
    await sign_in(console.client, "grace@example.org")
    kibera = console.people.groups["Kibera"]
    since = date(2026, 9, 1)
    params = {"group": str(kibera), "since": since.isoformat()}
    report = await _report(console, "Kibera", since)

    as_json = await console.client.get("/console/reports/evidence.json", params=params)
    assert as_json.status_code == 200
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.headers["content-disposition"] == (
        f'attachment; filename="evidence-group-{kibera}-since-2026-09-01.json"'
    )
    assert as_json.content == evidence_files.to_json(report)

    as_xlsx = await console.client.get("/console/reports/evidence.xlsx", params=params)
    assert as_xlsx.status_code == 200
    assert as_xlsx.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    served = load_workbook(io.BytesIO(as_xlsx.content))
    english = Wording(IDENTITY, KIND_LABELS)  # the page's language: kinds by their labels
    expected = load_workbook(io.BytesIO(evidence_files.to_xlsx(report, english)))
    assert served.sheetnames == expected.sheetnames
    for name in expected.sheetnames:
        assert list(served[name].values) == list(expected[name].values), name

    page = await console.client.get("/console/reports", params=params)
    assert "From 2026-09-01 to now." in page.text
    assert f"evidence.xlsx?group={kibera}&amp;since=2026-09-01" in page.text
    admin = console.people.admin
    assert await _audit(console) == [
        (admin, "report_json", f"group {kibera} since 2026-09-01"),
        (admin, "report_xlsx", f"group {kibera} since 2026-09-01"),
        (admin, "report_view", f"group {kibera} since 2026-09-01"),
    ]


async def test_a_since_that_is_not_a_date_is_refused(console: ReportsConsole) -> None:
    await sign_in(console.client, "grace@example.org")
    for since in ("2026-13-01", "yesterday", "2026-9-1", "2026-09-01T00:00"):
        response = await console.client.get("/console/reports", params={"since": since})
        assert response.status_code == 400, since
        assert "Since must be a date, like 2026-08-03." in response.text
    assert await _audit(console) == []


async def _answers_in(console: ReportsConsole, group: str, checkin_id: str) -> int:
    async with console.runtime.database.read() as uow:
        return int(
            await uow.session.scalar(
                select(func.count()).where(
                    Answer.group_id == console.people.groups[group],
                    Answer.checkin_id == checkin_id,
                )
            )
            or 0
        )


async def test_a_coordinator_exports_their_groups_flow_results_packages(
    console: ReportsConsole,
) -> None:
    await sign_in(console.client, "juan@example.org")
    response = await console.client.get("/console/reports/floip.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    kibera = console.people.groups["Kibera"]
    assert f'filename="floip-group-{kibera}.zip"' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == [
        "monthly_journal/datapackage.json",
        "monthly_journal/monthly_journal-responses.csv",
        "weekly_checkin/datapackage.json",
        "weekly_checkin/weekly_checkin-responses.csv",
    ]
    for checkin_id in ("weekly_checkin", "monthly_journal"):
        rows = list(
            csv.reader(
                io.StringIO(archive.read(f"{checkin_id}/{checkin_id}-responses.csv").decode())
            )
        )
        assert rows[0][:2] == ["timestamp", "row_id"]
        assert len(rows) - 1 == await _answers_in(console, "Kibera", checkin_id)
    assert await _audit(console) == [
        (console.people.kibera_coordinator, "export_floip", f"group {kibera}")
    ]


async def test_the_research_export_is_anonymised_and_audited(console: ReportsConsole) -> None:
    await sign_in(console.client, "grace@example.org")
    page = await console.client.get("/console/reports")
    assert 'action="/console/reports/research.zip"' in page.text
    response = await console.client.get("/console/reports/research.zip", params={"text": "yes"})
    assert response.status_code == 200
    assert 'filename="research-program.zip"' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["README.txt", "answers.csv", "help.csv", "suppressed.csv"]
    everything = b"".join(archive.read(name) for name in archive.namelist()).decode()
    for name in ("Amina", "Fatuma", "Kibera", "Mombasa", "+2547"):
        assert name not in everything
    assert "Free text (text answers, help notes) IS included" in everything
    answers = list(csv.DictReader(io.StringIO(archive.read("answers.csv").decode())))
    assert answers and all(re.fullmatch(r"m-[0-9a-f]{16}", row["member"]) for row in answers)
    (line,) = [row for row in await _audit(console) if row[1] == "export_research"]
    assert line[0] == console.people.admin
    assert re.fullmatch(r"all groups, \d+ answers, \d+ help records, with free text", line[2] or "")


async def test_without_a_research_key_the_export_is_refused_and_says_why(
    database_url: str,
) -> None:
    async with reports_console(database_url, research_key=None) as console:
        await sign_in(console.client, "grace@example.org")
        page = await console.client.get("/console/reports")
        assert "RESEARCH_EXPORT_KEY is not set" in page.text
        assert 'action="/console/reports/research.zip"' not in page.text
        response = await console.client.get("/console/reports/research.zip")
        assert response.status_code == 409
        assert "The research export is turned off: RESEARCH_EXPORT_KEY is not set." in response.text
        assert response.headers["content-type"].startswith("text/html")
        assert [row[1] for row in await _audit(console)] == ["report_view"]
    assert research_refusal("too short") == SHORT_RESEARCH_KEY
    assert research_refusal("x" * 16) is None


async def test_numbers_follow_the_readers_language(console: ReportsConsole) -> None:
    await sign_in(console.client, "grace@example.org")
    page = await console.client.get("/console/reports", headers={"accept-language": "es"})
    report = await _report(console)
    spanish = Formats(Locale.parse("es"))
    change = next(c for c in report.business if c.baseline_median)
    assert spanish.amount(change.baseline_median) in page.text
    assert spanish.amount(change.baseline_median) != FORMATS.amount(change.baseline_median)
    assert FORMATS.amount(Decimal("1234.5")) == "1,234.50"


async def test_the_page_reads_in_every_shipped_language(console: ReportsConsole) -> None:
    await sign_in(console.client, "juan@example.org")
    headings = {"es": "Informes", "fil": "Mga ulat", "sw": "Ripoti", "fr": "Rapports"}
    for language, heading in headings.items():
        page = await console.client.get("/console/reports", headers={"accept-language": language})
        assert page.status_code == 200
        assert f'<html lang="{language}">' in page.text
        assert f"<h1>{heading}: Kibera</h1>" in page.text
        assert 'role="img"' in page.text


async def test_names_are_escaped_in_the_page_and_its_charts(console: ReportsConsole) -> None:
    async with console.runtime.database.transaction() as uow:
        await uow.members.update(
            console.people.members["amina"], at=NOW, name='<script>alert("x")</script>'
        )
    await sign_in(console.client, "juan@example.org")
    page = (await console.client.get("/console/reports")).text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page  # the network's table
    assert '<title>&lt;script&gt;alert("x")&lt;/script&gt;</title>' in page  # the SVG


async def test_export_files_are_removed_once_sent(
    console: ReportsConsole, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "temporary"
    workspace.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(workspace))
    await sign_in(console.client, "grace@example.org")
    for name in ("floip.zip", "research.zip"):
        response = await console.client.get(f"/console/reports/{name}")
        assert response.status_code == 200 and response.content[:2] == b"PK"
    assert list(workspace.iterdir()) == []


async def test_methods_and_kinds_of_help_read_in_the_readers_language(
    console: ReportsConsole,
) -> None:
    """A coordinator reading in Spanish gets every method and kind of help in Spanish, on the
    page and in the spreadsheet downloaded from it; a kind that no check-in defines any more
    keeps its stored name; the JSON stays English."""
    people = console.people
    async with console.runtime.database.transaction() as uow:
        await uow.help.add(
            giver_id=people.members["baraka"],
            receiver_id=people.members["chausiku"],
            group_id=people.groups["Kibera"],
            kind="barter",  # from an older weekly check-in
            session_id=None,
            reported_by_id=people.members["baraka"],
            at=wednesday(4, 11),
        )
    spanish = wording_for(CHECKINS.catalogs, CHECKINS.library, "es")
    await sign_in(console.client, "juan@example.org")
    es = {"accept-language": "es-MX,es;q=0.9"}
    html = _flat((await console.client.get("/console/reports", headers=es)).text)
    report = await _report(console, "Kibera")

    active = ACTIVE_METHOD.render(spanish.text)
    assert "últimos 28 días" in active
    assert f'<td class="method">{escape(active)}</td>' in html
    for method in (WEEKS_METHOD, HELP_METHOD, NETWORK_METHOD, report.business[0].method):
        assert escape(method.render(spanish.text)) in html, method.message
    assert escape(str(ENROLLED_METHOD)) not in html and 'lang="en"' not in html
    assert '<th scope="row">Consejos o ideas</th><td class="num">2</td>' in html
    assert '<th scope="row">barter</th><td class="num">1</td>' in html
    assert "<td>Prestar dinero</td>" in html  # per week
    assert "<td>barter, Prestar dinero</td>" in html  # Baraka to Chausiku, in the network
    assert ">advice<" not in html and ">money<" not in html

    xlsx = await console.client.get("/console/reports/evidence.xlsx", headers=es)
    served = load_workbook(io.BytesIO(xlsx.content))
    expected = load_workbook(io.BytesIO(evidence_files.to_xlsx(report, spanish)))
    assert served.sheetnames == expected.sheetnames
    assert served.sheetnames[0] == "resumen"
    for name in expected.sheetnames:
        assert list(served[name].values) == list(expected[name].values), name
    summary = list(served["resumen"].values)
    assert summary[0] == ("cifra", "valor", "cómo se calcula")
    active_count = report.participation.count("active")
    assert ("Miembros activos", active_count, active) in summary
    kinds = [row[1] for row in list(served["ayuda por semana"].values)[1:]]
    assert "Consejos o ideas" in kinds and "barter" in kinds and "advice" not in kinds

    as_json = await console.client.get("/console/reports/evidence.json", headers=es)
    assert as_json.content == evidence_files.to_json(report)
    assert b'"kind": "barter"' in as_json.content and b'"kind": "advice"' in as_json.content
