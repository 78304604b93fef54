"""The `mutuality staff`, `stories` and `members` commands, end to end on an SQLite file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from storage import Database
from storage.records import StoryRecord

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # before anything the commands write now


class Cli:
    """Runs `mutuality` with DATABASE_URL pointed at a fresh SQLite file, in a temp folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = f"sqlite:///{folder / 'mutuality.db'}"
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True) -> Result:
        result = self.runner.invoke(main, list(args), env={"DATABASE_URL": self.url})
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        else:
            assert result.exit_code != 0, result.output
        return result

    def propose(self, member_address: str, text: str) -> StoryRecord:
        """A member's story, as the conversation engine would propose it."""

        async def work() -> StoryRecord:
            database = Database(self.url)
            try:
                async with database.transaction() as uow:
                    member = await uow.members.by_address("whatsapp", member_address)
                    assert member is not None
                    group = await uow.members.current_group(member.id)
                    group_id = group.id if group else None
                    return await uow.stories.propose(member.id, group_id, None, text, T0)
            finally:
                await database.dispose()

        return asyncio.run(work())

    def story(self, story_id: int) -> StoryRecord:
        """Story `story_id` as the database holds it now."""

        async def work() -> StoryRecord | None:
            database = Database(self.url)
            try:
                async with database.transaction() as uow:
                    return await uow.stories.get(story_id)
            finally:
                await database.dispose()

        found = asyncio.run(work())
        assert found is not None
        return found


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Commands run in `tmp_path` (so no `.env` is read and files land there)."""
    monkeypatch.chdir(tmp_path)
    return Cli(tmp_path)


def test_staff_add_list_and_duplicates(cli: Cli) -> None:
    added = cli(
        "staff",
        "add",
        "Grace",
        "--role",
        "coordinator",
        "--phone",
        "+254 700 000001",
        "--telegram",
        "6000000001",
    )
    assert added.output == "Added staff #1 Grace (coordinator).\n"
    cli("staff", "add", "Bob", "--role", "staff", "--telegram", "6000000002")

    listed = cli("staff", "list").output.splitlines()
    assert listed[0].split() == ["id", "role", "phone", "telegram", "name"]
    assert listed[1].split() == ["1", "coordinator", "+254700000001", "6000000001", "Grace"]
    assert listed[2].split() == ["2", "staff", "-", "6000000002", "Bob"]

    duplicate = cli(
        "staff", "add", "Other", "--role", "staff", "--phone", "+254700000001", ok=False
    )
    assert (
        "the phone +254700000001 already belongs to staff #1 Grace (coordinator)"
        in duplicate.stderr
    )
    same_name = cli("staff", "add", "bob", "--role", "admin", "--telegram", "1", ok=False)
    assert 'the name "bob" already belongs to staff #2 Bob (staff)' in same_name.stderr
    no_plus = cli("staff", "add", "Ann", "--role", "staff", "--phone", "0700000001", ok=False)
    assert "must start with + and the country code" in no_plus.stderr
    neither = cli("staff", "add", "Ann", "--role", "staff", ok=False)
    assert "give --phone, --telegram or --email" in neither.stderr
    assert len(cli("staff", "list").output.splitlines()) == 3


def test_an_empty_staff_list_says_how_to_add(cli: Cli) -> None:
    assert "mutuality staff add" in cli("staff", "list").output


def test_moderating_stories(cli: Cli) -> None:
    code = cli(
        "groups",
        "create",
        "Kibera Market Peers",
        "--timezone",
        "Africa/Nairobi",
        "--currency",
        "KES",
        "--language",
        "sw",
    ).output.split()[-1]
    cli("staff", "add", "Grace", "--role", "coordinator", "--phone", "+254700000001")
    cli("staff", "add", "Bob", "--role", "coordinator", "--telegram", "6000000002")
    roster = Path("roster.csv")
    roster.write_text(f"name,phone,telegram_id,group,language\nAmina,+254712345678,,{code},sw\n")
    cli("members", "import", str(roster), "--apply")
    long_text = "I bought a freezer and now sell cold drinks at the bus stage every evening."
    story = cli.propose("+254712345678", long_text)
    cli.propose("+254712345678", "x" * 1001)

    listed = cli("stories", "list", "--status", "proposed").output.splitlines()
    assert listed[0].split() == ["id", "status", "group", "by", "created", "(UTC)", "text"]
    assert "Kibera Market Peers" in listed[1] and "Amina" in listed[1]
    assert "2025-01-06 09:00" in listed[1]
    assert listed[1].endswith(long_text[:59] + "…")

    assert cli("stories", "approve", str(story.id), "--by", "grace").output == (
        f"Story #{story.id} approved by Grace.\n"
    )
    again = cli("stories", "approve", str(story.id), "--by", "+254 700 000001", ok=False)
    assert f"story #{story.id} cannot be approved: it is already approved" in again.stderr
    assert "rejected by Bob" in cli("stories", "reject", str(story.id), "--by", "6000000002").output
    assert "approved by Grace" in cli("stories", "approve", str(story.id), "--by", "1").output

    too_long = cli("stories", "approve", "2", "--by", "Grace", ok=False)
    assert "cannot be approved as it is: the story has 1,001 characters" in too_long.stderr
    Path("short.txt").write_text("I sold 40 crates this week!\n", encoding="utf-8")
    edited = cli("stories", "edit", "2", "--by", "Bob", "--text-file", "short.txt")
    assert "Story #2 edited by Bob; the original text is kept." in edited.output
    same = cli("stories", "edit", "2", "--by", "Bob", "--text", "I sold 40 crates this week!")
    assert "already has this text; nothing changed" in same.output
    cli("stories", "approve", "2", "--by", "Grace")

    added = cli("stories", "add", "--group", code.lower(), "--by", "Bob", "--text", "Welcome!")
    assert added.output == "Story #3 by Bob added to Kibera Market Peers, approved.\n"
    listed = cli("stories", "list", "--group", "kibera market peers").output.splitlines()
    assert [line.split()[:2] for line in listed[1:]] == [
        ["1", "approved"],
        ["2", "approved"],
        ["3", "approved"],
    ]
    assert "staff: Bob" in listed[3]
    assert cli("stories", "list", "--status", "rejected").output == "No stories match.\n"


def _group_with_roles_and_a_story(cli: Cli) -> tuple[str, StoryRecord]:
    """A group (its join code) with Amina in it and her proposed story; staff #1 Grace the
    coordinator, #2 Ada the admin and #3 Bob with the staff role."""
    code = cli(
        "groups", "create", "Tailors", "--timezone", "UTC", "--currency", "USD"
    ).output.split()[-1]
    cli("staff", "add", "Grace", "--role", "coordinator", "--phone", "+254700000001")
    cli("staff", "add", "Ada", "--role", "admin", "--phone", "+254700000003")
    cli("staff", "add", "Bob", "--role", "staff", "--telegram", "6000000002")
    Path("roster.csv").write_text(
        f"name,phone,telegram_id,group,language\nAmina,+254712345678,,{code},en\n"
    )
    cli("members", "import", "roster.csv", "--apply")
    return code, cli.propose("+254712345678", "I sold 40 crates this week!")


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_the_staff_role_cannot_moderate(cli: Cli, action: str) -> None:
    _, story = _group_with_roles_and_a_story(cli)
    refused = cli("stories", action, str(story.id), "--by", "Bob", ok=False)
    assert refused.exit_code == 1
    assert (
        "Error: Bob has the role staff: approving or rejecting a story takes a coordinator or "
        "an admin" in refused.stderr
    )
    assert cli.story(story.id) == story  # still proposed, no moderator recorded

    cli("stories", "approve", str(story.id), "--by", "Grace")
    approved = cli.story(story.id)
    again = cli("stories", action, str(story.id), "--by", "6000000002", ok=False)
    assert "Bob has the role staff" in again.stderr
    assert cli.story(story.id) == approved
    assert (approved.status, approved.moderated_by_id) == ("approved", 1)


