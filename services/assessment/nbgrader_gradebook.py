"""Reading an existing nbgrader course directory without changing anything in it.

It owns what ``coursehub import-nbgrader`` learns from the folder: the source notebooks
(``source/<assignment>/<notebook>.ipynb``), the students' folders under ``submitted/`` with
their ``timestamp.txt``, and ``gradebook.db`` (students, due dates, and each graded cell's
``auto_score``, ``manual_score`` and ``extra_credit``). The gradebook is read with nbgrader's
own API, on a snapshot taken with SQLite's backup: opening a gradebook with nbgrader writes to
it, and the instructor's file must stay as it was. Plain data comes out; no CourseHub
database here.

nbgrader_config.py is never executed (it is Python, and this runs on the server): the
standard folder names are expected.
"""

from __future__ import annotations

import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbgrader.api import Gradebook

GRADEBOOK = "gradebook.db"


class NotAnNbgraderCourse(ValueError):
    """The folder cannot be imported as it is; the message says what to do."""


@dataclass(frozen=True)
class SourceNotebook:
    """``source/<assignment>/<name>.ipynb``; ``several`` when its assignment has more."""

    assignment: str
    name: str
    path: Path
    several: bool = False

    @property
    def title(self) -> str:
        # CourseHub assignments hold one notebook, so each notebook of a multi-notebook
        # nbgrader assignment becomes an assignment of its own.
        return f"{self.assignment} / {self.name}" if self.several else self.assignment


@dataclass(frozen=True)
class SubmittedFolder:
    """``submitted/<student>/<assignment>/``."""

    student: str
    assignment: str
    path: Path


@dataclass(frozen=True)
class CellScore:
    """One graded cell of one submitted notebook, as nbgrader's ``Grade`` row has it."""

    grade_id: str
    auto_score: float | None
    manual_score: float | None
    extra_credit: float | None
    max_score: float
    needs_manual: bool

    @property
    def score(self) -> float | None:
        """nbgrader's rule (``Grade.score``): a person's score wins over the autograder's,
        extra credit is added to either. None: nobody has scored it yet (CourseHub's
        "a person grades it")."""
        base = self.manual_score if self.manual_score is not None else self.auto_score
        if base is None:
            return None if self.needs_manual else 0.0
        return base + (self.extra_credit or 0.0)


@dataclass(frozen=True)
class NotebookGrades:
    cells: tuple[CellScore, ...]
    comments: dict[str, str]


@dataclass(frozen=True)
class GradebookStudent:
    id: str
    first_name: str
    last_name: str
    email: str

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass
class GradebookData:
    students: dict[str, GradebookStudent] = field(default_factory=dict)
    due_dates: dict[str, datetime | None] = field(default_factory=dict)
    # (assignment, student): nbgrader's recorded submission time.
    timestamps: dict[tuple[str, str], datetime | None] = field(default_factory=dict)
    # (assignment, student, notebook)
    grades: dict[tuple[str, str, str], NotebookGrades] = field(default_factory=dict)


