"""``coursehub export-nbgrader``: a CourseHub course's notebook assignments written out as an
nbgrader course directory that ``nbgrader`` itself reads, the inverse of
``coursehub import-nbgrader``.

What the directory holds:

- ``nbgrader_config.py``: the course id (the course's slug) and the database URL of the
  ``gradebook.db`` beside it, whatever folder it is moved to.
- ``source/<assignment>/<assignment>.ipynb`` and the assignment's data files (autotests.yml
  among them): the instructor's source as CourseHub keeps it (AUTOTEST directives expanded).
- ``release/<assignment>/``: the student version CourseHub made with nbgrader's own steps,
  with the data files students get.
- ``submitted/<student>/<assignment>/``: the attempt CourseHub's gradebook counts for each
  student (their best graded attempt; else their latest), byte for byte, with nbgrader's
  ``timestamp.txt``.
- ``autograded/<student>/<assignment>/``: the graded notebook CourseHub made for that attempt,
  where it has one; ``feedback/<student>/<assignment>/<assignment>.html``: that notebook as
  HTML, for assignments whose feedback staff released.
- ``gradebook.db``, written through nbgrader's Gradebook API: the enrolled students, the
  assignments with their due dates, each notebook's cells (recorded by nbgrader's own
  ``SaveCells`` step, as ``nbgrader generate_assignment`` records them) and each counted
  attempt's grades: the autograder's score as ``auto_score``, a person's as
  ``manual_score``, their comments, and the late penalty in points. An attempt still waiting
  for the grading worker is under ``submitted/`` only, as one nbgrader has not autograded.

``nbgrader export`` then gives each student CourseHub's figure: nbgrader's score is the cells'
(a person's score over the autograder's), less the late penalty. CourseHub's score override
of a whole attempt has no nbgrader counterpart; it is written as extra credit on the first
scored cell (the difference between the override and the cells' sum), so totals still agree.

Each assignment is one nbgrader assignment with one notebook, both named after its title
(characters nbgrader or file systems dislike become ``-``); students are named by their
CourseHub user names.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment import assignment_files
from coursehub.services.assessment.assignments import GRADED_KINDS
from coursehub.services.assessment.gradebook import course_gradebook
from coursehub.services.assessment.nbgrader_gradebook import GRADEBOOK
from coursehub.services.courses.enrollment import course_by_slug
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Assignment,
    Course,
    FeedbackRelease,
    Grade,
    ManualScore,
    ScoreOverride,
    Submission,
)

if TYPE_CHECKING:
    from nbgrader.api import Gradebook

CONFIG = "nbgrader_config.py"
# What the export writes at the top of the directory; --force replaces these and nothing else.
WRITTEN = (CONFIG, GRADEBOOK, "source", "release", "submitted", "autograded", "feedback")
UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


class ExportRefused(Refusal):
    """Nothing was written; the message says why and what to do."""


# -- what is exported ------------------------------------------------------------------------


@dataclass(frozen=True)
class CellGrade:
    """One graded cell of an exported attempt, as nbgrader's ``Grade`` row holds it."""

    grade_id: str
    auto_score: float | None
    manual_score: float | None
    extra_credit: float | None
    needs_manual: bool
    comment: str | None

    @property
    def score(self) -> float:
        """nbgrader's ``Grade.score``."""
        base = self.manual_score if self.manual_score is not None else self.auto_score
        return 0.0 if base is None else base + (self.extra_credit or 0.0)


@dataclass(frozen=True)
class ExportedAttempt:
    username: str
    received_at: datetime
    notebook: bytes
    cells: tuple[CellGrade, ...] | None  # None: not graded yet
    late_penalty_points: float
    graded_notebook: dict[str, Any] | None
    score: float | None  # CourseHub's, before the late penalty


@dataclass
class ExportedAssignment:
    name: str  # nbgrader's assignment (and notebook) name
    title: str
    due_at: datetime | None
    source: dict[str, Any]
    student_version: dict[str, Any]
    files: dict[str, bytes]
    feedback_released: bool
    attempts: list[ExportedAttempt] = field(default_factory=list)