def test_the_staff_role_still_lists_edits_and_adds(cli: Cli) -> None:
    code, story = _group_with_roles_and_a_story(cli)
    assert "I sold 40 crates this week!" in cli("stories", "list").output
    edited = cli("stories", "edit", str(story.id), "--by", "Bob", "--text", "I sold 41 crates!")
    assert f"Story #{story.id} edited by Bob" in edited.output
    added = cli("stories", "add", "--group", code, "--by", "Bob", "--text", "Welcome!")
    assert "by Bob added to Tailors, proposed: a coordinator or an admin approves it" in (
        added.output
    )
    assert cli.story(story.id).text == "I sold 41 crates!"
    assert cli.story(story.id).status == "proposed"
    bobs = cli.story(story.id + 1)
    assert (bobs.text, bobs.status, bobs.moderated_by_id) == ("Welcome!", "proposed", None)


@pytest.mark.parametrize(("who", "staff_id"), [("Grace", 1), ("Ada", 2)])
def test_coordinators_and_admins_moderate(cli: Cli, who: str, staff_id: int) -> None:
    _, story = _group_with_roles_and_a_story(cli)
    approved = cli("stories", "approve", str(story.id), "--by", who)
    assert approved.output == f"Story #{story.id} approved by {who}.\n"
    found = cli.story(story.id)
    assert (found.status, found.moderated_by_id) == ("approved", staff_id)
    rejected = cli("stories", "reject", str(story.id), "--by", who)
    assert rejected.output == f"Story #{story.id} rejected by {who}.\n"
    assert cli.story(story.id).status == "rejected"


