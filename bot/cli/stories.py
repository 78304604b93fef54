"""`mutuality stories`: moderate members' stories and write stories for groups.

Every change names the staff user who makes it (`--by`); see `storage.repositories.stories` for
the states a story goes through and what each move records. Approving and rejecting take a
coordinator or an admin (`storage.records.can_moderate`); anyone on staff may edit and add
(a story added by the staff role is proposed, not approved).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path
from typing import Final, cast

import click

from bot.cli.app import App, find_group
from bot.cli.staff import find_staff
from bot.turns.service import utc_now
from storage.database import Database
from storage.errors import NotFound
from storage.records import GroupRecord, StaffRecord, StoryRecord, can_moderate
from storage.repositories.stories import (
    MAX_STORY_LENGTH,
    InvalidStory,
    InvalidTransition,
    clean_story_text,
)
from storage.unit_of_work import UnitOfWork
from storage.vocabulary import STORY_STATUSES, StoryStatus

PREVIEW_LENGTH: Final = 60
MODERATION_ERRORS: Final = (NotFound, InvalidTransition, InvalidStory)

by_option = click.option(
    "--by", "by", required=True, help="Who does it: a staff id, phone or name (unique)."
)
text_option = click.option("--text", help=f"The story, at most {MAX_STORY_LENGTH:,} characters.")
text_file_option = click.option(
    "--text-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A UTF-8 text file holding the story (instead of --text).",
)


def story_text(text: str | None, text_file: Path | None) -> str:
    """The story from `--text` or `--text-file` (exactly one), checked for length."""
    if (text is None) == (text_file is None):
        raise click.UsageError("give the story with either --text or --text-file")
    if text_file is not None:
        try:
            text = text_file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as error:
            raise click.BadParameter(
                f"{text_file} is not UTF-8 text", param_hint="--text-file"
            ) from error
    assert text is not None
    try:
        return clean_story_text(text)
    except InvalidStory as error:
        raise click.ClickException(str(error)) from error


async def find_moderator(uow: UnitOfWork, by: str) -> StaffRecord:
    """The staff user `by` names, if their role may approve and reject stories; otherwise
    `click.ClickException` naming their role and who may."""
    person = await find_staff(uow, by)
    if not can_moderate(person.role):
        raise click.ClickException(
            f"{person.name} has the role {person.role}: approving or rejecting a story takes "
            "a coordinator or an admin (mutuality staff list shows who they are)"
        )
    return person


def preview(text: str) -> str:
    """The story's first characters on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_LENGTH else flat[: PREVIEW_LENGTH - 1] + "…"


@click.group("stories")
def stories() -> None:
    """Stories: approve or reject members' wins, edit them, write your own.

    A member's story starts proposed; approved stories go out, oldest first, in their group's
    weekly highlight, which marks them published. Rejected stories can be approved later;
    approved ones can be rejected until they are published; published ones never change.
    Editing keeps the member's original words.

    Approving and rejecting take a coordinator or an admin; anyone on staff may list, edit and
    add stories.
    """


@stories.command("list")
@click.option("--status", type=click.Choice(STORY_STATUSES), help="Only stories in this status.")
@click.option("--group", "group_name", help="Only this group's stories (its name or join code).")
@click.pass_obj
def stories_list(app: App, status: str | None, group_name: str | None) -> None:
    """Stories, oldest first: id, status, group, who wrote it, when, and how it starts."""

    async def work(database: Database) -> list[list[str]]:
        async with database.transaction() as uow:
            group_id = (await find_group(uow, group_name)).id if group_name else None
            found = await uow.stories.list(cast(StoryStatus | None, status), group_id)
            groups = {group.id: group.name for group in await uow.groups.list()}
            staff = {p.id: p.name for p in await uow.staff.list(include_removed=True)}
            members: dict[int, str] = {}
            for story in found:
                if story.member_id is not None and story.member_id not in members:
                    member = await uow.members.get(story.member_id)
                    members[story.member_id] = (
                        member.name if member and member.name else f"member #{story.member_id}"
                    )
            return [_line(story, groups, staff, members) for story in found]

    lines = app.run(work)
    if not lines:
        click.echo("No stories" + (" match." if status or group_name else " yet."))
        return
    header = ["id", "status", "group", "by", "created (UTC)", "text"]
    widths = [max(len(line[index]) for line in [header, *lines]) for index in range(5)]
    for line in [header, *lines]:
        cells = [
            line[0].rjust(widths[0]),
            *(cell.ljust(width) for cell, width in zip(line[1:5], widths[1:5], strict=True)),
        ]
        click.echo("  ".join([*cells, line[5]]))