@dataclass
class CourseFolder:
    root: Path
    sources: list[SourceNotebook]
    submitted: list[SubmittedFolder]
    gradebook: GradebookData | None
    notes: list[str] = field(default_factory=list)


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _utc(moment: datetime | None) -> datetime | None:
    """nbgrader keeps times as naive UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _sources(root: Path, notes: list[str]) -> list[SourceNotebook]:
    found: list[SourceNotebook] = []
    source_dir = root / "source"
    folders = sorted(p for p in source_dir.iterdir() if p.is_dir() and _visible(p))
    for folder in folders:
        notebooks = sorted(p for p in folder.glob("*.ipynb") if _visible(p))
        for extra in sorted(folder.iterdir()):
            if _visible(extra) and extra not in notebooks:
                notes.append(
                    f"{extra.relative_to(root)} was not imported: CourseHub assignments are a "
                    "single notebook, so share other files with students another way."
                )
        if not notebooks:
            notes.append(f"{folder.relative_to(root)} has no notebook; it was not imported.")
        several = len(notebooks) > 1
        found += [SourceNotebook(folder.name, nb.stem, nb, several) for nb in notebooks]
    return found


def _submitted(root: Path) -> list[SubmittedFolder]:
    base = root / "submitted"
    if not base.is_dir():
        return []
    return [
        SubmittedFolder(student.name, assignment.name, assignment)
        for student in sorted(base.iterdir())
        if student.is_dir() and _visible(student)
        for assignment in sorted(student.iterdir())
        if assignment.is_dir() and _visible(assignment)
    ]


def read_course_folder(path: Path) -> CourseFolder:
    """The course directory at ``path``, or NotAnNbgraderCourse saying why not."""
    root = path.expanduser().resolve()
    if not root.is_dir():
        raise NotAnNbgraderCourse(
            f"{path} is not a folder; give the nbgrader course directory (the one holding "
            "source/ and gradebook.db)."
        )
    if not (root / "source").is_dir():
        raise NotAnNbgraderCourse(
            f"{root} is not an nbgrader course directory: it has no source/ folder. Give the "
            "folder that holds source/<assignment>/<notebook>.ipynb (and gradebook.db)."
        )
    notes: list[str] = []
    sources = _sources(root, notes)
    if not sources:
        raise NotAnNbgraderCourse(
            f"{root / 'source'} holds no assignment notebooks; nbgrader keeps them as "
            "source/<assignment>/<notebook>.ipynb."
        )
    gradebook_path = root / GRADEBOOK
    gradebook = read_gradebook(gradebook_path) if gradebook_path.is_file() else None
    if gradebook is None:
        notes.append("There is no gradebook.db: no students' names, due dates or grades.")
    for name in ("autograded", "feedback"):
        if (root / name).is_dir():
            notes.append(
                f"{name}/ was not imported: grades come from gradebook.db, and CourseHub "
                "makes its own feedback (without hidden tests) when it grades."
            )
    return CourseFolder(root, sources, _submitted(root), gradebook, notes)


def submission_time(folder: Path) -> datetime | None:
    """The time in nbgrader's ``timestamp.txt`` (parsed as nbgrader parses it), or None.
    ValueError when the file holds something else."""
    from nbgrader.utils import parse_utc

    stamp = folder / "timestamp.txt"
    if not stamp.is_file():
        return None
    text = stamp.read_text(encoding="utf-8", errors="replace").strip()
    if not text:
        return None
    try:
        return _utc(parse_utc(text))
    except (ValueError, OverflowError):
        raise ValueError(f"{text[:60]!r} is not a time") from None


def read_gradebook(path: Path) -> GradebookData:
    """Everything the import uses from ``gradebook.db``, read with nbgrader's API."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SQLAlchemyError

    with tempfile.TemporaryDirectory(prefix="coursehub-nbgrader-") as scratch:
        snapshot = Path(scratch) / GRADEBOOK
        try:
            with (
                closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as original,
                closing(sqlite3.connect(snapshot)) as copy,
            ):
                original.backup(copy)
            with Gradebook(f"sqlite:///{snapshot}") as gradebook:
                return _gradebook_data(gradebook)
        except (sqlite3.Error, SQLAlchemyError) as error:
            raise NotAnNbgraderCourse(
                f"{path} could not be read as an nbgrader gradebook ({error}). Check it with "
                "`nbgrader db student list`, or move it away to import without grades."
            ) from None


def _gradebook_data(gradebook: Gradebook) -> GradebookData:
    data = GradebookData()
    for student in gradebook.students:
        data.students[student.id] = GradebookStudent(
            student.id, student.first_name or "", student.last_name or "", student.email or ""
        )
    for assignment in gradebook.assignments:
        data.due_dates[assignment.name] = _utc(assignment.duedate)
        for submission in assignment.submissions:
            key = (assignment.name, submission.student.id)
            data.timestamps[key] = _utc(submission.timestamp)
            for notebook in submission.notebooks:
                data.grades[(*key, notebook.name)] = NotebookGrades(
                    cells=tuple(
                        CellScore(
                            grade.name,
                            grade.auto_score,
                            grade.manual_score,
                            grade.extra_credit,
                            float(grade.max_score or 0),
                            bool(grade.needs_manual_grade),
                        )
                        for grade in notebook.grades
                    ),
                    comments={
                        comment.name: comment.manual_comment or comment.auto_comment or ""
                        for comment in notebook.comments
                    },
                )
    return data