def test_story_commands_refuse_bad_input(cli: Cli) -> None:
    cli("groups", "create", "Tailors", "--timezone", "UTC", "--currency", "USD")
    cli("staff", "add", "Grace", "--role", "coordinator", "--phone", "+254700000001")
    long_story = cli(
        "stories", "add", "--group", "Tailors", "--by", "Grace", "--text", "y" * 1001, ok=False
    )
    assert "the story has 1,001 characters; at most 1,000 fit" in long_story.stderr
    assert "shorten it by 1" in long_story.stderr
    both = cli("stories", "add", "--group", "Tailors", "--by", "Grace", ok=False)
    assert "either --text or --text-file" in both.stderr
    nobody = cli("stories", "add", "--group", "Tailors", "--by", "Nobody", "--text", "Hi", ok=False)
    assert 'no staff user is named "Nobody"' in nobody.stderr
    no_group = cli("stories", "add", "--group", "Bakers", "--by", "Grace", "--text", "Hi", ok=False)
    assert 'no group is named or has the join code "Bakers"' in no_group.stderr
    missing = cli("stories", "approve", "42", "--by", "Grace", ok=False)
    assert "no story #42" in missing.stderr
    assert cli("stories", "list").output == "No stories yet.\n"


def test_members_import_and_export(cli: Cli) -> None:
    code = cli(
        "groups",
        "create",
        "Kibera Market Peers",
        "--timezone",
        "Africa/Nairobi",
        "--currency",
        "KES",
        "--language",
        "sw",
    ).output.split()[-1]
    Path("members.csv").write_text(
        "name,phone,telegram_id,group,language\n"
        f"Amina,+254712345678,,{code},sw\n"
        "Juan,,7000000001,Kibera Market Peers,es\n",
        encoding="utf-8",
    )
    dry = cli("members", "import", "members.csv")
    assert dry.output.splitlines() == [
        "line 2: create: new member Amina, language sw, in Kibera Market Peers",
        "line 3: create: new member Juan, language es, in Kibera Market Peers",
        "Dry run: would create 2 members, update 0, unchanged 0, errors 0.",
        "Nothing was written; run again with --apply to write.",
    ]
    assert "0 members" not in cli("export", "answers").output  # the database is usable
    assert cli("members", "export").output.count("\n") == 1  # a dry run wrote nothing
    applied = cli("members", "import", "members.csv", "--apply")
    assert applied.output.splitlines()[-1] == "Created 2 members, updated 0, unchanged 0."
    assert cli("members", "import", "members.csv", "--apply").output == (
        "Created 0 members, updated 0, unchanged 2.\n"
    )

    exported = cli("members", "export", "--output", "roster.csv")
    assert "Wrote 2 members to roster.csv" in exported.stderr
    data = Path("roster.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfname,phone,telegram_id,group,language,member_id")
    assert cli("members", "import", "roster.csv").output.splitlines()[0] == (
        "Dry run: would create 0 members, update 0, unchanged 2, errors 0."
    )
    assert cli("members", "export").output.splitlines()[1:] == [
        "Amina,+254712345678,,Kibera Market Peers,sw,1,no,no",
        "Juan,,7000000001,Kibera Market Peers,es,2,no,no",
    ]


