"""Flow Results Packages (the FLOIP results specification, 1.0.0): one per check-in definition,
so a program's answers open in tools that read that standard.

A package is a folder named after the check-in with a `datapackage.json` descriptor (profile
`flow-results-package`, one resource whose inline schema names the seven response columns and
describes every question) and the resource, `<checkin>-responses.csv`: one row per answer with
a header row, the CSV form of a Data Package tabular resource. Row ids are the answers' ids,
contact ids the members' ids, session ids the check-in sessions' ids.

A package's id is a version-4-format UUID derived from the check-in's id and version, so every
export of the same check-in version is the same package (the specification's "Option 1": a new
version of a check-in is a new package) and a reader can tell a newer export of it.

Responses are written as the specification's types want them: numbers as plain decimals (money
with its currency in the row's metadata), one choice as its id, several as a JSON array, a
location as `[lat, long]`, a date as `YYYY-MM-DD`; a skipped question has an empty response and
`{"skipped": true}`.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.reports.exports import neutralise_formula
from conversations.answers import AnswerType
from conversations.definition import Checkin, Step
from storage.repositories.exports import StoredAnswer, iso_utc, render_decimal, render_json

SPECIFICATION_VERSION = "1.0.0"
_BATCH = 2000
"""Rows written to the file at a time, off the event loop."""
FIELDS = (
    ("timestamp", "Timestamp", "datetime"),
    ("row_id", "Row ID", "string"),
    ("contact_id", "Contact ID", "string"),
    ("session_id", "Session ID", "string"),
    ("question_id", "Question ID", "string"),
    ("response", "Response", "any"),
    ("response_metadata", "Response Metadata", "object"),
)
QUESTION_TYPES = {
    AnswerType.TEXT: "text",
    AnswerType.INTEGER: "numeric",
    AnswerType.NUMBER: "numeric",
    AnswerType.MONEY: "numeric",
    AnswerType.CHOICE: "select_one",
    AnswerType.MULTI_CHOICE: "select_many",
    AnswerType.YES_NO: "select_one",
    AnswerType.DATE: "date",
    AnswerType.PHOTO: "image",
    AnswerType.LOCATION: "geo_point",
    AnswerType.MEMBER: "text",
    AnswerType.LANGUAGE: "select_one",
    AnswerType.CURRENCY: "text",
    AnswerType.JOIN_CODE: "text",
}
"""The specification's question type for each of ours (a member named in an answer is written
as the name the member gave; a language as its code)."""


@dataclass(frozen=True, slots=True)
class PackageWritten:
    checkin_id: str
    folder: Path
    responses: int


def package_id(checkin_id: str, version: int) -> str:
    """A UUID in version 4 format, the same for every export of this check-in version."""
    digest = hashlib.sha256(f"mutuality:{checkin_id}:{version}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def question(step: Step | None, step_id: str, answer_type: str) -> dict[str, Any]:
    """A question's metadata: from the check-in definition when the step is still in it, else
    from the answers (a step removed from the definition keeps its responses)."""
    kind = AnswerType(step.type) if step is not None and step.type else AnswerType(answer_type)
    options: dict[str, Any] = {}
    if kind is AnswerType.YES_NO:
        options["choices"] = ["yes", "no"]
    elif step is not None and step.choices:
        options["choices"] = [choice.id for choice in step.choices]
    if kind in (AnswerType.MONEY, AnswerType.NUMBER, AnswerType.INTEGER) and step is not None:
        if step.min is not None and step.max is not None:
            options["range"] = [float(step.min), float(step.max)]
    label = (step.ask if step is not None else None) or step_id
    return {"type": QUESTION_TYPES.get(kind, "text"), "label": label, "type_options": options}


def response(answer: StoredAnswer) -> tuple[str, dict[str, Any]]:
    """The response cell and the row's metadata for one answer."""
    if answer.skipped:
        return "", {"skipped": True}
    metadata: dict[str, Any] = {"type": answer.answer_type}
    if answer.number is not None:
        if answer.currency:
            metadata["currency"] = answer.currency
        return render_decimal(answer.number), metadata
    if answer.value_date is not None:
        return answer.value_date.isoformat(), metadata
    if answer.choice is not None:
        if answer.answer_type == AnswerType.MULTI_CHOICE:
            return render_json(answer.choice.split(",")), metadata
        return answer.choice, metadata
    json_value = answer.json_value
    if answer.answer_type == AnswerType.LOCATION and isinstance(json_value, dict):
        return render_json(
            [float(json_value["latitude"]), float(json_value["longitude"])]
        ), metadata
    if answer.answer_type == AnswerType.PHOTO and isinstance(json_value, dict):
        metadata["format"] = json_value.get("content_type")
        return str(json_value.get("media", "")), metadata
    if answer.text is not None:
        return answer.text, metadata
    if json_value is not None:
        return render_json(json_value), metadata
    return "", metadata


