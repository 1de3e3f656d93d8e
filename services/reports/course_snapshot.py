"""A course's data as CSV files for report notebooks: read-only, pseudonymised.

Each student is ``student``, a pseudonym stable within the course (``s-`` and 10 hex digits
of an HMAC of the course and account ids); the ``name`` column holds names only when the
report asks for them and the person running it manages the course (its instructor or an
administrator), and is empty otherwise. Files and their columns:

- ``students.csv``: ``student, name, enrolled_at, progress, completed_at`` (progress is the
  share of required lessons completed, 0 to 1; times ISO 8601 UTC, empty when none).
- ``lessons.csv``: ``lesson_id, module, module_position, position, title, kind, required``.
- ``lesson_progress.csv``: ``student, lesson_id, opened_at, completed_at, time_spent_seconds``
  (one row per lesson a student opened).
- ``grades.csv``: ``student, item_kind, item_id, item_title, attempt, score, max_score``
  (``assignment`` rows: each graded submission's final score; ``quiz`` rows: each scored
  quiz attempt).
- ``test_cells.csv``: ``student, assignment_id, assignment_title, attempt, cell, score,
  max_points`` (each autograded test cell of each graded submission).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.models import (
    Account,
    Assignment,
    Course,
    Enrollment,
    Grade,
    Lesson,
    LessonProgress,
    Module,
    Quiz,
    QuizAttempt,
    Submission,
)

COLUMNS: dict[str, tuple[str, ...]] = {
    "students.csv": ("student", "name", "enrolled_at", "progress", "completed_at"),
    "lessons.csv": (
        "lesson_id",
        "module",
        "module_position",
        "position",
        "title",
        "kind",
        "required",
    ),
    "lesson_progress.csv": (
        "student",
        "lesson_id",
        "opened_at",
        "completed_at",
        "time_spent_seconds",
    ),
    "grades.csv": (
        "student",
        "item_kind",
        "item_id",
        "item_title",
        "attempt",
        "score",
        "max_score",
    ),
    "test_cells.csv": (
        "student",
        "assignment_id",
        "assignment_title",
        "attempt",
        "cell",
        "score",
        "max_points",
    ),
}


def pseudonym(secret: bytes, course_id: int, account_id: int) -> str:
    digest = hmac.new(secret, f"{course_id}:{account_id}".encode(), hashlib.sha256)
    return "s-" + digest.hexdigest()[:10]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _csv(name: str, rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS[name])
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue().encode()


async def snapshot(
    session: AsyncSession, course: Course, *, secret: bytes, with_names: bool = False
) -> dict[str, bytes]:
    """The course's data files (name → CSV bytes), as of now."""
    students = list(
        await session.execute(
            select(Enrollment, Account)
            .join(Account, Account.id == Enrollment.account_id)
            .where(Enrollment.course_id == course.id)
            .order_by(Enrollment.enrolled_at, Enrollment.id)
        )
    )
    names = {account.id: pseudonym(secret, course.id, account.id) for _, account in students}
    files = {
        "students.csv": _csv(
            "students.csv",
            (
                (
                    names[account.id],
                    (account.name or account.username) if with_names else "",
                    enrollment.enrolled_at,
                    round(float(enrollment.progress or 0), 4),
                    enrollment.completed_at,
                )
                for enrollment, account in students
            ),
        )
    }
    lessons = list(
        await session.execute(
            select(Lesson, Module)
            .join(Module, Module.id == Lesson.module_id)
            .where(Module.course_id == course.id)
            .order_by(Module.position, Lesson.position, Lesson.id)
        )
    )
    files["lessons.csv"] = _csv(
        "lessons.csv",
        (
            (
                lesson.id,
                module.title,
                module.position,
                lesson.position,
                lesson.title,
                str(lesson.kind.value if hasattr(lesson.kind, "value") else lesson.kind),
                bool(lesson.is_required),
            )
            for lesson, module in lessons
        ),
    )
    lesson_ids = [lesson.id for lesson, _ in lessons]
    progress = await session.scalars(
        select(LessonProgress)
        .where(LessonProgress.lesson_id.in_(lesson_ids), LessonProgress.account_id.in_(names))
        .order_by(LessonProgress.id)
    )
    files["lesson_progress.csv"] = _csv(
        "lesson_progress.csv",
        (
            (
                names[row.account_id],
                row.lesson_id,
                row.first_opened_at,
                row.completed_at,
                row.time_spent_seconds,
            )
            for row in progress
        ),
    )
    files.update(await _grades(session, course, names))
    return files


async def _grades(session: AsyncSession, course: Course, names: dict[int, str]) -> dict[str, bytes]:
    graded = list(
        await session.execute(
            select(Submission, Grade, Assignment)
            .join(Grade, Grade.submission_id == Submission.id)
            .join(Assignment, Assignment.id == Submission.assignment_id)
            .where(Assignment.course_id == course.id, Submission.account_id.in_(names))
            .order_by(Assignment.id, Submission.account_id, Submission.attempt)
        )
    )
    attempts = list(
        await session.execute(
            select(QuizAttempt, Quiz)
            .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
            .where(
                Quiz.course_id == course.id,
                QuizAttempt.account_id.in_(names),
                QuizAttempt.score.is_not(None),
            )
            .order_by(Quiz.id, QuizAttempt.account_id, QuizAttempt.attempt)
        )
    )
    grade_rows: list[tuple[Any, ...]] = [
        (
            names[sub.account_id],
            "assignment",
            assignment.id,
            assignment.title,
            sub.attempt,
            grade.final_score if grade.final_score is not None else grade.score,
            grade.max_score,
        )
        for sub, grade, assignment in graded
    ]
    grade_rows += [
        (names[a.account_id], "quiz", quiz.id, quiz.title, a.attempt, a.score, a.max_score)
        for a, quiz in attempts
    ]
    cells = [
        (
            names[sub.account_id],
            assignment.id,
            assignment.title,
            sub.attempt,
            cell.get("grade_id", ""),
            cell.get("score"),
            cell.get("max_points"),
        )
        for sub, grade, assignment in graded
        for cell in grade.cells or []
        if cell.get("max_points")
    ]
    return {
        "grades.csv": _csv("grades.csv", grade_rows),
        "test_cells.csv": _csv("test_cells.csv", cells),
    }
