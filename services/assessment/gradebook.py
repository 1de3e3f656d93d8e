"""A course's gradebook: a row per enrolled student, a column per released assignment and per
published quiz, grouped in the course's grade categories, with totals; and its exports.

An assignment's cell counts the student's best graded attempt (its score after the late
penalty; the penalty's percent and the points it took are shown beside it). An attempt that
waits for the grading worker or for a person makes the cell "awaiting grading"; a graded
attempt waiting for a person counts with what is graded so far. An attempt whose grading
failed on the platform's side marks the cell "grading failed" (staff regrade it); it is not
awaiting anything. A quiz's cell counts the
best submitted attempt with a score; a submitted attempt without one (an answer awaits
staff) makes it "awaiting grading" too.

Students see their own row as they may see their grades: until staff release an
assignment's feedback, its scores are the autograder's only (``released_feedback``).

Totals: the plain sum of points, and in a course with grade categories the weighted
percentage (the rule is ``grade_categories``'s). Exports: plain CSV and Canvas's gradebook
import format, both with the categories' percentages and the weighted total when weighted.
"""

from __future__ import annotations

import csv
import enum
import io
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from coursehub.services.assessment import grade_categories, released_feedback
from coursehub.services.assessment.assignments import AssignmentError, deadline
from coursehub.services.assessment.grade_categories import CategoryScore, Counted, Weight
from coursehub.services.courses.enrollment import (
    check_visible,
    course_by_slug,
)
from coursehub.services.courses.membership import membership
from coursehub.services.models import (
    Account,
    Assignment,
    AssignmentExtension,
    Course,
    Enrollment,
    FeedbackRelease,
    Grade,
    GradeCategory,
    Quiz,
    QuizAttempt,
    Submission,
    SubmissionStatus,
    utcnow,
)
from coursehub.services.variants import records as variant_records


class Access(enum.Enum):
    MANAGE = "manage"  # the course's instructor, administrators: everything, categories too
    READ = "read"  # the course's graders: every student's grades
    OWN = "own"  # its students: their own grades


async def gradebook_access(
    session: AsyncSession, account: Account, slug: str
) -> tuple[Course, Access]:
    """The course and what ``account`` may do with its grades. As for assignments, the
    course's graders get in before the course's visibility is checked (they grade drafts
    too); others see a course they may not see as missing, and one they are not in refused."""
    course = await course_by_slug(session, slug)
    place = await membership(session, account, course) if course is not None else None
    if place is not None and place.grades:
        return course, Access.MANAGE if place.manages else Access.READ
    course = check_visible(account, course)
    if place is not None and place.enrolled:
        return course, Access.OWN
    raise AssignmentError(
        f"Grades of {course.title} are for its students and staff: enroll in the course first.",
        403,
    )


@dataclass(frozen=True)
class Column:
    kind: str  # "assignment" or "quiz"
    id: int
    title: str
    max_score: float
    category_id: int | None
    due_at: datetime | None

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "max_score": self.max_score,
            "category_id": self.category_id,
            "due_at": self.due_at,
        }


@dataclass(frozen=True)
class GradeCell:
    """One student's standing on one assessment. ``final_score`` None: nothing counts yet."""

    final_score: float | None
    score: float | None  # before the late penalty
    late_penalty_percent: float
    attempt: int | None
    awaiting: bool
    submission_id: int | None = None
    failed: bool = False  # an attempt's grading failed and nothing retries it by itself

    @property
    def late_points(self) -> float:
        if self.final_score is None or self.score is None:
            return 0.0
        return round(max(0.0, self.score - self.final_score), 4)

    def to_json(self, dropped: bool = False) -> dict[str, Any]:
        return {
            "final_score": self.final_score,
            "score": self.score,
            "late_penalty_percent": self.late_penalty_percent,
            "late_points": self.late_points,
            "attempt": self.attempt,
            "awaiting_grading": self.awaiting,
            "grading_failed": self.failed,
            "dropped": dropped,
        }