def test_members_import_of_a_bad_file_writes_nothing(cli: Cli) -> None:
    cli("groups", "create", "Tailors", "--timezone", "UTC", "--currency", "USD")
    Path("bad.csv").write_text(
        "name,phone,telegram_id,group,language\n"
        "Good,+254712345678,,Tailors,en\n"
        "No plus,254722000111,,Tailors,en\n"
        "Lost,+254733000000,,Bakers,en\n",
        encoding="utf-8",
    )
    for extra in ([], ["--apply"]):
        result = cli("members", "import", "bad.csv", *extra, ok=False)
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            'bad.csv: line 3: phone "254722000111" must start with + and the country code, like '
            "+254712345678: it is no valid number in Tailors's country (from its time zone, "
            "UTC) either",
            'bad.csv: line 4: unknown group "Bakers": use a group\'s name or join code '
            "(mutuality groups list shows them)",
            "Error: 2 lines have errors; nothing was written. Fix them and run again.",
        ]
        assert "would create 1 members, update 0, unchanged 0, errors 2" in result.output
    assert cli("members", "export").output.count("\n") == 1


def test_members_import_refuses_a_file_that_is_not_utf8(cli: Cli) -> None:
    Path("latin1.csv").write_bytes(
        "name,phone,telegram_id,group,language\nAmélie,,1,,fr\n".encode("latin-1")
    )
    result = cli("members", "import", "latin1.csv", ok=False)
    assert "line 2: the file is not UTF-8 text" in result.stderr


def test_a_long_spreadsheet_import_shows_a_summary_and_what_it_left_out(cli: Cli) -> None:
    cli(
        "groups",
        "create",
        "Kibera Market Peers",
        "--timezone",
        "Africa/Nairobi",
        "--currency",
        "KES",
    )
    rows = "".join(f"M{n};07120000{n:02d};;Kibera Market Peers;sw;x\n" for n in range(25))
    Path("sheet.csv").write_text(
        "Full Name;Phone Number;Telegram ID;Group;Language;Notes\n" + rows + "M0;0712000000;;"
        "Kibera Market Peers;sw;x\n",
        encoding="utf-8",
    )
    result = cli("members", "import", "sheet.csv", "--apply")
    lines = result.stdout.splitlines()
    assert lines[0] == "Columns left out (unknown): Notes"
    assert "Writing members" in result.stderr  # the progress bar
    assert "line 27: the same as line 2; imported once" in lines
    assert sum(line.startswith("line ") and ": create:" in line for line in lines) == 20
    assert "... and 5 more lines like these (see the summary)" in lines
    assert lines[-1] == "Created 25 members, updated 0, unchanged 0."
    assert "+254712000024" in cli("members", "export").output