@dataclass(frozen=True)
class ExportedStudent:
    username: str
    first_name: str
    last_name: str
    email: str


@dataclass
class CourseExport:
    slug: str
    title: str
    assignments: list[ExportedAssignment]
    students: list[ExportedStudent]
    notes: list[str] = field(default_factory=list)


def nbgrader_name(title: str, taken: set[str]) -> str:
    """A folder name for ``title`` that nbgrader accepts (no ``+``, no slashes), unique
    among ``taken``."""
    name = UNSAFE.sub("-", title).strip(" .-")[:100] or "assignment"
    unique, number = name, 2
    while unique.lower() in taken:
        unique, number = f"{name}-{number}", number + 1
    taken.add(unique.lower())
    return unique


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().rpartition(" ")
    return (first, last) if first else (last, "")


# -- reading the course ----------------------------------------------------------------------


async def course_to_export(session: AsyncSession, slug: str) -> Course:
    course = await course_by_slug(session, slug)
    if course is None:
        raise ExportRefused(
            f"No course has the slug {slug!r}; copy the slug from the course's address.", 404
        )
    return course


def _cells(
    assignment: Assignment,
    grade: Grade,
    manual: dict[str, ManualScore],
    override: float | None,
) -> tuple[CellGrade, ...]:
    engine = {cell.get("grade_id"): cell for cell in grade.cells}
    cells = []
    for spec in assignment.grade_cells:
        if spec["kind"] not in GRADED_KINDS:
            continue
        grade_id = spec["grade_id"]
        auto = engine.get(grade_id, {}).get("score")
        person = manual.get(grade_id)
        given = person.score if person is not None else None
        cells.append(
            CellGrade(
                grade_id,
                None if auto is None else float(auto),
                given,
                None,
                auto is None and given is None,
                (person.comment or None) if person is not None else None,
            )
        )
    if override is None or not cells:
        return tuple(cells)
    # A score override settles the attempt: it becomes extra credit on the first scored cell.
    difference = round(override - sum(cell.score for cell in cells), 4)
    scored = next(
        (i for i, c in enumerate(cells) if c.auto_score is not None or c.manual_score is not None),
        0,
    )
    settled = []
    for index, cell in enumerate(cells):
        manual_score = cell.manual_score
        if index == scored and cell.auto_score is None and manual_score is None:
            manual_score = 0.0
        extra = difference if index == scored and difference else None
        settled.append(
            CellGrade(cell.grade_id, cell.auto_score, manual_score, extra, False, cell.comment)
        )
    return tuple(settled)


async def _counted_attempts(
    session: AsyncSession, course: Course
) -> tuple[list[ExportedStudent], dict[int, str], dict[int, dict[int, int]]]:
    """The enrolled students, their user names by account id, and by assignment the attempt
    each one's gradebook cell counts (their best graded attempt; else their latest)."""
    book = await course_gradebook(session, course)
    students = [
        ExportedStudent(row.username, *_split_name(row.name), row.email) for row in book.students
    ]
    usernames = {row.account_id: row.username for row in book.students}
    counted: dict[int, dict[int, int]] = {}
    for row in book.students:
        for key, cell in row.cells.items():
            kind, _, number = key.partition("-")
            if kind == "assignment" and cell.submission_id is not None:
                counted.setdefault(int(number), {})[row.account_id] = cell.submission_id
    attempts = await session.execute(
        select(Submission.assignment_id, Submission.account_id, Submission.id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Assignment.course_id == course.id, Submission.account_id.in_(list(usernames)))
        .order_by(Submission.attempt)
    )
    latest = {(a, account): submission for a, account, submission in attempts}
    for (assignment_id, account_id), submission_id in latest.items():
        counted.setdefault(assignment_id, {}).setdefault(account_id, submission_id)
    return students, usernames, counted