@dataclass
class StudentRow:
    account_id: int
    username: str
    name: str
    email: str
    cells: dict[str, GradeCell] = field(default_factory=dict)  # by column key
    categories: list[CategoryScore] = field(default_factory=list)
    weighted_percent: float | None = None
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # staff: by column key

    def total(self) -> float:
        return round(sum(cell.final_score or 0 for cell in self.cells.values()), 4)

    @property
    def dropped(self) -> frozenset[str]:
        return frozenset(key for score in self.categories for key in score.dropped)

    def to_json(self) -> dict[str, Any]:
        dropped = self.dropped
        return {
            "account_id": self.account_id,
            "username": self.username,
            "name": self.name,
            "email": self.email,
            "cells": {key: cell.to_json(key in dropped) for key, cell in self.cells.items()},
            "total": self.total(),
            "categories": [score.to_json() for score in self.categories],
            "weighted_percent": self.weighted_percent,
            **({"variants": self.variants} if self.variants else {}),
        }


@dataclass(frozen=True)
class Gradebook:
    course: Course
    columns: list[Column]
    categories: list[Weight]  # empty: an unweighted course
    students: list[StudentRow]

    @property
    def weighted(self) -> bool:
        return bool(self.categories)

    @property
    def max_total(self) -> float:
        return round(sum(column.max_score for column in self.columns), 4)

    def category_of(self, column: Column) -> Weight | None:
        """The column's category; "Other" for an uncategorised one (None: unweighted)."""
        known = {category.id: category for category in self.categories}
        return known.get(column.category_id, known.get(None))

    def groups(self) -> list[tuple[Weight | None, list[Column]]]:
        """The columns by category, in the categories' order (one group when unweighted)."""
        if not self.weighted:
            return [(None, self.columns)]
        found = [
            (category, [c for c in self.columns if self.category_of(c) == category])
            for category in self.categories
        ]
        return [(category, columns) for category, columns in found if columns]

    def to_json(self) -> dict[str, Any]:
        return {
            "course": self.course.slug,
            "weighted": self.weighted,
            "categories": [
                {
                    "id": category.id,
                    "name": category.name,
                    "weight": category.weight,
                    "drop_lowest": category.drop_lowest,
                }
                for category in self.categories
            ],
            "columns": [column.to_json() for column in self.columns],
            "max_total": self.max_total,
            "students": [row.to_json() for row in self.students],
        }


# -- building --------------------------------------------------------------------------------


async def _columns(session: AsyncSession, course: Course) -> list[Column]:
    """Released assignments and published quizzes, by due date (undated last)."""
    released = select(  # not the notebooks: they may be large
        Assignment.id,
        Assignment.title,
        Assignment.max_score,
        Assignment.category_id,
        Assignment.due_at,
    ).where(Assignment.course_id == course.id, Assignment.released_at <= utcnow())
    columns = [Column("assignment", *row) for row in await session.execute(released)]
    quizzes = list(
        await session.scalars(select(Quiz).where(Quiz.course_id == course.id, Quiz.published))
    )
    placed = await grade_categories.quiz_categories(session, [q.id for q in quizzes])
    columns += [
        Column("quiz", q.id, q.title, q.max_score, placed.get(q.id), q.due_at) for q in quizzes
    ]
    return sorted(
        columns,
        key=lambda c: (c.due_at is None, c.due_at.timestamp() if c.due_at else 0, c.kind, c.id),
    )


async def _students(
    session: AsyncSession, course: Course, only_account: int | None
) -> dict[int, StudentRow]:
    people = select(Account).join(Enrollment, Enrollment.account_id == Account.id)
    people = people.where(Enrollment.course_id == course.id)
    if only_account is not None:
        people = people.where(Account.id == only_account)
    return {
        account.id: StudentRow(
            account.id, account.username, account.name or "", account.email or ""
        )
        for account in await session.scalars(people.order_by(Account.name, Account.username))
    }


