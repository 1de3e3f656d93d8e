"""What an instructor's assignment pages show besides the assignment itself: the course's
roster to pick a student for an extension, the extensions granted, who has submitted
already (what a change means for them), and what nbgrader stripped from the source to make
the student version. Plain async functions on an ``AsyncSession``; no HTTP here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.models import (
    Account,
    Assignment,
    AssignmentExtension,
    Course,
    Enrollment,
    Grade,
    Submission,
)


@dataclass(frozen=True)
class Student:
    """A student of the course as staff pick them: by name, with the email to tell two
    people of one name apart."""

    id: int
    name: str
    email: str


@dataclass(frozen=True)
class ExtensionRow:
    student: Student
    due_at: datetime
    cutoff_at: datetime | None
    reason: str


@dataclass(frozen=True)
class SubmittedSoFar:
    """Who handed the assignment in already: the people a change of it reaches."""

    students: int
    attempts: int
    graded: int


@dataclass(frozen=True)
class StrippedCell:
    """One cell of the source that students get changed: what nbgrader took out of it."""

    position: int  # 1-based, as the instructor counts cells
    grade_id: str
    removed: tuple[str, ...]  # sentences: "the solution (3 lines)", "hidden tests (2 lines)"


def _student(account: Account) -> Student:
    return Student(account.id, account.name or account.username, account.email or "")


async def roster(session: AsyncSession, course: Course) -> list[Student]:
    """The course's enrolled students by name."""
    people = await session.scalars(
        select(Account)
        .join(Enrollment, Enrollment.account_id == Account.id)
        .where(Enrollment.course_id == course.id)
        .order_by(func.lower(func.coalesce(Account.name, Account.username)), Account.id)
    )
    return [_student(account) for account in people]


async def extensions(session: AsyncSession, assignment: Assignment) -> list[ExtensionRow]:
    rows = await session.execute(
        select(AssignmentExtension, Account)
        .join(Account, Account.id == AssignmentExtension.account_id)
        .where(AssignmentExtension.assignment_id == assignment.id)
        .order_by(func.lower(func.coalesce(Account.name, Account.username)), Account.id)
    )
    return [
        ExtensionRow(_student(account), extension.due_at, extension.cutoff_at, extension.reason)
        for extension, account in rows
    ]


async def submitted_so_far(session: AsyncSession, assignment: Assignment) -> SubmittedSoFar:
    students, attempts, graded = (
        await session.execute(
            select(
                func.count(func.distinct(Submission.account_id)),
                func.count(Submission.id),
                func.count(Grade.id),
            )
            .select_from(Submission)
            .outerjoin(Grade, Grade.submission_id == Submission.id)
            .where(Submission.assignment_id == assignment.id)
        )
    ).one()
    return SubmittedSoFar(students, attempts, graded)


# -- what the student version leaves out ------------------------------------------------------

_REGIONS = (
    ("SOLUTION", "the solution"),
    ("HIDDEN TESTS", "hidden tests"),
    ("MARK SCHEME", "the mark scheme"),
)


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source or "")


def _region_lines(text: str, marker: str) -> int:
    """Lines between ``### BEGIN <marker>`` and ``### END <marker>``, all regions."""
    pattern = re.compile(
        rf"^[ \t]*#*[ \t]*BEGIN {marker}[^\n]*\n(.*?)^[ \t]*#*[ \t]*END {marker}",
        re.MULTILINE | re.DOTALL,
    )
    return sum(len(body.splitlines()) for body in pattern.findall(text))


def _lines(count: int) -> str:
    return f"{count} line{'s' if count != 1 else ''}"


def stripped_cells(source: dict[str, Any], student: dict[str, Any]) -> list[StrippedCell]:
    """Each cell whose student version differs from the source, with what went: solution,
    hidden-test and mark-scheme regions, a solution cell replaced whole, outputs."""
    found: list[StrippedCell] = []
    student_cells = student.get("cells", [])
    for index, cell in enumerate(source.get("cells", [])):
        theirs = student_cells[index] if index < len(student_cells) else {}
        text = _text(cell.get("source"))
        removed = []
        for marker, what in _REGIONS:
            count = _region_lines(text, marker)
            if count:
                removed.append(f"{what} ({_lines(count)})")
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not removed and meta.get("solution") and text != _text(theirs.get("source")):
            removed.append(f"the whole answer ({_lines(len(text.splitlines()))})")
        outputs = len(cell.get("outputs") or [])
        if outputs and not theirs.get("outputs"):
            removed.append(f"{outputs} output{'s' if outputs != 1 else ''}")
        if removed:
            found.append(StrippedCell(index + 1, str(meta.get("grade_id") or ""), tuple(removed)))
    return found
