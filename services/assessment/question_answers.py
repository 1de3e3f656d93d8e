"""One question across all students: every student's answer to one grade cell of an
assignment, with its autograde score and what people decided, for grading side by side.

Answers are students' own text and outputs, so nothing of them runs in the grader's page:
markdown is rendered by ``markdown.to_safe_html``; code stays text; outputs become one small
HTML document (HTML outputs cleaned by nh3, images only as checked base64 data, everything
else escaped text) that the page shows in an iframe sandboxed without scripts.

The answer is read from the attempt's feedback notebook (what the grader ran, the cell found
by its grade id as the grader finds it) or, before grading, from the notebook as submitted.
A task's answer is the task cell and the ordinary cells after it, up to the next graded cell.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from typing import Any

import nh3
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment import rubrics
from coursehub.services.assessment.manual_grading import answer_json
from coursehub.services.content.markdown import to_safe_html
from coursehub.services.models import (
    Account,
    Assignment,
    Grade,
    ManualScore,
    RubricApplication,
    Submission,
)

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
MAX_OUTPUT_CHARS = 200_000
FRAME_HEAD = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'>"
    "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
    "img-src data:; style-src 'unsafe-inline'\">"
    "<style>body{font:13px/1.4 monospace;margin:4px}pre{white-space:pre-wrap;margin:0 0 4px}"
    "img{max-width:100%}</style></head><body>"
)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _data_output(data: dict[str, Any]) -> str:
    for kind in IMAGE_TYPES:
        if kind in data:
            encoded = _text(data[kind]).replace("\n", "")
            try:
                base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                return "<pre>[an image that could not be read]</pre>"
            return f'<img alt="output image" src="data:{kind};base64,{encoded}">'
    if "text/html" in data:
        return nh3.clean(_text(data["text/html"]))
    if "text/markdown" in data:
        return to_safe_html(_text(data["text/markdown"]))
    if "text/plain" in data:
        return f"<pre>{html.escape(_text(data['text/plain']))}</pre>"
    return "<pre>[an output CourseHub does not show]</pre>"


def outputs_document(outputs: list[dict[str, Any]]) -> str:
    """A cell's outputs as one HTML document for a script-less sandboxed iframe; empty when
    the cell has none."""
    parts = []
    for output in outputs or []:
        kind = output.get("output_type")
        if kind == "stream":
            parts.append(f"<pre>{html.escape(_text(output.get('text')))}</pre>")
        elif kind == "error":
            line = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
            parts.append(f"<pre>{html.escape(line)}</pre>")
        elif kind in ("execute_result", "display_data"):
            parts.append(_data_output(output.get("data") or {}))
    if not parts:
        return ""
    body = "".join(parts)
    if len(body) > MAX_OUTPUT_CHARS:
        body = "<pre>[The outputs are too large to show here; download the notebook.]</pre>"
    return FRAME_HEAD + body + "</body></html>"


def _notebook_of(submission: Submission, grade: Grade | None) -> dict[str, Any]:
    if grade is not None and grade.feedback_notebook:
        return grade.feedback_notebook
    try:
        notebook = json.loads(submission.notebook)
    except (ValueError, UnicodeDecodeError):
        return {"cells": []}
    return notebook if isinstance(notebook, dict) else {"cells": []}


def _grade_id(cell: Any) -> str | None:
    if not isinstance(cell, dict):
        return None
    meta = cell.get("metadata", {})
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None


def answer_cells(notebook: dict[str, Any], grade_id: str, kind: str) -> list[dict[str, Any]]:
    cells = [c for c in notebook.get("cells", []) if isinstance(c, dict)]
    for index, cell in enumerate(cells):
        if _grade_id(cell) != grade_id:
            continue
        if kind != "task":
            return [cell]
        following = []
        for later in cells[index + 1 :]:
            if _grade_id(later) is not None:
                break
            following.append(later)
        return [cell, *following]
    return []


def render_cell(cell: dict[str, Any]) -> dict[str, Any]:
    source = _text(cell.get("source"))
    if cell.get("cell_type") == "markdown":
        html_text = to_safe_html(source)
        return {
            "cell_type": "markdown",
            "source": source,
            "html": html_text,
            "outputs_document": "",
        }
    return {
        "cell_type": str(cell.get("cell_type", "code")),
        "source": source,
        "html": "",
        "outputs_document": outputs_document(cell.get("outputs", [])),
    }


def _answers_query(assignment: Assignment, grade_id: str, all_attempts: bool) -> Any:
    rank = (
        func.row_number()
        .over(partition_by=Submission.account_id, order_by=Submission.attempt.desc())
        .label("rank")
    )
    attempts = (
        select(Submission.id, rank).where(Submission.assignment_id == assignment.id).subquery()
    )
    query = (
        select(Submission, Grade, Account, ManualScore, attempts.c.rank)
        .join(attempts, attempts.c.id == Submission.id)
        .join(Account, Account.id == Submission.account_id)
        .outerjoin(Grade, Grade.submission_id == Submission.id)
        .outerjoin(
            ManualScore,
            (ManualScore.submission_id == Submission.id) & (ManualScore.grade_id == grade_id),
        )
        .order_by(Account.username, Submission.attempt.desc())
    )
    return query if all_attempts else query.where(attempts.c.rank == 1)


async def _ticked(session: AsyncSession, answer_ids: list[int]) -> dict[int, list[int]]:
    """Rubric item ids ticked, by manual score id (one query for the whole page)."""
    ticked: dict[int, list[int]] = {}
    rows = await session.execute(
        select(RubricApplication.manual_score_id, RubricApplication.rubric_item_id)
        .where(RubricApplication.manual_score_id.in_(answer_ids))
        .order_by(RubricApplication.rubric_item_id)
    )
    for answer_id, item_id in rows:
        ticked.setdefault(answer_id, []).append(item_id)
    return ticked


async def question_answers(
    session: AsyncSession, assignment: Assignment, grade_id: str, *, all_attempts: bool = False
) -> dict[str, Any]:
    """Every student's answer (their latest attempt, or every attempt) to ``grade_id``."""
    spec = rubrics.grade_cell(assignment, grade_id)
    rows = list(await session.execute(_answers_query(assignment, grade_id, all_attempts)))
    ticked = await _ticked(session, [answer.id for _, _, _, answer, _ in rows if answer])
    answers = []
    for submission, grade, account, answer, attempt_rank in rows:
        auto = next((c for c in (grade.cells if grade else []) if c["grade_id"] == grade_id), {})
        cells = answer_cells(_notebook_of(submission, grade), grade_id, spec["kind"])
        answers.append(
            {
                "submission_id": submission.id,
                "account_id": account.id,
                "username": account.username,
                "name": account.name or "",
                "attempt": submission.attempt,
                "latest": attempt_rank == 1,
                "status": submission.status.value,
                "final_score": grade.final_score if grade else None,
                "autograde_score": auto.get("score"),
                "autograde_feedback": auto.get("feedback", ""),
                "cells": [render_cell(cell) for cell in cells],
                "manual": answer_json(answer, ticked.get(answer.id, []) if answer else []),
            }
        )
    items = await rubrics.rubric_items(session, assignment, grade_id)
    return {
        "assignment_id": assignment.id,
        "grade_id": grade_id,
        "kind": spec["kind"],
        "max_points": spec["max_points"],
        "rubric": [rubrics.item_json(item) for item in items],
        "answers": answers,
    }
