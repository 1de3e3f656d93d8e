"""Notebook assignments of a course: made from an instructor's nbgrader source notebook,
released with a due date, a cut-off, an attempt limit and a late policy, and extended for
single students. Plain async functions on an ``AsyncSession``; no HTTP here.

An uploaded source with nbgrader ``### AUTOTEST``/``### HASHED AUTOTEST`` directives is
expanded at once with nbgrader's own InstantiateTests, run in a grading sandbox (a uid of the
grading slot pool, a private job folder, the platform's data directory hidden) with the
``autotests.yml`` uploaded among its data files (``assignment_files``); the expanded source is
stored and graded, and a source that cannot be expanded is refused with the engine's sentence.

The grading engine (``coursehub.graders``) is imported where it is used: it brings nbformat
and the grading machinery, which pages that only list assignments do not need.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment import assignment_files
from coursehub.services.assessment.sandbox_slots import JOBS_DIR, sandbox_slot
from coursehub.services.courses.membership import membership
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Account,
    Assignment,
    AssignmentExtension,
    Course,
    LatePenaltyUnit,
    Lesson,
    LessonKind,
    Module,
    utcnow,
)
from coursehub.services.notifications import notification_events
from coursehub.services.variants import records as variant_records

log = logging.getLogger("coursehub.assignments")

# nbgrader cell kinds that carry points.
GRADED_KINDS = ("autograded_test", "manual", "task")

UNIT_LENGTH = {LatePenaltyUnit.HOUR: timedelta(hours=1), LatePenaltyUnit.DAY: timedelta(days=1)}


class AssignmentError(Refusal):
    """A request about an assignment that cannot be done; the message says what to do."""


@dataclass(frozen=True)
class Deadline:
    """The dates that apply to one student (an extension replaces the course's)."""

    due_at: datetime | None
    cutoff_at: datetime | None
    extended: bool


# -- reading and creating --------------------------------------------------------------------


def check_notebook_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise AssignmentError(
            f"The notebook is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. "
            "Clear large outputs and upload it again.",
            413,
        )


def read_source_notebook(data: bytes, max_bytes: int) -> tuple[Any, dict[str, Any]]:
    """The engine's ``SourceAssignment`` and the student version (as a plain dict)."""
    from coursehub.graders.assignment_notebooks import (
        InvalidNotebook,
        read_source,
        student_version,
    )

    check_notebook_size(data, max_bytes)
    try:
        source = read_source(data)
        student = student_version(source)
    except InvalidNotebook as error:
        raise AssignmentError(str(error)) from None
    return source, json.loads(json.dumps(student))


@dataclass(frozen=True)
class PreparedSource:
    """An uploaded source ready to store: ``data`` expanded (AUTOTEST), the engine's reading
    of it, the student version, and the SHA-256 of the bytes as uploaded."""

    data: bytes
    source: Any
    student: dict[str, Any]
    uploaded_sha256: str


def has_autotests(data: bytes) -> bool:
    from coursehub.graders.assignment_notebooks import (
        InvalidNotebook,
        autotest_lines,
        parse_notebook,
    )

    try:
        return bool(autotest_lines(parse_notebook(data, "assignment notebook")))
    except InvalidNotebook:
        return False  # read_source_notebook says what is wrong with it


def expand_in_sandbox(
    data: bytes, files: Mapping[str, bytes], autotests: bytes | None, hidden: Sequence[str]
) -> bytes:
    """nbgrader's InstantiateTests in a grading sandbox (blocking: call it in a thread), as a
    uid of the grading slot pool, in a job folder of its own."""
    from coursehub.graders.autotests import expand_autotests_sandboxed

    JOBS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    with sandbox_slot() as uid:
        # Left by a service that died while this slot's earlier holder expanded a notebook.
        for stale in JOBS_DIR.glob(f"autotests-{uid}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix=f"autotests-{uid}-", dir=JOBS_DIR) as workdir:
            return expand_autotests_sandboxed(
                data, files, autotests, workdir=Path(workdir), uid=uid, hidden_paths=tuple(hidden)
            )


async def prepare_source(
    data: bytes,
    files: Mapping[str, bytes],
    *,
    max_bytes: int,
    hidden: Sequence[str] = (),
) -> PreparedSource:
    """The uploaded source with ``files`` (all the assignment's files, autotests.yml among
    them), AUTOTEST directives expanded in a sandbox, validated as the engine reads it."""
    from coursehub.graders.assignment_notebooks import InvalidNotebook

    check_notebook_size(data, max_bytes)
    expanded = data
    if has_autotests(data):
        try:
            expanded = await asyncio.to_thread(
                expand_in_sandbox,
                data,
                assignment_files.for_notebook(files),
                files.get(assignment_files.AUTOTESTS),
                hidden,
            )
        except InvalidNotebook as error:
            raise AssignmentError(str(error)) from None
        except Exception as error:
            log.warning("Expanding AUTOTEST directives failed on the platform's side: %s", error)
            raise AssignmentError(
                "CourseHub could not expand the notebook's AUTOTEST directives: the sandbox "
                "that runs them failed without saying why (the service's log has the details). "
                "Check that the notebook runs from top to bottom, then upload it again.",
                503,
            ) from None
    source, student = read_source_notebook(expanded, max(max_bytes, len(expanded)))
    return PreparedSource(expanded, source, student, hashlib.sha256(data).hexdigest())


def check_gradable(prepared: PreparedSource) -> None:
    """An uploaded source must give points somewhere (nbgrader would grade it as 0 of 0)."""
    if not any(cell.kind in GRADED_KINDS for cell in prepared.source.cells):
        raise AssignmentError(
            "The notebook has no graded cells, so there is nothing to grade: mark at least "
            "one cell as 'Autograder tests' or 'Manually graded answer' (with points) in "
            "nbgrader's Create Assignment toolbar, save it and upload it again."
        )


def _apply_source(assignment: Assignment, prepared: PreparedSource) -> None:
    """The source as stored: AUTOTEST directives expanded; its SHA-256 is the upload's."""
    source = prepared.source
    assignment.source_notebook = json.loads(prepared.data)
    assignment.student_notebook = prepared.student
    assignment.source_sha256 = prepared.uploaded_sha256
    assignment.grade_cells = [
        {"grade_id": cell.grade_id, "kind": str(cell.kind), "max_points": cell.max_points}
        for cell in source.cells
    ]
    assignment.max_score = float(source.max_score)
    assignment.updated_at = utcnow()


async def _check_lesson(session: AsyncSession, course: Course, lesson_id: Any) -> int | None:
    if lesson_id in (None, ""):
        return None
    if isinstance(lesson_id, bool) or not isinstance(lesson_id, int | str):
        raise AssignmentError("lesson_id must be the id of an assignment lesson of this course.")
    try:
        number = int(lesson_id)
    except ValueError:
        raise AssignmentError(
            "lesson_id must be the id of an assignment lesson of this course."
        ) from None
    lesson = await session.scalar(
        select(Lesson)
        .join(Module, Module.id == Lesson.module_id)
        .where(Lesson.id == number, Module.course_id == course.id)
    )
    if lesson is None or lesson.kind is not LessonKind.ASSIGNMENT:
        raise AssignmentError(
            "That lesson is not an assignment lesson of this course; add an assignment lesson "
            "to the syllabus first, or leave lesson_id out."
        )
    return lesson.id


async def create_assignment(
    session: AsyncSession,
    course: Course,
    author: Account,
    data: bytes,
    *,
    title: str,
    lesson_id: Any = None,
    max_bytes: int,
    files: Mapping[str, bytes] | None = None,
    hidden: Sequence[str] = (),
    prepared: PreparedSource | None = None,
) -> Assignment:
    """A new assignment from the source ``data`` and its data files (relative path ->
    bytes, autotests.yml among them when the source has AUTOTEST directives). ``hidden``:
    folders the AUTOTEST sandbox must not see (the platform's data directory). ``prepared``:
    ``data`` already expanded and read (``assignment_files.prepare_source``)."""
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise AssignmentError("Give the assignment a title of 1 to 200 characters.")
    checked = assignment_files.check_files(files or {})
    lesson = await _check_lesson(session, course, lesson_id)
    if prepared is None:
        prepared = await prepare_source(data, checked, max_bytes=max_bytes, hidden=hidden)
        check_gradable(prepared)
    assignment = Assignment(
        course_id=course.id, title=title, created_by_id=author.id, lesson_id=lesson
    )
    _apply_source(assignment, prepared)
    session.add(assignment)
    await session.flush()
    await assignment_files.replace_files(session, assignment, checked)
    return assignment


async def replace_source(
    session: AsyncSession,
    assignment: Assignment,
    data: bytes,
    *,
    max_bytes: int,
    files: Mapping[str, bytes] | None = None,
    hidden: Sequence[str] = (),
) -> Assignment:
    """A corrected source; submissions already graded keep their grades. Without ``files``
    the stored data files stay (and a stored autotests.yml expands AUTOTEST directives);
    with them they replace the stored ones."""
    if files is None:
        checked = await assignment_files.stored_files(session, assignment.id)
    else:
        checked = assignment_files.check_files(files)
    prepared = await prepare_source(data, checked, max_bytes=max_bytes, hidden=hidden)
    check_gradable(prepared)
    _apply_source(assignment, prepared)
    if files is not None:
        await assignment_files.replace_files(session, assignment, checked)
    await session.flush()
    return assignment


# -- settings --------------------------------------------------------------------------------


def parse_time(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise AssignmentError(f"{name} must be an ISO 8601 date and time, or null.")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise AssignmentError(
            f"{name} must be an ISO 8601 date and time such as 2026-12-01T17:00:00Z."
        ) from None
    if moment.tzinfo is None:
        raise AssignmentError(f"{name} needs a time zone, for example a trailing Z for UTC.")
    return moment


def _number(value: Any, name: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AssignmentError(f"{name} must be a number from {low:g} to {high:g}.")
    if not low <= value <= high:
        raise AssignmentError(f"{name} must be a number from {low:g} to {high:g}.")
    return float(value)


async def update_settings(
    session: AsyncSession, assignment: Assignment, fields: dict[str, Any]
) -> Assignment:
    """Title, lesson, dates, attempt limit and late policy; ``release: true`` releases now."""
    if "title" in fields:
        title = str(fields["title"] or "").strip()
        if not title or len(title) > 200:
            raise AssignmentError("Give the assignment a title of 1 to 200 characters.")
        assignment.title = title
    for name in ("due_at", "cutoff_at", "released_at"):
        if name in fields:
            setattr(assignment, name, parse_time(fields[name], name))
    if fields.get("release") is True and assignment.released_at is None:
        assignment.released_at = utcnow()
    if fields.get("release") is False:
        assignment.released_at = None
    if "max_attempts" in fields:
        value = fields["max_attempts"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise AssignmentError("max_attempts must be a whole number from 1 to 1000, or null.")
        assignment.max_attempts = (
            None if value is None else int(_number(value, "max_attempts", low=1, high=1000))
        )
    if "late_penalty_percent" in fields:
        assignment.late_penalty_percent = _number(
            fields["late_penalty_percent"], "late_penalty_percent", low=0, high=100
        )
    if "late_penalty_unit" in fields:
        try:
            assignment.late_penalty_unit = LatePenaltyUnit(str(fields["late_penalty_unit"]).upper())
        except ValueError:
            raise AssignmentError("late_penalty_unit must be HOUR or DAY.") from None
    if "lesson_id" in fields:
        course = await session.get_one(Course, assignment.course_id)
        assignment.lesson_id = await _check_lesson(session, course, fields["lesson_id"])
    if assignment.due_at and assignment.cutoff_at and assignment.cutoff_at < assignment.due_at:
        raise AssignmentError("The cut-off must not be before the due date; move one of them.")
    assignment.updated_at = utcnow()
    await session.flush()
    if assignment.released_at is not None:
        # Each enrolled student's variant, when the source has a variant rule (else nothing).
        await variant_records.record_for_class(session, assignment)
    await notification_events.assignment_released(session, assignment)
    return assignment


async def grant_extension(
    session: AsyncSession,
    assignment: Assignment,
    student: Account,
    granted_by: Account,
    fields: dict[str, Any],
) -> AssignmentExtension:
    due_at = parse_time(fields.get("due_at"), "due_at")
    if due_at is None:
        raise AssignmentError("An extension needs its due_at, the student's own due date.")
    cutoff_at = parse_time(fields.get("cutoff_at"), "cutoff_at")
    if cutoff_at is not None and cutoff_at < due_at:
        raise AssignmentError("The cut-off must not be before the due date; move one of them.")
    extension = await session.scalar(
        select(AssignmentExtension).where(
            AssignmentExtension.assignment_id == assignment.id,
            AssignmentExtension.account_id == student.id,
        )
    )
    if extension is None:
        extension = AssignmentExtension(assignment_id=assignment.id, account_id=student.id)
        session.add(extension)
    extension.due_at = due_at
    extension.cutoff_at = cutoff_at
    extension.reason = str(fields.get("reason") or "")[:2000]
    extension.granted_by_id = granted_by.id
    await session.flush()
    return extension


async def extension_for(
    session: AsyncSession, assignment: Assignment, account_id: int
) -> AssignmentExtension | None:
    return await session.scalar(
        select(AssignmentExtension).where(
            AssignmentExtension.assignment_id == assignment.id,
            AssignmentExtension.account_id == account_id,
        )
    )


# -- deadlines and lateness ------------------------------------------------------------------


def deadline(assignment: Assignment, extension: AssignmentExtension | None) -> Deadline:
    if extension is None:
        return Deadline(assignment.due_at, assignment.cutoff_at, extended=False)
    cutoff = extension.cutoff_at
    if cutoff is None and assignment.cutoff_at is not None:
        # The course's cut-off, but never before the student's own due date.
        cutoff = max(assignment.cutoff_at, extension.due_at)
    return Deadline(extension.due_at, cutoff, extended=True)


def late_penalty_percent(assignment: Assignment, due: Deadline, received_at: datetime) -> float:
    """Percent taken off for lateness: the rate per started hour or day after the due date."""
    if due.due_at is None or received_at <= due.due_at:
        return 0.0
    late_units = math.ceil((received_at - due.due_at) / UNIT_LENGTH[assignment.late_penalty_unit])
    return min(100.0, late_units * assignment.late_penalty_percent)


def apply_penalty(score: float, percent: float) -> float:
    return round(max(0.0, score * (1 - percent / 100)), 4)


# -- access ----------------------------------------------------------------------------------


def is_released(assignment: Assignment, now: datetime | None = None) -> bool:
    return assignment.released_at is not None and assignment.released_at <= (now or utcnow())


async def check_student_access(session: AsyncSession, account: Account, course: Course) -> bool:
    """True for the course's staff, False for its students; anyone else is refused."""
    place = await membership(session, account, course)
    if place.manages:
        return True
    if not place.enrolled:
        raise AssignmentError(
            f"Assignments of {course.title} are for its students: enroll in the course first.",
            403,
        )
    return False


async def course_assignments(
    session: AsyncSession, course: Course, *, staff: bool
) -> list[Assignment]:
    query = select(Assignment).where(Assignment.course_id == course.id)
    if not staff:
        query = query.where(Assignment.released_at <= utcnow())
    return list(await session.scalars(query.order_by(Assignment.due_at, Assignment.id)))


async def assignment_in_course(
    session: AsyncSession, course: Course, assignment_id: int, *, staff: bool
) -> Assignment:
    assignment = await session.get(Assignment, assignment_id)
    if (
        assignment is None
        or assignment.course_id != course.id
        or (not staff and not is_released(assignment))
    ):
        raise AssignmentError(
            "This course has no such assignment; check the address or the assignment list.", 404
        )
    return assignment


def assignment_json(
    assignment: Assignment, due: Deadline | None = None, *, staff: bool = False
) -> dict[str, Any]:
    due = due or deadline(assignment, None)
    body: dict[str, Any] = {
        "id": assignment.id,
        "course_id": assignment.course_id,
        "lesson_id": assignment.lesson_id,
        "title": assignment.title,
        "max_score": assignment.max_score,
        "released_at": assignment.released_at,
        "due_at": due.due_at,
        "cutoff_at": due.cutoff_at,
        "extended": due.extended,
        "max_attempts": assignment.max_attempts,
        "late_penalty_percent": assignment.late_penalty_percent,
        "late_penalty_unit": assignment.late_penalty_unit.value,
        "grade_cells": assignment.grade_cells,
    }
    if staff:
        body["course_due_at"] = assignment.due_at
        body["course_cutoff_at"] = assignment.cutoff_at
        body["source_sha256"] = assignment.source_sha256
    return body
