"""Importing a whole program's roster: `mutuality members import --apply` on 1,000 and 10,000
members, on SQLite and PostgreSQL, in seconds and peak memory.

Each case runs in a child process of its own (so that its peak RSS is its own) against a
scratch database made for it and removed after it: an SQLite file in a temporary folder, or a
PostgreSQL database created next to `--database-url` and dropped (on errors too). The child
migrates the database, creates one peer group per eight members, writes a roster file of
`--members` members as an operator's spreadsheet would hold them (70% a phone alone, 20% a
phone and a Telegram id, 10% a Telegram id alone; five languages; each in a group), and times
what the command line does:

- `parse`: reading and checking the file (no database);
- `create`: one transaction that plans the file against the stored members and applies it,
  every member new (`plan` and `apply` inside it are printed too);
- `again`: the same file again, which changes nothing;
- `update`: every member renamed, one in eight moved to the next group, one in ten given a
  Telegram id, in one transaction as above.

After each write it counts the rows (members, addresses, current memberships) and fails if the
import did not leave exactly one of each it should. Then, in a second scratch database, the
console's two requests for the same file as an admin sends them (through the ASGI app, in
process, no network): the check (upload, report page) and the Apply, each timed, with the
status it answered (413 where the console refuses a file that large). Peak RSS
(`resource.getrusage`, interpreter and imports included) is printed with the RSS the child had
before the first import.

    python benchmarks/members_import.py             # 1,000 and 10,000 members, both backends
    python benchmarks/members_import.py --members 10000 --backend postgresql
    python benchmarks/members_import.py --json results.json

The PostgreSQL server is `--database-url` (default: TEST_DATABASE_URL, else the local postgres
database). The script uses only `bot.members.roster`'s parse, plan and apply, so it runs
unchanged against an older checkout of the project to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.scratch import scratch_database  # noqa: E402
from bot.members.roster import (  # noqa: E402
    Action,
    ImportPlan,
    apply_import,
    parse_members_csv,
    plan_import,
)
from bot.runtime import Runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.web.app import create_app  # noqa: E402
from bot.web.console.passwords import hash_password  # noqa: E402
from storage import Database  # noqa: E402

LANGUAGES = ("en", "es", "fil", "sw", "fr")
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GROUP_SIZE = 8
HEADER = "name,phone,telegram_id,group,language\n"
ADMIN, PASSWORD = "admin@example.org", "a benchmark's password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CONTENT = re.compile(r'name="content" value="([^"]+)"')


def roster(members: int, *, renamed: bool = False) -> str:
    """The roster file: member `n` has phone +254722 followed by n (a valid Kenyan mobile
    number), a Telegram id for 30% of them (alone for 10%), group `n // 8`. The `renamed`
    version renames everyone, moves one in eight to the next group and gives one in ten
    (of those with a phone alone) a Telegram id."""
    lines = [HEADER]
    groups = (members + GROUP_SIZE - 1) // GROUP_SIZE
    for n in range(members):
        kind = n % 10
        phone = f"+254722{n:06d}" if kind != 9 else ""
        telegram = str(7_000_000_000 + n) if kind >= 7 else ""
        group = n // GROUP_SIZE
        name = f"Member {n}"
        if renamed:
            name = f"Member {n} (renamed)"
            if n % GROUP_SIZE == 0:
                group = (group + 1) % groups
            if kind == 0:
                telegram = str(8_000_000_000 + n)
        lines.append(f"{name},{phone},{telegram},Group {group},{LANGUAGES[n % 5]}\n")
    return "".join(lines)


def expected_rows(members: int, *, renamed: bool) -> tuple[int, int, int]:
    """(members, addresses, current memberships) after importing `roster(members, renamed)`."""
    addresses = 0
    for n in range(members):
        kind = n % 10
        addresses += 2 if kind != 9 else 0
        addresses += 1 if kind >= 7 else 0
        if renamed and kind == 0:
            addresses += 1
    return members, addresses, members


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def counted(database: Database) -> tuple[int, int, int]:
    async with database.read() as uow:
        found = []
        for query in (
            "SELECT count(*) FROM members",
            "SELECT count(*) FROM addresses",
            "SELECT count(*) FROM memberships WHERE left_at IS NULL",
        ):
            found.append(int(await uow.session.scalar(text(query)) or 0))
        duplicates = await uow.session.scalar(
            text(
                "SELECT count(*) FROM (SELECT member_id FROM memberships WHERE left_at IS NULL "
                "GROUP BY member_id HAVING count(*) > 1) AS twice"
            )
        )
        if duplicates:
            raise AssertionError(f"{duplicates} members are in two groups at once")
    return found[0], found[1], found[2]


async def one_import(
    database: Database, content: str, at: datetime
) -> tuple[ImportPlan, dict[str, float]]:
    """Parse, then plan and apply in one transaction, as `mutuality members import --apply`."""
    began = time.perf_counter()
    parsed = parse_members_csv(content, LANGUAGES)
    parsed_at = time.perf_counter()
    if parsed.errors:
        raise AssertionError(f"the benchmark's file has errors: {parsed.errors[:3]}")
    async with database.transaction() as uow:
        started = time.perf_counter()
        plan = await plan_import(uow, parsed, languages=LANGUAGES, default_country="KE")
        planned = time.perf_counter()
        if plan.errors:
            raise AssertionError(f"the benchmark's plan has errors: {plan.errors[:3]}")
        await apply_import(uow, plan, at=at)
        applied = time.perf_counter()
    done = time.perf_counter()
    return plan, {
        "parse": parsed_at - began,
        "plan": planned - started,
        "apply": applied - planned,
        "transaction": done - started,
    }


async def create_groups(database: Database, members: int) -> None:
    async with database.transaction() as uow:
        for group in range((members + GROUP_SIZE - 1) // GROUP_SIZE):
            await uow.groups.create(
                f"Group {group}", "Africa/Nairobi", LANGUAGES[group % 5], "KES", at=T0
            )


def _token(pattern: re.Pattern[str], page: str) -> str:
    found = pattern.search(page)
    if found is None:
        raise AssertionError("the console's page lacks a form field it should have")
    return found.group(1)


async def console_import(url: str, content: str) -> dict[str, Any]:
    """The console's check and Apply of `content` into the empty database at `url`: seconds
    and status of each request."""
    settings = Settings(
        DATABASE_URL=url,
        CONSOLE_SECRET="a secret for the benchmark's cookies",
        _env_file=None,  # type: ignore[call-arg]
    )
    async with Runtime.open(settings, with_channels=False) as runtime:
        await create_groups(runtime.database, content.count("\n") - 1)
        async with runtime.database.transaction() as uow:
            admin = await uow.staff.add("Admin", "admin", email=ADMIN, at=T0)
            await uow.sign_in.set_password_hash(admin.id, hash_password(PASSWORD))
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://console.bench", timeout=600
        ) as client:
            login = await client.get("/console/login")
            await client.post(
                "/console/login",
                data={"login": ADMIN, "password": PASSWORD, "csrf_token": _token(CSRF, login.text)},
            )
            form = await client.get("/console/members/import")
            began = time.perf_counter()
            checked = await client.post(
                "/console/members/import",
                data={"csrf_token": _token(CSRF, form.text)},
                files={"file": ("members.csv", content.encode(), "text/csv")},
            )
            result: dict[str, Any] = {
                "check": time.perf_counter() - began,
                "check_status": checked.status_code,
                "page_bytes": len(checked.content),
            }
            if checked.status_code != 200:
                return result
            began = time.perf_counter()
            applied = await client.post(
                "/console/members/import/apply",
                data={
                    "csrf_token": _token(CSRF, checked.text),
                    "content": _token(CONTENT, checked.text),
                },
            )
            result["apply"] = time.perf_counter() - began
            result["apply_status"] = applied.status_code
            return result


async def case(backend: str, members: int, server: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "backend": backend,
        "members": members,
        "load_before": os.getloadavg(),
    }
    async with scratch_database(backend, server, "import") as url:
        database = Database(url)
        try:
            await database.upgrade()
            await create_groups(database, members)
            first, renamed = roster(members), roster(members, renamed=True)
            result["rss_before_mib"] = peak_rss_mib()
            steps = (
                ("create", first, Action.CREATE, False),
                ("again", first, Action.UNCHANGED, False),
                ("update", renamed, Action.UPDATE, True),
            )
            for index, (label, content, action, moved) in enumerate(steps):
                plan, seconds = await one_import(database, content, T0 + timedelta(hours=index))
                if plan.count(action) != members:
                    raise AssertionError(f"{label}: {plan.count(action)} {action}, not {members}")
                rows = await counted(database)
                if rows != expected_rows(members, renamed=moved):
                    raise AssertionError(
                        f"{label}: rows {rows}, expected {expected_rows(members, renamed=moved)}"
                    )
                result[label] = seconds
        finally:
            await database.dispose()
    async with scratch_database(backend, server, "import") as url:
        result["console"] = await console_import(url, roster(members))
    result["peak_rss_mib"] = peak_rss_mib()
    result["load_after"] = os.getloadavg()
    return result


def show(result: dict[str, Any]) -> None:
    label = f"{result['backend']:<10} {result['members']:>6,}"
    for step in ("create", "again", "update"):
        seconds = result[step]
        print(
            f"{label} {step:<7} parse {seconds['parse']:6.2f} s  plan {seconds['plan']:6.2f} s  "
            f"apply {seconds['apply']:7.2f} s  transaction {seconds['transaction']:7.2f} s",
            flush=True,
        )
    console = result["console"]
    page = console["page_bytes"] / 1e6
    said = f"check {console['check']:6.2f} s ({console['check_status']}, page {page:.1f} MB)"
    if "apply" in console:
        said += f"  apply {console['apply']:6.2f} s ({console['apply_status']})"
    print(f"{label} console {said}", flush=True)
    load = " ".join(f"{value:.2f}" for value in result["load_before"])
    print(
        f"{label} peak RSS {result['peak_rss_mib']:.0f} MiB (before the first import "
        f"{result['rss_before_mib']:.0f} MiB); load average before {load}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--members", type=int, action="append", help="default: 1000 and 10000")
    parser.add_argument(
        "--backend", choices=("sqlite", "postgresql"), action="append", help="default: both"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--case", nargs=2, metavar=("BACKEND", "MEMBERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case is not None:  # in the child: one case, its result as one JSON line
        backend, members = args.case[0], int(args.case[1])
        print(json.dumps(asyncio.run(case(backend, members, args.database_url))))
        return
    results = []
    for backend in args.backend or ("sqlite", "postgresql"):
        for members in args.members or (1000, 10000):
            command = [sys.executable, __file__, "--database-url", args.database_url]
            child = subprocess.run(
                [*command, "--case", backend, str(members)],
                check=True,
                stdout=subprocess.PIPE,  # the result; errors go to our standard error
                text=True,
            )
            result = json.loads(child.stdout.strip().splitlines()[-1])
            show(result)
            results.append(result)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
