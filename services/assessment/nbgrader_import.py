"""``coursehub import-nbgrader``: an existing nbgrader course directory becomes a CourseHub
course's assignments, students, enrollments, submissions and grades, in one transaction.

- Each ``source/<assignment>/<notebook>.ipynb`` becomes an assignment made as the API makes
  one (validated, student version built by nbgrader's own steps), titled ``<assignment>``, or
  ``<assignment> / <notebook>`` when the nbgrader assignment has several notebooks, since a
  CourseHub assignment is one notebook. The files beside it (not notebooks, not
  ``.ipynb_checkpoints``) become its data files; AUTOTEST directives are expanded with the
  ``autotests.yml`` nbgrader would use, in a grading sandbox, as an upload's are. The
  gradebook's due date comes along; nothing is released unless asked.
- Each student (gradebook.db and ``submitted/``) gets a STUDENT account named by their nbgrader
  id unless one exists, with no password (they reset it, or sign in with Google, by their
  email), and is enrolled, whatever the course's status or price: the instructor adds them.
- Each submitted notebook becomes attempt 1 (or the next attempt), kept byte for byte with
  its SHA-256, received at nbgrader's ``timestamp.txt`` time. Where gradebook.db has its
  grades, a grade with nbgrader's per-cell scores is written and nothing runs again; the
  others wait QUEUED, with no job, for the autograder.

Running it again changes nothing: assignments are matched by title in the course, accounts by
user name, submissions by SHA-256. A notebook that cannot be used stops the whole import
before anything is committed. A dry run does all the work and rolls it back.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services.accounts import accounts
from coursehub.services.assessment import assignment_files, assignments, submissions
from coursehub.services.assessment.assignments import AssignmentError, PreparedSource
from coursehub.services.assessment.nbgrader_gradebook import (
    CourseFolder,
    GradebookStudent,
    NotAnNbgraderCourse,
    NotebookGrades,
    SourceNotebook,
    SubmittedFolder,
    read_course_folder,
    submission_time,
)
from coursehub.services.courses.enrollment import course_by_slug, is_staff_of
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Account,
    Assignment,
    Course,
    Enrollment,
    Grade,
    Submission,
    SubmissionStatus,
)
from coursehub.services.notebook_runs import source_check_records
from coursehub.services.settings import data_dir_from_env, megabytes

# JupyterHub user names as CourseHub keeps them (lower case, no spaces or slashes).
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,63}$")
GRADED_CELL_KINDS = ("autograded_test", "manual", "task")
IMPORTED_MESSAGE = "Imported from nbgrader's gradebook; CourseHub did not run it again."
WAITING_MESSAGE = "Imported from nbgrader without a grade; it waits for the autograder."


class ImportRefused(ValueError):
    """Nothing was imported; the message says why and what to do."""


@dataclass(frozen=True)
class ImportOptions:
    course_slug: str
    instructor: str | None = None
    release: bool = False
    max_bytes: int = 20 * 1024 * 1024


@dataclass
class ImportSummary:
    """What the import did (or, in a dry run, would do)."""

    assignments_made: list[str] = field(default_factory=list)
    assignments_kept: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    accounts_made: list[str] = field(default_factory=list)
    accounts_found: list[str] = field(default_factory=list)
    enrolled: int = 0
    submissions_made: int = 0
    submissions_kept: int = 0
    grades_made: int = 0
    left_queued: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self, course: Course, root: Path, *, dry_run: bool) -> list[str]:
        verb = "would be" if dry_run else "were"
        lines = [
            f"Dry run: nothing was written. Importing {root} into {course.title} "
            f"({course.slug}) would do this:"
            if dry_run
            else f"Imported the nbgrader course {root} into {course.title} ({course.slug}):",
            f"  assignments: {len(self.assignments_made)} made, "
            f"{len(self.assignments_kept)} already there"
            + _names(self.assignments_made + self.assignments_kept),
            f"  released: {', '.join(self.released) or 'none (use --release to release them)'}",
            f"  students: {len(self.accounts_made)} accounts made, "
            f"{len(self.accounts_found)} already had one; {self.enrolled} newly enrolled",
            f"  submissions: {self.submissions_made} imported, {self.submissions_kept} "
            "already there",
            f"  grades: {self.grades_made} imported from gradebook.db",
        ]
        if self.left_queued:
            lines.append(
                f"  {self.left_queued} submission(s) had no grade in gradebook.db and {verb} "
                'left queued without a job: use "Autograde all" on the assignment to grade them.'
            )
        if self.problems:
            lines.append(f"  problems ({len(self.problems)}):")
            lines += [f"    - {problem}" for problem in self.problems]
        else:
            lines.append("  problems: none")
        if self.notes:
            lines.append("  notes:")
            lines += [f"    - {note}" for note in self.notes]
        return lines


def _names(titles: list[str]) -> str:
    return f" ({', '.join(titles)})" if titles else ""


# -- course and author -----------------------------------------------------------------------


async def _course_and_author(
    session: AsyncSession, options: ImportOptions
) -> tuple[Course, Account]:
    course = await course_by_slug(session, options.course_slug)
    if course is None:
        raise ImportRefused(
            f"No course has the slug {options.course_slug!r}. Create the course first, or "
            "copy its slug from the course's address."
        )
    if options.instructor is None:
        return course, await session.get_one(Account, course.instructor_id)
    author = await session.scalar(
        select(Account).where(Account.username == options.instructor.lower())
    )
    if author is None or not is_staff_of(author, course):
        raise ImportRefused(
            f"{options.instructor!r} is not the instructor of {course.title} or an "
            "administrator; give their user name, or leave --instructor out."
        )
    return course, author


# -- assignments -----------------------------------------------------------------------------


def _source_files(source: SourceNotebook, data: bytes) -> dict[str, bytes]:
    """The files beside the source notebook (not notebooks, not .ipynb_checkpoints) and, when
    it has AUTOTEST directives, the autotests.yml nbgrader would use for it (beside it or at
    the course's root)."""
    from coursehub.graders.assignment_notebooks import files_beside
    from coursehub.graders.autotests import AUTOTESTS, find_autotests

    files = files_beside(source.path)
    found = find_autotests(source.path.parent)
    if found is not None and assignments.has_autotests(data):
        files[AUTOTESTS] = found.read_bytes()
    return files


async def _check_sources(
    folder: CourseFolder, max_bytes: int
) -> dict[SourceNotebook, tuple[bytes, dict[str, bytes], PreparedSource]]:
    """Every source notebook read with its data files, AUTOTEST directives expanded, and
    validated before anything is written."""
    from coursehub.graders.assignment_notebooks import InvalidNotebook

    hidden = (str(data_dir_from_env()),) if os.environ.get("COURSEHUB_DATA_DIR") else ()
    checked: dict[SourceNotebook, tuple[bytes, dict[str, bytes], PreparedSource]] = {}
    for source in folder.sources:
        data = source.path.read_bytes()
        try:
            files = assignment_files.check_files(_source_files(source, data))
            prepared = await assignments.prepare_source(
                data, files, max_bytes=max_bytes, hidden=hidden
            )
        except (Refusal, InvalidNotebook) as error:
            message = error.message if isinstance(error, Refusal) else str(error)
            raise ImportRefused(
                f"Nothing was imported: {source.path.relative_to(folder.root)} cannot be used. "
                f"{message} Fix or remove that notebook, then run the import again."
            ) from None
        checked[source] = (data, files, prepared)
    return checked


async def _import_assignment(
    session: AsyncSession,
    course: Course,
    author: Account,
    source: SourceNotebook,
    checked: tuple[bytes, dict[str, bytes], PreparedSource],
    due_at: datetime | None,
    options: ImportOptions,
    summary: ImportSummary,
) -> Assignment:
    found = await session.scalar(
        select(Assignment)
        .where(Assignment.course_id == course.id, Assignment.title == source.title)
        .order_by(Assignment.id)
        .limit(1)
    )
    data, files, prepared = checked
    if found is None:
        found = await assignments.create_assignment(
            session,
            course,
            author,
            data,
            title=source.title,
            max_bytes=options.max_bytes,
            files=files,
            prepared=prepared,
        )
        fields = {"due_at": due_at.isoformat()} if due_at else {}
        await assignments.update_settings(session, found, fields)
        # checked as an upload is: the solution passes its tests, the released version fails
        await source_check_records.queue_check(session, found)
        summary.assignments_made.append(source.title)
    else:
        summary.assignments_kept.append(source.title)
        if found.source_sha256 != hashlib.sha256(data).hexdigest():
            summary.problems.append(
                f"The assignment {source.title!r} was already in the course with another "
                f"source than source/{source.assignment}/{source.name}.ipynb; it was kept as "
                "it is. Replace its source on CourseHub if nbgrader's is the right one."
            )
    if options.release and found.released_at is None:
        await assignments.update_settings(session, found, {"release": True})
        summary.released.append(source.title)
    return found


async def _import_assignments(
    session: AsyncSession,
    folder: CourseFolder,
    course: Course,
    author: Account,
    options: ImportOptions,
    summary: ImportSummary,
) -> dict[tuple[str, str], tuple[SourceNotebook, Assignment]]:
    """By (nbgrader assignment, notebook name)."""
    checked = await _check_sources(folder, options.max_bytes)
    due_dates = folder.gradebook.due_dates if folder.gradebook else {}
    made: dict[tuple[str, str], tuple[SourceNotebook, Assignment]] = {}
    for source, prepared in checked.items():
        assignment = await _import_assignment(
            session,
            course,
            author,
            source,
            prepared,
            due_dates.get(source.assignment),
            options,
            summary,
        )
        made[(source.assignment, source.name)] = (source, assignment)
    if folder.gradebook:
        named = {source.assignment for source in folder.sources}
        for missing in sorted(set(folder.gradebook.due_dates) - named):
            summary.problems.append(
                f"gradebook.db has an assignment {missing!r} with no notebook under source/; "
                "it was not imported."
            )
    return made


# -- students --------------------------------------------------------------------------------


async def _usable_email(
    session: AsyncSession, username: str, known: GradebookStudent | None, summary: ImportSummary
) -> str | None:
    if known is None or not known.email:
        summary.problems.append(
            f"{username} has no email in gradebook.db, so they cannot reset a password to "
            "sign in; give their CourseHub account an email."
        )
        return None
    try:
        email = accounts.normalise_email(known.email)
    except accounts.AccountError:
        summary.problems.append(
            f"{username}'s email in gradebook.db, {known.email!r}, is not valid; their "
            "CourseHub account has none, so give it one."
        )
        return None
    if await accounts.find_by_email(session, email) is not None:
        summary.problems.append(
            f"{username}'s email {email} already belongs to another CourseHub account; "
            f"{username}'s new account has none, so give it one."
        )
        return None
    return email


async def _new_student(
    session: AsyncSession, username: str, known: GradebookStudent | None, summary: ImportSummary
) -> Account:
    email = await _usable_email(session, username, known, summary)
    name = (known.name if known else "") or username
    # No password: they set one through a reset link, or sign in with Google, by email.
    account = Account(username=username, name=name[:200], email=email, role=Role.STUDENT)
    session.add(account)
    await session.flush()
    return account


async def _import_students(
    session: AsyncSession, folder: CourseFolder, course: Course, summary: ImportSummary
) -> dict[str, Account]:
    """By nbgrader student id; ids that cannot be CourseHub user names are left out."""
    ids = set(folder.gradebook.students) if folder.gradebook else set()
    ids |= {submitted.student for submitted in folder.submitted}
    students: dict[str, Account] = {}
    for student_id in sorted(ids):
        username = student_id.lower()
        if not USERNAME.match(username):
            summary.problems.append(
                f"The nbgrader student id {student_id!r} cannot be a CourseHub user name "
                "(letters, digits and . _ @ + -, at most 64); that student was not imported."
            )
            continue
        account = await session.scalar(select(Account).where(Account.username == username))
        if account is None:
            known = folder.gradebook.students.get(student_id) if folder.gradebook else None
            account = await _new_student(session, username, known, summary)
            summary.accounts_made.append(username)
        else:
            summary.accounts_found.append(username)
        enrolled = await session.scalar(
            insert(Enrollment)
            .values(account_id=account.id, course_id=course.id)
            .on_conflict_do_nothing(index_elements=["account_id", "course_id"])
            .returning(Enrollment.id)
        )
        summary.enrolled += enrolled is not None
        students[student_id] = account
    return students


# -- submissions and grades ------------------------------------------------------------------


def _grade_cells(assignment: Assignment, grades: NotebookGrades) -> list[dict[str, Any]] | None:
    """CourseHub's grade cells from nbgrader's, or None when they are not the same cells."""
    wanted = {
        cell["grade_id"]: cell
        for cell in assignment.grade_cells
        if cell["kind"] in GRADED_CELL_KINDS
    }
    scored = {cell.grade_id: cell for cell in grades.cells}
    if set(wanted) != set(scored) or any(
        abs(float(wanted[g]["max_points"]) - scored[g].max_score) > 1e-9 for g in wanted
    ):
        return None
    return [
        {
            "grade_id": grade_id,
            "kind": spec["kind"],
            "score": scored[grade_id].score,
            "max_points": spec["max_points"],
            "feedback": grades.comments.get(grade_id, ""),
            "nbgrader": {
                "auto_score": scored[grade_id].auto_score,
                "manual_score": scored[grade_id].manual_score,
                "extra_credit": scored[grade_id].extra_credit,
            },
        }
        for grade_id, spec in wanted.items()
    ]


def _add_grade(
    session: AsyncSession,
    submission: Submission,
    assignment: Assignment,
    grades: NotebookGrades,
    cells: list[dict[str, Any]],
) -> None:
    score = sum(float(cell["score"]) for cell in cells if cell["score"] is not None)
    penalty = submission.late_penalty_percent
    session.add(
        Grade(
            submission_id=submission.id,
            outcome="graded",
            message=IMPORTED_MESSAGE,
            cells=cells,
            score=score,
            max_score=assignment.max_score,
            late_penalty_percent=penalty,
            final_score=assignments.apply_penalty(score, penalty),
            flags=[],
            needs_manual=any(cell.needs_manual for cell in grades.cells),
            feedback_notebook=None,
        )
    )
    submission.status = SubmissionStatus.GRADED
    submission.status_message = ""


async def _received_at(
    session: AsyncSession, folder: CourseFolder, submitted: SubmittedFolder, summary: ImportSummary
) -> datetime:
    """nbgrader's timestamp.txt; else the gradebook's time; else now."""
    try:
        moment = submission_time(submitted.path)
    except ValueError as error:
        summary.problems.append(
            f"{submitted.path.relative_to(folder.root)}/timestamp.txt: {error}; the "
            "gradebook's time (or the time of the import) was used."
        )
        moment = None
    if moment is None and folder.gradebook:
        moment = folder.gradebook.timestamps.get((submitted.assignment, submitted.student))
    if moment is None:
        moment = await session.scalar(select(func.now()))
    assert moment is not None
    return moment


async def _new_submission(
    session: AsyncSession,
    assignment: Assignment,
    student: Account,
    data: bytes,
    sha256: str,
    received_at: datetime,
) -> Submission:
    done = await session.scalar(
        select(func.count(Submission.id)).where(
            Submission.assignment_id == assignment.id, Submission.account_id == student.id
        )
    )
    due = assignments.deadline(
        assignment, await assignments.extension_for(session, assignment, student.id)
    )
    submission = Submission(
        assignment_id=assignment.id,
        account_id=student.id,
        attempt=(done or 0) + 1,
        received_at=received_at,
        sha256=sha256,
        notebook=data,
        size=len(data),
        late_penalty_percent=assignments.late_penalty_percent(assignment, due, received_at),
        status=SubmissionStatus.QUEUED,
        status_message=WAITING_MESSAGE,
    )
    session.add(submission)
    await session.flush()
    return submission


async def _import_notebook(
    session: AsyncSession,
    folder: CourseFolder,
    submitted: SubmittedFolder,
    source: SourceNotebook,
    assignment: Assignment,
    student: Account,
    max_bytes: int,
    summary: ImportSummary,
) -> None:
    path = submitted.path / f"{source.name}.ipynb"
    where = path.relative_to(folder.root)
    if not path.is_file():
        summary.problems.append(f"{where} is missing; nothing was imported for it.")
        return
    data = path.read_bytes()
    try:
        submissions.check_notebook(data, assignment, max_bytes)
    except AssignmentError as error:
        raise ImportRefused(
            f"Nothing was imported: {where} cannot be used. {error.message} Fix or remove "
            "that notebook, then run the import again."
        ) from None
    sha256 = hashlib.sha256(data).hexdigest()
    submission = await session.scalar(
        select(Submission).where(
            Submission.assignment_id == assignment.id,
            Submission.account_id == student.id,
            Submission.sha256 == sha256,
        )
    )
    if submission is None:
        received_at = await _received_at(session, folder, submitted, summary)
        submission = await _new_submission(session, assignment, student, data, sha256, received_at)
        summary.submissions_made += 1
    else:
        summary.submissions_kept += 1
    if await session.scalar(select(Grade.id).where(Grade.submission_id == submission.id)):
        return
    key = (submitted.assignment, submitted.student, source.name)
    grades = folder.gradebook.grades.get(key) if folder.gradebook else None
    cells = _grade_cells(assignment, grades) if grades else None
    if grades is not None and cells is None:
        summary.problems.append(
            f"gradebook.db grades {where} on other cells or points than its source; that "
            "submission waits for the autograder instead."
        )
    if grades is not None and cells is not None:
        _add_grade(session, submission, assignment, grades, cells)
        summary.grades_made += 1
    elif submission.status is SubmissionStatus.QUEUED and submission.job_id is None:
        summary.left_queued += 1


async def _import_submissions(
    session: AsyncSession,
    folder: CourseFolder,
    made: dict[tuple[str, str], tuple[SourceNotebook, Assignment]],
    students: dict[str, Account],
    max_bytes: int,
    summary: ImportSummary,
) -> None:
    for submitted in folder.submitted:
        notebooks = [pair for key, pair in made.items() if key[0] == submitted.assignment]
        if not notebooks:
            summary.problems.append(
                f"submitted/{submitted.student}/{submitted.assignment} is for an assignment "
                "with no notebook under source/; it was not imported."
            )
            continue
        student = students.get(submitted.student)
        if student is None:
            continue  # its id was reported with the students
        for source, assignment in notebooks:
            await _import_notebook(
                session, folder, submitted, source, assignment, student, max_bytes, summary
            )
        await session.flush()


# -- the whole import ------------------------------------------------------------------------


async def import_nbgrader(
    session: AsyncSession, folder: CourseFolder, options: ImportOptions
) -> tuple[Course, ImportSummary]:
    """Import ``folder`` into the course; the caller commits (or rolls back a dry run)."""
    course, author = await _course_and_author(session, options)
    summary = ImportSummary(notes=list(folder.notes))
    made = await _import_assignments(session, folder, course, author, options, summary)
    students = await _import_students(session, folder, course, summary)
    await _import_submissions(session, folder, made, students, options.max_bytes, summary)
    return course, summary


async def _run(database_url: str, folder: CourseFolder, options: ImportOptions, dry_run: bool):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            course, summary = await import_nbgrader(session, folder, options)
            # Written before a rollback expires the course it names.
            lines = summary.lines(course, folder.root, dry_run=dry_run)
            if dry_run:
                await session.rollback()
            else:
                await session.commit()
            return lines
    finally:
        await engine.dispose()


def run_import(
    database_url: str,
    path: Path,
    *,
    course_slug: str,
    instructor: str | None = None,
    release: bool = False,
    dry_run: bool = False,
) -> list[str]:
    """The command's work: the summary's lines, or ImportRefused with a sentence."""
    options = ImportOptions(
        course_slug=course_slug,
        instructor=instructor,
        release=release,
        max_bytes=megabytes(dict(os.environ), "COURSEHUB_MAX_NOTEBOOK_MB", 20),
    )
    try:
        folder = read_course_folder(path)
    except NotAnNbgraderCourse as error:
        raise ImportRefused(str(error)) from None
    return asyncio.run(_run(database_url, folder, options, dry_run))