async def _attempt(
    session: AsyncSession, assignment: Assignment, submission_id: int, username: str
) -> ExportedAttempt:
    submission = await session.get_one(Submission, submission_id)
    grade = await session.scalar(select(Grade).where(Grade.submission_id == submission_id))
    if grade is None:
        return ExportedAttempt(
            username, submission.received_at, submission.notebook, None, 0.0, None, None
        )
    manual = {
        row.grade_id: row
        for row in await session.scalars(
            select(ManualScore).where(ManualScore.submission_id == submission_id)
        )
    }
    override = await session.scalar(
        select(ScoreOverride.score).where(ScoreOverride.submission_id == submission_id)
    )
    return ExportedAttempt(
        username,
        submission.received_at,
        submission.notebook,
        _cells(assignment, grade, manual, override),
        round(max(0.0, grade.score - grade.final_score), 4),
        grade.feedback_notebook,
        grade.score,
    )


def _check_totals(exported: ExportedAssignment, notes: list[str]) -> None:
    for attempt in exported.attempts:
        if attempt.cells is None or attempt.score is None:
            continue
        theirs = round(sum(cell.score for cell in attempt.cells), 4)
        if abs(theirs - attempt.score) > 1e-6:
            notes.append(
                f"{attempt.username}'s grade of {exported.title!r} ({attempt.score:g}) was given "
                "on other cells than the assignment's source has now; nbgrader's gradebook "
                f"counts {theirs:g}. Regrade it on CourseHub to bring them together."
            )


async def collect(session: AsyncSession, course: Course) -> CourseExport:
    """Everything the directory will hold, read in one session."""
    students, usernames, counted = await _counted_attempts(session, course)
    released = set(
        await session.scalars(
            select(FeedbackRelease.assignment_id)
            .join(Assignment, Assignment.id == FeedbackRelease.assignment_id)
            .where(Assignment.course_id == course.id)
        )
    )
    export = CourseExport(course.slug, course.title, [], students)
    taken: set[str] = set()
    found = await session.scalars(
        select(Assignment).where(Assignment.course_id == course.id).order_by(Assignment.id)
    )
    for assignment in list(found):
        exported = ExportedAssignment(
            nbgrader_name(assignment.title, taken),
            assignment.title,
            assignment.due_at,
            assignment.source_notebook,
            assignment.student_notebook,
            await assignment_files.stored_files(session, assignment.id),
            assignment.id in released,
        )
        for account_id, submission_id in sorted(counted.get(assignment.id, {}).items()):
            username = usernames[account_id]
            exported.attempts.append(await _attempt(session, assignment, submission_id, username))
        _check_totals(exported, export.notes)
        if exported.name != assignment.title:
            export.notes.append(
                f"The assignment {assignment.title!r} is the nbgrader assignment "
                f"{exported.name!r} (a folder name cannot hold some of its characters)."
            )
        export.assignments.append(exported)
    return export


# -- writing the directory -------------------------------------------------------------------


