"""`mutuality report evidence` writes the report as text, JSON and XLSX, from a SQLite file
named by DATABASE_URL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook

from bot.cli import main
from storage import Database

from .plan import program, seed


def _seeded(tmp_path: Path) -> CliRunner:
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    async def work() -> None:
        database = Database(url)
        try:
            await database.upgrade()
            async with database.transaction() as uow:
                await seed(uow, program())
        finally:
            await database.dispose()

    asyncio.run(work())
    return CliRunner(env={"DATABASE_URL": url})


def test_json_carries_every_figure_with_its_method(tmp_path: Path) -> None:
    runner = _seeded(tmp_path)
    result = runner.invoke(main, ["report", "evidence", "--group", "kibera", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["group"] == "Kibera"
    sales = next(c for c in report["business"] if (c["currency"], c["measure"]) == ("KES", "sales"))
    assert (sales["members"], sales["too_few"], sales["median_change"]) == (2, 1, "187.5")
    assert sales["method"].startswith("Per member, from the weekly sales answer")
    counts = {c["key"]: c["value"] for c in report["participation"]["counts"]}
    assert (counts["enrolled"], counts["left"]) == (5, 1)
    assert {e["giver"] for e in report["mutuality"]["network"]} == {
        "Amina", "Baraka", "Chausiku", "Esther",
    }  # fmt: skip


def test_since_leaves_out_what_came_before(tmp_path: Path) -> None:
    runner = _seeded(tmp_path)
    result = runner.invoke(
        main, ["report", "evidence", "--since", "2026-10-01", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["since"] == "2026-10-01"
    assert all(w["week"] >= "2026-W40" for w in report["participation"]["weeks"])
    assert report["mutuality"]["totals"] == []  # all help was before October


def test_text_and_xlsx(tmp_path: Path) -> None:
    runner = _seeded(tmp_path)
    text = runner.invoke(main, ["report", "evidence"])
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith("Evidence for the whole program (made ")
    for heading in ("PARTICIPATION", "BUSINESS CHANGE", "HOUSEHOLD CHANGE", "MUTUALITY"):
        assert heading in text.stdout
    assert "How (profit): Per member, from sales minus costs" in text.stdout

    output = tmp_path / "evidence.xlsx"
    written = runner.invoke(
        main, ["report", "evidence", "--format", "xlsx", "--output", str(output)]
    )
    assert written.exit_code == 0, written.output
    workbook = load_workbook(output)
    assert workbook.sheetnames == [
        "summary", "participation", "business", "household", "change distribution",
        "help per week", "help network", "methods",
    ]  # fmt: skip
    business = list(workbook["business"].iter_rows(values_only=True))
    header, rows = business[0], business[1:]
    kes_sales = next(r for r in rows if r[:2] == ("KES", "sales"))
    assert kes_sales[header.index("members")] == 5
    assert kes_sales[header.index("how it is computed")].startswith("Per member, from")
    assert isinstance(kes_sales[header.index("median change")], int | float)


def test_xlsx_needs_a_file_and_an_unknown_group_is_an_error(tmp_path: Path) -> None:
    runner = _seeded(tmp_path)
    no_file = runner.invoke(main, ["report", "evidence", "--format", "xlsx"])
    assert no_file.exit_code == 2
    assert "--output" in no_file.output
    unknown = runner.invoke(main, ["report", "evidence", "--group", "Nowhere"])
    assert unknown.exit_code == 1
    assert 'no group is named or has the join code "Nowhere"' in unknown.output


def test_xlsx_in_spanish(tmp_path: Path) -> None:
    runner = _seeded(tmp_path)
    output = tmp_path / "evidencia.xlsx"
    written = runner.invoke(
        main,
        ["report", "evidence", "--group", "kibera", "--language", "es", "--format", "xlsx",
         "--output", str(output)],
    )  # fmt: skip
    assert written.exit_code == 0, written.output
    workbook = load_workbook(output)
    assert workbook.sheetnames == [
        "resumen", "participación", "negocio", "hogar", "distribución del cambio",
        "ayuda por semana", "red de ayuda", "métodos",
    ]  # fmt: skip
    business = list(workbook["negocio"].iter_rows(values_only=True))
    header, rows = business[0], business[1:]
    assert header[:4] == ("moneda", "medida", "miembros", "muy pocos")
    kes_sales = next(r for r in rows if r[:2] == ("KES", "Ventas"))
    assert kes_sales[header.index("miembros")] == 2
    method = str(kes_sales[header.index("cómo se calcula")])
    assert method.startswith("Por miembro, a partir de la respuesta semanal de ventas: ")
    assert "primeros 4 registros semanales" in method and "menos de 8 semanas" in method
    summary = {row[0]: row for row in workbook["resumen"].iter_rows(values_only=True)}
    assert "últimos 28 días" in str(summary["Miembros activos"][2])
    kinds = {row[1] for row in list(workbook["ayuda por semana"].values)[1:]}
    assert kinds == {"Consejos o ideas", "Prestar dinero", "Prestar cosas o herramientas",
                     "Mandar clientes"}  # fmt: skip


def test_text_in_filipino_and_english_unchanged_without_a_language(tmp_path: Path) -> None:
    runner = _seeded(tmp_path)
    filipino = runner.invoke(main, ["report", "evidence", "--language", "fil"])
    assert filipino.exit_code == 0, filipino.output
    assert filipino.stdout.startswith("Ebidensiya para sa buong programa (ginawa ")
    assert "\nPAGLAHOK\n" in filipino.stdout and "Payo o ideya" in filipino.stdout
    assert "Paano (Mga aktibong miyembro): Mga miyembrong sumagot" in filipino.stdout
    plain = runner.invoke(main, ["report", "evidence"])
    assert "How (active (last 28 days)): Members who answered at least one question" in (
        plain.stdout
    )
    assert "\nadvice " in plain.stdout and "Advice or ideas" not in plain.stdout


def test_an_unknown_language_is_refused_with_the_ones_there_are(tmp_path: Path) -> None:
    runner = _seeded(tmp_path)
    unknown = runner.invoke(main, ["report", "evidence", "--language", "pt"])
    assert unknown.exit_code == 2
    assert 'no language "pt" in the catalogs; available: en, es, fil, sw, fr' in unknown.output
    as_json = runner.invoke(main, ["report", "evidence", "--language", "es", "--format", "json"])
    assert as_json.exit_code == 2
    assert "JSON is always in English" in as_json.output
