"""Answers of every other type beside the plan's amounts: text, choices, a member named, a
location, a photo, a date; and business types."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import update

from storage import UnitOfWork
from storage.models import Member
from storage.repositories.answers import NewAnswer

from .plan import wednesday

SECRET_TEXT = "Call me on +254700000001, Amina Wanjiku"


async def add_extras(uow: UnitOfWork, groups: dict[str, int], members: dict[str, int]) -> None:
    for who in ("amina", "baraka", "chausiku", "diego", "esther"):
        await uow.session.execute(
            update(Member).where(Member.id == members[who]).values(business_type="food")
        )
    await uow.session.execute(
        update(Member).where(Member.id == members["fatuma"]).values(business_type="retail")
    )
    at = wednesday(1, 14)
    session = await uow.sessions.start(members["amina"], "weekly_checkin", 1, None, {}, at)
    common = {
        "session_id": session.id,
        "member_id": members["amina"],
        "group_id": groups["Kibera"],
        "checkin_id": "weekly_checkin",
        "at": at + timedelta(minutes=1),
    }
    await uow.answers.add_many(
        [
            NewAnswer(**common, step_id="gave_help", answer_type="yes_no", value_choice="yes"),
            NewAnswer(
                **common,
                step_id="gave_help_to",
                answer_type="member",
                value_json={"member_id": members["baraka"]},
                value_text="Baraka",
            ),
            NewAnswer(
                **common, step_id="gave_help_how", answer_type="choice", value_choice="advice"
            ),
            NewAnswer(**common, step_id="goal", answer_type="text", value_text=SECRET_TEXT),
            NewAnswer(**common, step_id="challenge", answer_type="text", skipped=True),
            NewAnswer(
                **common,
                step_id="where",
                answer_type="location",
                value_json={"latitude": "-1.2921", "longitude": "36.8219"},
            ),
            NewAnswer(
                **common,
                step_id="stall",
                answer_type="photo",
                value_json={"media": "telegram:AgAD123", "content_type": "image/jpeg"},
            ),
            NewAnswer(**common, step_id="opened", answer_type="date", value_date=date(2025, 3, 14)),
        ]
    )
    await uow.sessions.save(session.id, None, "completed", {}, at + timedelta(minutes=3))