async def _released(session: AsyncSession, assignment_ids: list[int]) -> set[int]:
    rows = await session.scalars(
        select(FeedbackRelease.assignment_id).where(
            FeedbackRelease.assignment_id.in_(assignment_ids)
        )
    )
    return set(rows)


def _visible(grade: Grade, released: bool, student_view: bool) -> tuple[float, float, bool]:
    """(score, final score, waits for a person) as the viewer may see them."""
    if not student_view:
        return grade.score, grade.final_score, grade.needs_manual
    shown = released_feedback.student_grade_json(grade, {}, False, released) or {}
    return shown["score"], shown["final_score"], shown["needs_manual"]


async def _assignment_cells(
    session: AsyncSession, rows: dict[int, StudentRow], columns: list[Column], student_view: bool
) -> None:
    ids = [c.id for c in columns if c.kind == "assignment"]
    if not ids or not rows:
        return
    released = await _released(session, ids) if student_view else set()
    attempts = (
        select(
            Submission.account_id,
            Submission.assignment_id,
            Submission.attempt,
            Submission.id,
            Submission.status,
            Grade,
        )
        .outerjoin(Grade, Grade.submission_id == Submission.id)
        .where(Submission.assignment_id.in_(ids), Submission.account_id.in_(list(rows)))
        .order_by(Submission.attempt)
        .options(defer(Grade.feedback_notebook))
    )
    found = await session.execute(attempts)
    for account_id, assignment_id, attempt, submission_id, status, grade in found:
        key = f"assignment-{assignment_id}"
        best = rows[account_id].cells.get(key)
        if grade is None and status is SubmissionStatus.FAILED:
            rows[account_id].cells[key] = _failed(best)
            continue
        if grade is None:  # queued or being graded
            rows[account_id].cells[key] = _awaiting(best)
            continue
        score, final, waiting = _visible(grade, assignment_id in released, student_view)
        if best is None or best.final_score is None or final > best.final_score:
            best = GradeCell(
                final,
                score,
                grade.late_penalty_percent,
                attempt,
                (best is not None and best.awaiting) or waiting,
                submission_id,
                best is not None and best.failed,
            )
        elif waiting:
            best = _awaiting(best)
        rows[account_id].cells[key] = best


def _awaiting(cell: GradeCell | None) -> GradeCell:
    if cell is None:
        return GradeCell(None, None, 0.0, None, True)
    return replace(cell, awaiting=True)


def _failed(cell: GradeCell | None) -> GradeCell:
    if cell is None:
        return GradeCell(None, None, 0.0, None, False, failed=True)
    return replace(cell, failed=True)


async def _quiz_cells(
    session: AsyncSession, rows: dict[int, StudentRow], columns: list[Column]
) -> None:
    ids = [c.id for c in columns if c.kind == "quiz"]
    if not ids or not rows:
        return
    attempts = (
        select(QuizAttempt.account_id, QuizAttempt.quiz_id, QuizAttempt.attempt, QuizAttempt.score)
        .where(
            QuizAttempt.quiz_id.in_(ids),
            QuizAttempt.account_id.in_(list(rows)),
            QuizAttempt.submitted_at.is_not(None),
        )
        .order_by(QuizAttempt.attempt)
    )
    for account_id, quiz_id, attempt, score in await session.execute(attempts):
        key = f"quiz-{quiz_id}"
        best = rows[account_id].cells.get(key)
        if score is None:
            rows[account_id].cells[key] = _awaiting(best)
        elif best is None or best.final_score is None or score > best.final_score:
            awaiting = best is not None and best.awaiting
            rows[account_id].cells[key] = GradeCell(score, score, 0.0, attempt, awaiting)