def descriptor(
    checkin: Checkin | None,
    checkin_id: str,
    questions: dict[str, dict[str, Any]],
    resource: str,
    created: datetime,
) -> dict[str, Any]:
    version = checkin.version if checkin is not None else 0
    stamp = created.isoformat(sep=" ", timespec="seconds")
    return {
        "profile": "flow-results-package",
        "flow_results_specification_version": SPECIFICATION_VERSION,
        "created": stamp,
        "modified": stamp,
        "id": package_id(checkin_id, version),
        "name": f"mutuality-{checkin_id}-v{version}".replace("_", "-").lower(),
        "title": checkin.title if checkin is not None else checkin_id,
        "resources": [
            {
                "name": f"{checkin_id}-responses".replace("_", "-").lower(),
                "path": resource,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "access_method": "file",
                "dialect": {"header": True, "delimiter": ","},
                "schema": {
                    "language": "eng",
                    "fields": [
                        {"name": name, "title": title, "type": kind} for name, title, kind in FIELDS
                    ],
                    "questions": questions,
                },
            }
        ],
    }


async def write_package(
    folder: Path,
    checkin_id: str,
    checkin: Checkin | None,
    answers: AsyncIterator[StoredAnswer],
    created: datetime,
) -> PackageWritten:
    """Write one check-in's package into `folder/<checkin_id>/`, streaming the answers into
    the CSV as they come; the descriptor, which lists every question answered, last."""
    target = folder / checkin_id
    await asyncio.to_thread(target.mkdir, parents=True, exist_ok=True)
    resource = f"{checkin_id}-responses.csv"
    steps = {step.id: step for step in checkin.steps} if checkin is not None else {}
    questions: dict[str, dict[str, Any]] = {}
    count = 0
    out = await asyncio.to_thread((target / resource).open, "w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(out)
        batch: list[list[Any]] = [[name for name, _, _ in FIELDS]]
        async for answer in answers:
            if answer.step_id not in questions:
                questions[answer.step_id] = question(
                    steps.get(answer.step_id), answer.step_id, answer.answer_type
                )
            cell, metadata = response(answer)
            batch.append(
                [
                    iso_utc(answer.created_at),
                    answer.id,
                    answer.member_id,
                    answer.session_id,
                    answer.step_id,
                    neutralise_formula(cell),
                    json.dumps(metadata, sort_keys=True, separators=(",", ":")),
                ]
            )
            count += 1
            if len(batch) >= _BATCH:
                await asyncio.to_thread(writer.writerows, batch)
                batch = []
        await asyncio.to_thread(writer.writerows, batch)
    finally:
        await asyncio.to_thread(out.close)
    package = descriptor(checkin, checkin_id, questions, resource, created)
    text = json.dumps(package, indent=2, ensure_ascii=False) + "\n"
    await asyncio.to_thread((target / "datapackage.json").write_text, text, encoding="utf-8")
    return PackageWritten(checkin_id, target, count)