def _utc_naive(moment: datetime | None) -> datetime | None:
    """nbgrader keeps times as naive UTC."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _timestamp(moment: datetime) -> str:
    """nbgrader's own timestamp.txt format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _write_json(path: Path, notebook: dict[str, Any]) -> None:
    """The notebook as CourseHub keeps it, in Jupyter's own layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _node(notebook: dict[str, Any]) -> Any:
    """An nbformat notebook (multi-line sources joined, as nbformat reads a file)."""
    import nbformat

    return nbformat.reads(json.dumps(notebook), as_version=4)


def _inside(folder: Path, *parts: str) -> Path:
    """``folder/parts...``, refused if a part would lead out of ``folder`` (user names and
    data file paths are checked when they are made; this keeps the export safe regardless)."""
    path = folder.joinpath(*parts)
    if any(part in ("", ".", "..") or "/" in part or "\\" in part for part in parts):
        raise ExportRefused(f"{'/'.join(parts)!r} cannot be a path in the export.", 500)
    return path


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        path = _inside(folder, *relative.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _config_text(slug: str, title: str) -> str:
    return (
        f"# nbgrader configuration of {title!r}, exported from CourseHub.\n"
        "import os\n\n"
        "c = get_config()  # noqa: F821 (nbgrader defines it)\n"
        "here = os.path.dirname(os.path.abspath(__file__))\n"
        f"c.CourseDirectory.course_id = {slug!r}\n"
        "c.CourseDirectory.root = here\n"
        'c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "gradebook.db")\n'
    )


def _feedback_html(notebook: dict[str, Any]) -> str:
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter().from_notebook_node(_node(notebook))
    return html


def _write_files_tree(root: Path, export: CourseExport) -> dict[str, int]:
    counts = {"submitted": 0, "autograded": 0, "feedback": 0}
    (root / CONFIG).write_text(_config_text(export.slug, export.title), encoding="utf-8")
    for assignment in export.assignments:
        name = assignment.name
        _write_json(root / "source" / name / f"{name}.ipynb", assignment.source)
        _write_files(root / "source" / name, assignment.files)
        _write_json(root / "release" / name / f"{name}.ipynb", assignment.student_version)
        _write_files(root / "release" / name, assignment_files.for_notebook(assignment.files))
        for attempt in assignment.attempts:
            folder = _inside(root / "submitted", attempt.username, name)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.ipynb").write_bytes(attempt.notebook)
            (folder / "timestamp.txt").write_text(_timestamp(attempt.received_at))
            counts["submitted"] += 1
            if attempt.graded_notebook is None:
                continue
            graded = _inside(root / "autograded", attempt.username, name)
            _write_json(graded / f"{name}.ipynb", attempt.graded_notebook)
            (graded / "timestamp.txt").write_text(_timestamp(attempt.received_at))
            counts["autograded"] += 1
            if assignment.feedback_released:
                feedback = _inside(root / "feedback", attempt.username, name)
                feedback.mkdir(parents=True, exist_ok=True)
                html = _feedback_html(attempt.graded_notebook)
                (feedback / f"{name}.html").write_text(html, encoding="utf-8")
                (feedback / "timestamp.txt").write_text(_timestamp(attempt.received_at))
                counts["feedback"] += 1
    return counts


def _record_cells(db_url: str, assignment: ExportedAssignment) -> None:
    """The notebook's cells recorded as ``nbgrader generate_assignment`` records them: its
    solutions cleared and checksums computed, then nbgrader's SaveCells."""
    from nbgrader.preprocessors import ClearSolutions, ComputeChecksums, SaveCells

    notebook = _node(assignment.source)
    resources: dict[str, Any] = {
        "nbgrader": {"db_url": db_url, "assignment": assignment.name, "notebook": assignment.name}
    }
    for step in (ClearSolutions(), ComputeChecksums(), SaveCells()):
        notebook, resources = step.preprocess(notebook, resources)


def _record_grades(book: Gradebook, assignment: ExportedAssignment) -> int:
    from nbgrader.api import MissingEntry

    graded = 0
    name = assignment.name
    for attempt in assignment.attempts:
        if attempt.cells is None:
            continue  # as in nbgrader before autograding: under submitted/ only
        book.add_submission(name, attempt.username, timestamp=_utc_naive(attempt.received_at))
        notebook = book.find_submission_notebook(name, name, attempt.username)
        notebook.late_submission_penalty = attempt.late_penalty_points
        for cell in attempt.cells:
            row = book.find_grade(cell.grade_id, name, name, attempt.username)
            row.auto_score, row.manual_score = cell.auto_score, cell.manual_score
            row.extra_credit, row.needs_manual_grade = cell.extra_credit, cell.needs_manual
            if cell.comment:
                try:
                    comment = book.find_comment(cell.grade_id, name, name, attempt.username)
                except MissingEntry:
                    continue
                comment.manual_comment = cell.comment
        graded += 1
    book.db.commit()
    return graded


def _new_gradebook(db_url: str) -> None:
    """An empty gradebook of nbgrader's schema, stamped with its newest migration as nbgrader
    stamps one it makes (nbgrader asks an ``alembic`` program on PATH for that; a server's
    PATH need not have it, so its migrations are read here)."""
    from alembic.script import ScriptDirectory
    from nbgrader.api import Base
    from nbgrader.dbutil import ALEMBIC_DIR
    from sqlalchemy import create_engine, text

    head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
    engine = create_engine(db_url)
    try:
        Base.metadata.create_all(bind=engine)
        with engine.begin() as connection:
            connection.execute(
                text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            )
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head}
            )
    finally:
        engine.dispose()