def _weigh(row: StudentRow, columns: list[Column], categories: list[Weight]) -> None:
    counted = [
        Counted(column.key, column.category_id, cell.final_score, column.max_score)
        for column in columns
        if (cell := row.cells.get(column.key)) is not None and cell.final_score is not None
    ]
    row.categories = grade_categories.category_scores(categories, counted)
    row.weighted_percent = grade_categories.weighted_percent(row.categories)


async def course_gradebook(
    session: AsyncSession,
    course: Course,
    *,
    only_account: int | None = None,
    student_view: bool = False,
) -> Gradebook:
    """The gradebook of ``course``; ``only_account`` narrows it to one student's row, and
    ``student_view`` shows grades as that student may see them (see the docstring)."""
    columns = await _columns(session, course)
    categorised: list[GradeCategory] = await grade_categories.course_categories(session, course)
    known = {category.id for category in categorised}
    categories = grade_categories.weights(
        categorised, uncategorised=any(c.category_id not in known for c in columns)
    )
    rows = await _students(session, course, only_account)
    await _assignment_cells(session, rows, columns, student_view)
    await _quiz_cells(session, rows, columns)
    if not student_view:  # each student's variant of a parameterised assignment, for staff
        ids = [c.id for c in columns if c.kind == "assignment"]
        for (account_id, assignment_id), values in (
            await variant_records.variants_among(session, ids, list(rows))
        ).items():
            rows[account_id].variants[f"assignment-{assignment_id}"] = values
    for row in rows.values():
        if categories:
            _weigh(row, columns, categories)
    return Gradebook(course, columns, categories, list(rows.values()))


# -- a student's own grades -------------------------------------------------------------------


@dataclass(frozen=True)
class GradeItem:
    """One assessment on a student's grade page."""

    column: Column
    category: Weight | None
    cell: GradeCell | None
    dropped: bool
    due_at: datetime | None  # the student's own (their extension, if any)
    extended: bool
    status: str  # graded, partly_graded, awaiting, failed, not_submitted, missing
    attempts: list[dict[str, Any]]  # an assignment's attempts as the student may see them


@dataclass(frozen=True)
class StudentGrades:
    book: Gradebook
    row: StudentRow
    items: list[GradeItem]


def _status(cell: GradeCell | None, due_at: datetime | None) -> str:
    if cell is None:
        return "missing" if due_at is not None and due_at < utcnow() else "not_submitted"
    if cell.final_score is None:
        return "failed" if cell.failed and not cell.awaiting else "awaiting"
    return "partly_graded" if cell.awaiting else "graded"


async def _attempts(
    session: AsyncSession, found: dict[int, Assignment], account_id: int
) -> dict[int, list[dict[str, Any]]]:
    """Each assignment's attempts by ``account_id`` as they may see them, with
    ``has_feedback`` (a feedback notebook to download)."""
    query = (
        select(Submission, Grade, func.jsonb_typeof(Grade.feedback_notebook) == "object")
        .outerjoin(Grade, Grade.submission_id == Submission.id)
        .where(Submission.assignment_id.in_(list(found)), Submission.account_id == account_id)
        .order_by(Submission.assignment_id, Submission.attempt)
        .options(defer(Submission.notebook), defer(Grade.feedback_notebook))
    )
    rows: dict[int, list[tuple[Submission, Grade | None]]] = {}
    has_feedback: dict[int, bool] = {}
    for submission, grade, feedback in await session.execute(query):
        rows.setdefault(submission.assignment_id, []).append((submission, grade))
        has_feedback[submission.id] = bool(feedback)
    shown = {}
    for assignment_id, attempts in rows.items():
        items = await released_feedback.students_submissions_json(
            session, found[assignment_id], attempts
        )
        shown[assignment_id] = [{**i, "has_feedback": has_feedback[i["id"]]} for i in items]
    return shown