def _line(
    story: StoryRecord, groups: dict[int, str], staff: dict[int, str], members: dict[int, str]
) -> list[str]:
    if story.member_id is not None:
        author = members[story.member_id]
    elif story.author_staff_id is not None:
        author = f"staff: {staff.get(story.author_staff_id, f'#{story.author_staff_id}')}"
    else:
        author = "-"
    return [
        str(story.id),
        story.status,
        groups.get(story.group_id, "-") if story.group_id is not None else "-",
        author,
        story.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        preview(story.text),
    ]


def _moderate(
    app: App,
    story_id: int,
    by: str,
    change: Callable[[UnitOfWork, StaffRecord], Awaitable[StoryRecord]],
    find: Callable[[UnitOfWork, str], Awaitable[StaffRecord]] = find_staff,
) -> tuple[StoryRecord, StaffRecord]:
    async def work(database: Database) -> tuple[StoryRecord, StaffRecord]:
        async with database.transaction() as uow:
            person = await find(uow, by)
            return await change(uow, person), person

    try:
        return app.run(work)
    except MODERATION_ERRORS as error:
        raise click.ClickException(str(error)) from error


@stories.command("approve")
@click.argument("story_id", metavar="ID", type=int)
@by_option
@click.pass_obj
def stories_approve(app: App, story_id: int, by: str) -> None:
    """Approve story ID (proposed or rejected): it goes out in its group's next highlight.

    Takes a coordinator or an admin."""
    story, person = _moderate(
        app,
        story_id,
        by,
        lambda uow, person: uow.stories.approve(story_id, person.id, utc_now()),
        find_moderator,
    )
    click.echo(f"Story #{story.id} approved by {person.name}.")


@stories.command("reject")
@click.argument("story_id", metavar="ID", type=int)
@by_option
@click.pass_obj
def stories_reject(app: App, story_id: int, by: str) -> None:
    """Reject story ID (proposed, or approved and not yet published).

    Takes a coordinator or an admin."""
    story, person = _moderate(
        app,
        story_id,
        by,
        lambda uow, person: uow.stories.reject(story_id, person.id, utc_now()),
        find_moderator,
    )
    click.echo(f"Story #{story.id} rejected by {person.name}.")


@stories.command("edit")
@click.argument("story_id", metavar="ID", type=int)
@by_option
@text_option
@text_file_option
@click.pass_obj
def stories_edit(
    app: App, story_id: int, by: str, text: str | None, text_file: Path | None
) -> None:
    """Replace the text of story ID (not once published); its status stays as it is.

    The text before the first edit is kept as the story's original.
    """
    new_text = story_text(text, text_file)
    before: list[StoryRecord] = []

    async def change(uow: UnitOfWork, person: StaffRecord) -> StoryRecord:
        found = await uow.stories.get(story_id)
        if found is not None:
            before.append(found)
        return await uow.stories.edit(story_id, person.id, new_text, utc_now())

    story, person = _moderate(app, story_id, by, change)
    if before and before[0] == story:
        click.echo(f"Story #{story.id} already has this text; nothing changed.")
        return
    click.echo(f"Story #{story.id} edited by {person.name}; the original text is kept.")


@stories.command("add")
@click.option("--group", "group_name", required=True, help="The group (its name or join code).")
@by_option
@text_option
@text_file_option
@click.pass_obj
def stories_add(
    app: App, group_name: str, by: str, text: str | None, text_file: Path | None
) -> None:
    """Write a story for a group. Written by a coordinator or an admin, it is approved at once
    (its author is its moderator) and goes out in the group's next highlight; written by
    someone with the staff role, it is proposed and waits for a coordinator or an admin."""
    clean = story_text(text, text_file)

    async def work(database: Database) -> tuple[StoryRecord, StaffRecord, GroupRecord]:
        async with database.transaction() as uow:
            person = await find_staff(uow, by)
            group = await find_group(uow, group_name)
            story = await uow.stories.add_by_staff(
                person.id, group.id, clean, utc_now(), approved=can_moderate(person.role)
            )
            return story, person, group

    try:
        story, person, group = app.run(work)
    except MODERATION_ERRORS as error:
        raise click.ClickException(str(error)) from error
    if story.status == "approved":
        click.echo(f"Story #{story.id} by {person.name} added to {group.name}, approved.")
    else:
        click.echo(
            f"Story #{story.id} by {person.name} added to {group.name}, proposed: a "
            f"coordinator or an admin approves it (mutuality stories approve {story.id} --by ...)."
        )
