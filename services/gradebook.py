"""A course's gradebook: a row per enrolled student, a column per released assignment.

Each cell counts a student's best graded attempt at that assignment (its score after the late
penalty); the penalty of that attempt is shown beside it. An attempt waiting for a human
(``needs_manual``) counts with what is graded so far and says so. Exports: plain CSV (one
row per student, a score per assignment, the total) and Canvas's gradebook import format.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.models import Account, Assignment, Course, Enrollment, Grade, Submission


@dataclass(frozen=True)
class GradeCell:
    final_score: float
    late_penalty_percent: float
    attempt: int
    needs_manual: bool


@dataclass
class StudentRow:
    account_id: int
    username: str
    name: str
    email: str
    cells: dict[int, GradeCell] = field(default_factory=dict)  # by assignment id

    def total(self) -> float:
        return round(sum(cell.final_score for cell in self.cells.values()), 4)


@dataclass(frozen=True)
class Gradebook:
    course: Course
    assignments: list[Assignment]
    students: list[StudentRow]

    @property
    def max_total(self) -> float:
        return round(sum(a.max_score for a in self.assignments), 4)

    def to_json(self) -> dict[str, Any]:
        return {
            "course": self.course.slug,
            "assignments": [
                {"id": a.id, "title": a.title, "max_score": a.max_score} for a in self.assignments
            ],
            "max_total": self.max_total,
            "students": [
                {
                    "account_id": row.account_id,
                    "username": row.username,
                    "name": row.name,
                    "email": row.email,
                    "grades": {
                        str(assignment_id): {
                            "final_score": cell.final_score,
                            "late_penalty_percent": cell.late_penalty_percent,
                            "attempt": cell.attempt,
                            "needs_manual": cell.needs_manual,
                        }
                        for assignment_id, cell in row.cells.items()
                    },
                    "total": row.total(),
                }
                for row in self.students
            ],
        }


async def course_gradebook(
    session: AsyncSession, course: Course, *, only_account: int | None = None
) -> Gradebook:
    """The gradebook of ``course`` (released assignments only); ``only_account`` narrows it
    to one student's own row."""
    assignments = list(
        await session.scalars(
            select(Assignment)
            .where(Assignment.course_id == course.id, Assignment.released_at.is_not(None))
            .order_by(Assignment.due_at, Assignment.id)
        )
    )
    people = select(Account).join(Enrollment, Enrollment.account_id == Account.id)
    people = people.where(Enrollment.course_id == course.id)
    if only_account is not None:
        people = people.where(Account.id == only_account)
    rows = {
        account.id: StudentRow(
            account.id, account.username, account.name or "", account.email or ""
        )
        for account in await session.scalars(people.order_by(Account.name, Account.username))
    }
    graded = select(Submission.account_id, Submission.assignment_id, Submission.attempt, Grade)
    graded = graded.join(Grade, Grade.submission_id == Submission.id).where(
        Submission.assignment_id.in_([a.id for a in assignments]),
        Submission.account_id.in_(list(rows)),
    )
    for account_id, assignment_id, attempt, grade in await session.execute(graded):
        best = rows[account_id].cells.get(assignment_id)
        if best is None or grade.final_score > best.final_score:
            rows[account_id].cells[assignment_id] = GradeCell(
                grade.final_score, grade.late_penalty_percent, attempt, grade.needs_manual
            )
    return Gradebook(course, assignments, list(rows.values()))


def plain_csv(book: Gradebook) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["username", "name", "email", *(a.title for a in book.assignments), "total", "max total"]
    )
    for row in book.students:
        scores = [_score(row.cells.get(a.id)) for a in book.assignments]
        writer.writerow(
            [_safe(row.username), _safe(row.name), _safe(row.email), *scores, row.total(),
             book.max_total]
        )  # fmt: skip
    return out.getvalue()


def canvas_csv(book: Gradebook) -> str:
    """Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then one
    column per assignment named ``Title (id)``, and a "Points Possible" row first."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns = [f"{a.title} ({a.id})" for a in book.assignments]
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *columns])
    writer.writerow(["Points Possible", "", "", "", "", *(a.max_score for a in book.assignments)])
    for row in book.students:
        scores = [_score(row.cells.get(a.id)) for a in book.assignments]
        writer.writerow(
            [_safe(row.name or row.username), "", _safe(row.username), _safe(row.email),
             _safe(book.course.title), *scores]
        )  # fmt: skip
    return out.getvalue()


def _score(cell: GradeCell | None) -> str:
    return "" if cell is None else f"{cell.final_score:g}"


def _safe(text: str) -> str:
    """Names are people's own text: never let a spreadsheet read one as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