async def student_grades(session: AsyncSession, course: Course, student: Account) -> StudentGrades:
    """Everything on ``student``'s grade page; the caller checked that they are enrolled."""
    book = await course_gradebook(session, course, only_account=student.id, student_view=True)
    row = book.students[0]
    ids = [c.id for c in book.columns if c.kind == "assignment"]
    found = {
        a.id: a
        for a in await session.scalars(
            select(Assignment)
            .where(Assignment.id.in_(ids))
            .options(defer(Assignment.source_notebook), defer(Assignment.student_notebook))
        )
    }
    extensions = {
        e.assignment_id: e
        for e in await session.scalars(
            select(AssignmentExtension).where(
                AssignmentExtension.assignment_id.in_(ids),
                AssignmentExtension.account_id == student.id,
            )
        )
    }
    attempts = await _attempts(session, found, student.id)
    items = []
    for column in book.columns:
        due_at, extended = column.due_at, False
        if column.kind == "assignment":
            due = deadline(found[column.id], extensions.get(column.id))
            due_at, extended = due.due_at, due.extended
        cell = row.cells.get(column.key)
        items.append(
            GradeItem(
                column,
                book.category_of(column),
                cell,
                column.key in row.dropped,
                due_at,
                extended,
                _status(cell, due_at),
                attempts.get(column.id, []) if column.kind == "assignment" else [],
            )
        )
    return StudentGrades(book, row, items)


# -- exports ---------------------------------------------------------------------------------


def _title(column: Column) -> str:
    return column.title if column.kind == "assignment" else f"{column.title} (quiz)"


def plain_csv(book: Gradebook) -> str:
    """A row per student: a score per assessment, then (weighted courses) each category's
    percentage and the weighted total, then the points total."""
    out = io.StringIO()
    writer = csv.writer(out)
    categories = [
        _safe(f"{category.name} % (weight {category.weight:g} %)") for category in book.categories
    ]
    weighted = ["weighted %"] if book.weighted else []
    writer.writerow(
        [
            "username",
            "name",
            "email",
            *(_safe(_title(c)) for c in book.columns),
            *categories,
            "total",
            "max total",
            *weighted,
        ]
    )
    for row in book.students:
        scores = [_score(row.cells.get(c.key)) for c in book.columns]
        percents = [_number(score.percent) for score in row.categories]
        total = [_number(row.weighted_percent)] if book.weighted else []
        writer.writerow(
            [
                _safe(row.username),
                _safe(row.name),
                _safe(row.email),
                *scores,
                *percents,
                row.total(),
                book.max_total,
                *total,
            ]
        )
    return out.getvalue()


def canvas_csv(book: Gradebook) -> str:
    """Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then one
    column per assessment named ``Title (id)`` (quizzes: ``Title (quiz id)``), and a "Points
    Possible" row first. A weighted course adds Canvas's read-only columns ``<category>
    Current Score`` and ``Current Score`` (percentages; Canvas ignores them on import)."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns = [
        _safe(f"{c.title} ({c.id})" if c.kind == "assignment" else f"{c.title} (quiz {c.id})")
        for c in book.columns
    ]
    read_only = [_safe(f"{category.name} Current Score") for category in book.categories]
    read_only += ["Current Score"] if book.weighted else []
    writer.writerow(
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *columns, *read_only]
    )
    writer.writerow(
        [
            "Points Possible",
            "",
            "",
            "",
            "",
            *(c.max_score for c in book.columns),
            *("(read only)" for _ in read_only),
        ]
    )
    for row in book.students:
        scores = [_score(row.cells.get(c.key)) for c in book.columns]
        percents = [_number(score.percent) for score in row.categories]
        percents += [_number(row.weighted_percent)] if book.weighted else []
        writer.writerow(
            [
                _safe(row.name or row.username),
                "",
                _safe(row.username),
                _safe(row.email),
                _safe(book.course.title),
                *scores,
                *percents,
            ]
        )
    return out.getvalue()


def _score(cell: GradeCell | None) -> str:
    return "" if cell is None or cell.final_score is None else f"{cell.final_score:g}"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _safe(text: str) -> str:
    """Names and titles are people's own text: never let a spreadsheet read one as a
    formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
