"""Released feedback: what students see of people's grading, and when.

Until staff release an assignment's feedback, its students see the autograder's result only:
scores of autograded cells, cells waiting for a person, totals from those. Once released,
they see the attempt's grade as the gradebook has it (people's scores, an override), each
cell's comment, and the feedback notebook with people's scores and comments beside the
cells. Rubric items, override reasons and the audit trail stay with staff.

Releasing notifies each student with a graded attempt: a ``feedback_released`` notification
row, then news on Redis as the grading worker sends it (Redis down loses nothing: the row is
committed first).
"""

from __future__ import annotations

import copy
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment import submissions
from coursehub.services.assessment.assignments import apply_penalty
from coursehub.services.assessment.manual_grading import (
    CERTIFICATE_QUEUE,
    CERTIFICATE_RELEASE_TASK,
    defer_lti_passback,
)
from coursehub.services.content.markdown import to_safe_html
from coursehub.services.jobs.queue import defer
from coursehub.services.models import (
    Account,
    Assignment,
    FeedbackRelease,
    Grade,
    ManualScore,
    Notification,
    ScoreOverride,
    Submission,
    utcnow,
)
from coursehub.services.notifications import notifications

log = logging.getLogger("coursehub.feedback")

FEEDBACK_RELEASED = "feedback_released"


async def released_at(session: AsyncSession, assignment_id: int) -> datetime | None:
    return await session.scalar(
        select(FeedbackRelease.released_at).where(FeedbackRelease.assignment_id == assignment_id)
    )


async def release(
    session: AsyncSession, assignment: Assignment, course_slug: str, by: Account
) -> tuple[datetime, list[Notification]]:
    """Release (again) the assignment's feedback and notify every student with a graded
    attempt (``notifications.add``: announced once the caller's transaction commits)."""
    now = utcnow()
    await session.execute(
        insert(FeedbackRelease)
        .values(assignment_id=assignment.id, released_by_id=by.id, released_at=now)
        .on_conflict_do_update(
            index_elements=["assignment_id"],
            set_={"released_by_id": by.id, "released_at": now},
        )
    )
    students = await session.scalars(
        select(Submission.account_id)
        .join(Grade, Grade.submission_id == Submission.id)
        .where(Submission.assignment_id == assignment.id)
        .distinct()
    )
    # The kind's declaration makes the sentence and the link of these (notifications.kinds).
    payload = {
        "assignment_id": assignment.id,
        "assignment_title": assignment.title,
        "course": course_slug,
    }
    notes = [
        notifications.add(session, student, FEEDBACK_RELEASED, dict(payload))
        for student in students
    ]
    await session.flush()
    # Released grades count toward certificates: their rule is checked again for these students.
    await defer(
        session, CERTIFICATE_RELEASE_TASK, CERTIFICATE_QUEUE, released_assignment=assignment.id
    )
    # ... and the LMS's gradebook, when the assignment has a line item there.
    await defer_lti_passback(session, assignment.id, released_assignment=assignment.id)
    return now, notes


# -- what a student sees ---------------------------------------------------------------------


async def grading_by_people(
    session: AsyncSession, submission_ids: list[int]
) -> tuple[dict[int, dict[str, ManualScore]], set[int]]:
    """Manual scores by submission and grade id, and the submissions with an override."""
    answers: dict[int, dict[str, ManualScore]] = {}
    for answer in await session.scalars(
        select(ManualScore).where(ManualScore.submission_id.in_(submission_ids))
    ):
        answers.setdefault(answer.submission_id, {})[answer.grade_id] = answer
    overridden = set(
        await session.scalars(
            select(ScoreOverride.submission_id).where(
                ScoreOverride.submission_id.in_(submission_ids)
            )
        )
    )
    return answers, overridden


def student_grade_json(
    grade: Grade | None,
    answers: dict[str, ManualScore],
    overridden: bool,
    released: bool,
) -> dict[str, Any] | None:
    """The grade as its student may see it now (see the module's docstring)."""
    body = submissions.grade_json(grade)
    if grade is None or body is None:
        return None
    # Flags say which of the engine's checks fired: staff review them, a student never
    # learns which check caught (or missed) what.
    del body["flags"]
    if not released:
        score = round(sum(float(c["score"]) for c in grade.cells if c.get("score") is not None), 4)
        body.update(
            score=score,
            final_score=apply_penalty(score, grade.late_penalty_percent),
            needs_manual=any(c.get("score") is None for c in grade.cells),
            feedback_released=False,
        )
        return body
    cells = []
    for cell in grade.cells:
        answer = answers.get(cell.get("grade_id", ""))
        shown = {**cell, "comment": answer.comment if answer else ""}
        if answer is not None and answer.score is not None:
            shown.update(score=answer.score, graded_by_person=True)
        cells.append(shown)
    body.update(cells=cells, overridden=overridden, feedback_released=True)
    return body


async def students_submissions_json(
    session: AsyncSession, assignment: Assignment, rows: list[tuple[Submission, Grade | None]]
) -> list[dict[str, Any]]:
    """``submissions.submission_json`` for a student's own attempts, grades as they may see
    them; released comments also come as safe HTML (``comments``) for pages."""
    released = await released_at(session, assignment.id) is not None
    answers, overridden = await grading_by_people(session, [s.id for s, _ in rows])
    items = []
    for submission, grade in rows:
        body = submissions.submission_json(submission, None)
        mine = answers.get(submission.id, {})
        body["grade"] = student_grade_json(grade, mine, submission.id in overridden, released)
        body["comments"] = (
            [
                {"grade_id": grade_id, "html": to_safe_html(answer.comment)}
                for grade_id, answer in mine.items()
                if answer.comment
            ]
            if released
            else []
        )
        items.append(body)
    return items


def annotated_feedback(
    notebook: dict[str, Any], answers: dict[str, ManualScore], max_points: dict[str, float]
) -> dict[str, Any]:
    """The feedback notebook with a markdown cell after each cell a person graded or
    commented on: the person's score and comment."""
    shown = copy.deepcopy(notebook)
    cells = []
    for cell in shown.get("cells", []):
        cells.append(cell)
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        answer = answers.get(grade_id or "")
        if answer is None or (answer.score is None and not answer.comment):
            continue
        lines = []
        if answer.score is not None:
            lines.append(
                f"**Grader's score:** {answer.score:g} / {max_points.get(answer.grade_id, 0):g}"
            )
        if answer.comment:
            lines.append(answer.comment)
        cells.append(
            {
                "cell_type": "markdown",
                "id": f"coursehub-grader-{len(cells)}",
                "metadata": {"coursehub": {"grader_comment": grade_id}},
                "source": "\n\n".join(lines),
            }
        )
    shown["cells"] = cells
    return shown