def _write_gradebook(root: Path, export: CourseExport) -> int:
    from nbgrader.api import Course as NbgraderCourse
    from nbgrader.api import Gradebook

    db_url = f"sqlite:///{root / GRADEBOOK}"
    _new_gradebook(db_url)
    with Gradebook(db_url, course_id=export.slug) as book:
        for student in export.students:
            book.update_or_create_student(
                student.username,
                first_name=student.first_name or None,
                last_name=student.last_name or None,
                email=student.email or None,
            )
        for assignment in export.assignments:
            book.update_or_create_assignment(assignment.name, duedate=_utc_naive(assignment.due_at))
    for assignment in export.assignments:
        _record_cells(db_url, assignment)
    with Gradebook(db_url, course_id=export.slug) as book:
        graded = sum(_record_grades(book, assignment) for assignment in export.assignments)
        if export.slug != "default_course":  # SaveCells opens the gradebook without a course
            book.db.query(NbgraderCourse).filter(NbgraderCourse.id == "default_course").delete()
            book.db.commit()
    return graded


@dataclass(frozen=True)
class Written:
    assignments: int
    students: int
    submitted: int
    grades: int
    autograded: int
    feedback: int


def write_directory(root: Path, export: CourseExport) -> Written:
    """The nbgrader course directory in the (empty) folder ``root``."""
    counts = _write_files_tree(root, export)
    grades = _write_gradebook(root, export)
    return Written(
        len(export.assignments),
        len(export.students),
        counts["submitted"],
        grades,
        counts["autograded"],
        counts["feedback"],
    )


def write_zip(target: Path, export: CourseExport) -> Written:
    """The directory as a zip at ``target`` (its top folder named after the course), built in
    a scratch folder and moved into place whole."""
    with tempfile.TemporaryDirectory(prefix="coursehub-nbgrader-") as scratch:
        root = Path(scratch) / export.slug
        root.mkdir()
        written = write_directory(root, export)
        partial = Path(scratch) / "export.zip"
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(root.parent).as_posix())
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(partial, target)
    return written


# -- the command -----------------------------------------------------------------------------


def check_target(target: Path, force: bool) -> Path:
    root = target.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ExportRefused(f"{target} is a file; give a folder (new or empty) to export into.")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise ExportRefused(
            f"{root} is not empty; give a new or empty folder, or add --force to replace "
            f"what an earlier export wrote there ({', '.join(WRITTEN)})."
        )
    return root


def _place(scratch: Path, root: Path) -> None:
    """Move the finished directory's entries into ``root``, replacing earlier ones."""
    root.mkdir(parents=True, exist_ok=True)
    for name in WRITTEN:
        old = root / name
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        elif old.exists() or old.is_symlink():
            old.unlink()
    for entry in scratch.iterdir():
        shutil.move(entry, root / entry.name)


def summary_lines(export: CourseExport, root: Path, written: Written) -> list[str]:
    lines = [
        f"Exported {export.title} ({export.slug}) as the nbgrader course directory {root}:",
        f"  assignments: {written.assignments}"
        + (f" ({', '.join(a.name for a in export.assignments)})" if export.assignments else ""),
        f"  students: {written.students}",
        f"  submitted: {written.submitted}, with grades in gradebook.db: {written.grades}",
        f"  autograded: {written.autograded}, feedback: {written.feedback}",
    ]
    if export.notes:
        lines.append("  notes:")
        lines += [f"    - {note}" for note in export.notes]
    return lines


async def _collect(database_url: str, slug: str) -> CourseExport:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            course = await course_to_export(session, slug)
            return await collect(session, course)
    finally:
        await engine.dispose()


def run_export(
    database_url: str, target: Path, *, course_slug: str, force: bool = False
) -> list[str]:
    """The command's work: the summary's lines, or ExportRefused with a sentence."""
    root = check_target(target, force)
    export = asyncio.run(_collect(database_url, course_slug))
    parent = root.parent
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".coursehub-nbgrader-", dir=parent) as scratch:
        written = write_directory(Path(scratch), export)
        _place(Path(scratch), root)
    return summary_lines(export, root, written)
