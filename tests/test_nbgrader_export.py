"""An instructor takes a CourseHub course to nbgrader with ``coursehub export-nbgrader``.

The course is built as CourseHub's own pages build one: two notebook assignments made from
nbgrader sources (nbgrader's own ``test.ipynb`` with its data files, from the installed
package's test files, and the essay assignment of the grading tests), released with due
dates and a late policy; four students, attempts graded as the grading worker leaves them,
people's scores and comments, a score override, a late attempt, one waiting for the worker,
and feedback released. The export then runs as a ``coursehub`` subprocess, and the real
``nbgrader`` command line reads what it wrote: ``nbgrader db student list`` and ``nbgrader
export`` (whose CSV must give CourseHub's gradebook figures). The directory goes back in
through ``coursehub import-nbgrader`` into a new course, which ends up with the same
assignments, attempts and scores.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import nbgrader.tests.apps.files as nbgrader_files
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.assessment import (
    assignments,
    manual_grading,
    nbgrader_export_jobs,
    released_feedback,
)
from coursehub.services.assessment.gradebook import course_gradebook
from coursehub.services.models import (
    Account,
    Assignment,
    AssignmentFile,
    Course,
    CourseGrader,
    Grade,
    ManualScore,
    ScoreOverride,
    Submission,
    SubmissionStatus,
)
from coursehub.services.settings import sqlalchemy_url
from tests.conftest import PASSWORD
from tests.course_builder import BuiltCourse, enroll, make_course, run_async, unique_word
from tests.grading_data import ESSAY, SHOW_WORK, essay_bytes
from tests.platform import REPO, Platform, xsrf_from

NBGRADER_FILES = Path(nbgrader_files.__file__).parent
VENV_BIN = Path(sys.executable).parent
DUE = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
ON_TIME = datetime(2026, 2, 27, 10, 15, tzinfo=UTC)
LATE = DUE + timedelta(hours=20)  # a day's penalty: 10 %
SQUARES = "Squares and sums"
ESSAY_TITLE = "Adding up, explained"


def _squares_answer(student_notebook: dict[str, Any]) -> bytes:
    """nbgrader's test.ipynb, answered."""
    answers = {
        "squares": "def squares(n):\n    return [i * i for i in range(1, n + 1)]\n",
        "sum_of_squares": "def sum_of_squares(n):\n    return sum(squares(n))\n",
        "sum_of_squares_equation": "$\\sum_{i=1}^n i^2$",
        "sum_of_squares_application": "def pyramidal_number(n):\n    return sum_of_squares(n)\n",
    }
    notebook = json.loads(json.dumps(student_notebook))
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return json.dumps(notebook).encode()


def _essay_answer(student_notebook: dict[str, Any], essay: str) -> bytes:
    notebook = json.loads(json.dumps(student_notebook))
    answers = {
        "answer": "def add(a, b):\n    return a + b\n",
        ESSAY: essay,
        SHOW_WORK: "print(add(2, 3))",
    }
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return json.dumps(notebook).encode()


def _engine_cells(assignment: Assignment, scores: dict[str, float | None]) -> list[dict]:
    """The graded cells as the grading engine leaves them (a person's cells: None)."""
    return [
        {
            "grade_id": cell["grade_id"],
            "kind": cell["kind"],
            "score": scores.get(cell["grade_id"]),
            "max_points": cell["max_points"],
            "feedback": "Passed." if scores.get(cell["grade_id"]) else "",
        }
        for cell in assignment.grade_cells
        if cell["kind"] in ("autograded_test", "manual", "task")
    ]


async def _attempt(
    session: AsyncSession,
    assignment: Assignment,
    student: Account,
    attempt: int,
    notebook: bytes,
    received_at: datetime,
    scores: dict[str, float | None] | None,
) -> Submission:
    """An attempt received (with the late penalty of its time) and, with ``scores``, graded
    as the worker grades it; the grade's totals are worked out by manual grading's rule."""
    due = assignments.deadline(assignment, None)
    submission = Submission(
        assignment_id=assignment.id,
        account_id=student.id,
        attempt=attempt,
        received_at=received_at,
        sha256=hashlib.sha256(notebook).hexdigest(),
        notebook=notebook,
        size=len(notebook),
        late_penalty_percent=assignments.late_penalty_percent(assignment, due, received_at),
        status=SubmissionStatus.QUEUED if scores is None else SubmissionStatus.GRADED,
    )
    session.add(submission)
    await session.flush()
    if scores is None:
        return submission
    graded = json.loads(notebook)
    graded["metadata"]["coursehub"] = {"graded": True}
    session.add(
        Grade(
            submission_id=submission.id,
            outcome="graded",
            cells=_engine_cells(assignment, scores),
            max_score=assignment.max_score,
            late_penalty_percent=submission.late_penalty_percent,
            flags=[],
            feedback_notebook=graded,
        )
    )
    await session.flush()
    await manual_grading.recompute_grade(session, submission.id)
    return submission


async def _by_hand(
    session: AsyncSession, submission: Submission, grader: Account, scores: dict, comment: str = ""
) -> None:
    for grade_id, score in scores.items():
        session.add(
            ManualScore(
                submission_id=submission.id,
                grade_id=grade_id,
                score=score,
                typed=True,
                comment=comment,
                graded_by_id=grader.id,
            )
        )
    await session.flush()
    await manual_grading.recompute_grade(session, submission.id)


@dataclass(frozen=True)
class People:
    teacher: Account
    alice: Account
    bob: Account
    carol: Account
    dave: Account  # enrolled, never submitted


@dataclass(frozen=True)
class Built:
    course: BuiltCourse
    people: People
    counted: dict[tuple[str, str], int]  # (title, username): the attempt the gradebook counts


async def _fill(database_url: str, course_id: int, people: People) -> dict[tuple[str, str], int]:
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            course = await session.get_one(Course, course_id)
            teacher = await session.get_one(Account, people.teacher.id)
            squares = await assignments.create_assignment(
                session,
                course,
                teacher,
                (NBGRADER_FILES / "test.ipynb").read_bytes(),
                title=SQUARES,
                max_bytes=20_000_000,
                files={
                    "jupyter.png": (NBGRADER_FILES / "jupyter.png").read_bytes(),
                    "data/data.txt": (NBGRADER_FILES / "data.txt").read_bytes(),
                },
            )
            essay = await assignments.create_assignment(
                session, course, teacher, essay_bytes(), title=ESSAY_TITLE, max_bytes=20_000_000
            )
            for assignment in (squares, essay):
                await assignments.update_settings(
                    session,
                    assignment,
                    {
                        "release": True,
                        "due_at": DUE.isoformat(),
                        "late_penalty_percent": 10,
                        "late_penalty_unit": "DAY",
                    },
                )
            alice, bob, carol = [
                await session.get_one(Account, p.id)
                for p in (people.alice, people.bob, people.carol)
            ]
            counted: dict[tuple[str, str], int] = {}
            answer = _squares_answer(squares.student_notebook)
            auto = {
                "correct_squares": 1.0,
                "squares_invalid_input": 1.0,
                "correct_sum_of_squares": 0.5,
                "sum_of_squares_uses_squares": 0.0,
            }
            # alice: her first attempt is her best; a person scores its two written answers.
            first = await _attempt(session, squares, alice, 1, answer, ON_TIME, auto)
            await _by_hand(
                session,
                first,
                teacher,
                {"sum_of_squares_equation": 1.0, "sum_of_squares_application": 1.5},
                "Clear working.",
            )
            worse = answer.replace(b"i * i", b"i + i")
            await _attempt(session, squares, alice, 2, worse, ON_TIME, {"correct_squares": 0.0})
            counted[(SQUARES, alice.username)] = first.id
            # bob: the instructor overrides his grade as a whole.
            overridden = await _attempt(session, squares, bob, 1, answer, ON_TIME, auto)
            session.add(
                ScoreOverride(
                    submission_id=overridden.id,
                    score=4.5,
                    reason="Oral exam made up for it.",
                    set_by_id=teacher.id,
                )
            )
            await session.flush()
            await manual_grading.recompute_grade(session, overridden.id)
            counted[(SQUARES, bob.username)] = overridden.id
            # essay: alice is late (10 %), bob waits for the worker, carol waits for a person.
            late = await _attempt(
                session,
                essay,
                alice,
                1,
                _essay_answer(essay.student_notebook, "Order does not matter."),
                LATE,
                {"test_add": 2.0},
            )
            await _by_hand(session, late, teacher, {ESSAY: 2.5, SHOW_WORK: 1.0}, "Good.")
            counted[(ESSAY_TITLE, alice.username)] = late.id
            waiting = await _attempt(
                session, essay, bob, 1, _essay_answer(essay.student_notebook, "Hm."), ON_TIME, None
            )
            counted[(ESSAY_TITLE, bob.username)] = waiting.id
            partly = await _attempt(
                session,
                essay,
                carol,
                1,
                _essay_answer(essay.student_notebook, "It adds."),
                ON_TIME,
                {"test_add": 2.0},
            )
            counted[(ESSAY_TITLE, carol.username)] = partly.id
            await released_feedback.release(session, squares, course.slug, teacher)
            await session.commit()
            return counted
    finally:
        await engine.dispose()


def _person(db: Callable[[], Session], stem: str, role: Role, name: str) -> Account:
    username = unique_word(stem)
    account = Account(
        username=username,
        email=f"{username}@school.example",
        name=name,
        role=role,
        password_hash=hash_password(PASSWORD),
    )
    with db() as session:
        session.add(account)
        session.commit()
    return account


def new_course(database_url: str, db: Callable[[], Session], teacher: Account) -> BuiltCourse:
    return make_course(database_url, teacher, title=f"Squares {unique_word()}", modules={})


@pytest.fixture(scope="module")
def built(database_url: str, db: Callable[[], Session]) -> Built:
    teacher = _person(db, "teacher", Role.INSTRUCTOR, "Tess Teacher")
    people = People(
        teacher,
        _person(db, "alice", Role.STUDENT, "Alice Liddell"),
        _person(db, "bob", Role.STUDENT, "Bob"),
        _person(db, "carol", Role.STUDENT, "Carol Ann Duffy"),
        _person(db, "dave", Role.STUDENT, "Dave Lister"),
    )
    course = new_course(database_url, db, teacher)
    for student in (people.alice, people.bob, people.carol, people.dave):
        enroll(db, student, course)
    counted = run_async(_fill(database_url, course.id, people))
    return Built(course, people, counted)


def coursehub(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEHUB_")}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "coursehub.services.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def nbgrader(root: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEHUB_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [str(VENV_BIN / "nbgrader"), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def exported(
    built: Built, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("export") / "squares-course"
    done = coursehub(database_url, "export-nbgrader", "--course", built.course.slug, str(root))
    assert done.returncode == 0, done.stderr
    return root, done.stdout


def _assignments(db: Callable[[], Session], course_id: int) -> dict[str, Assignment]:
    with db() as session:
        found = session.scalars(select(Assignment).where(Assignment.course_id == course_id))
        return {a.title: a for a in found}


def _files(db: Callable[[], Session], assignment_id: int) -> dict[str, bytes]:
    with db() as session:
        found = session.scalars(
            select(AssignmentFile).where(AssignmentFile.assignment_id == assignment_id)
        )
        return {f.path: f.content for f in found}


def test_the_directory_holds_sources_releases_and_counted_attempts(
    built: Built, exported: tuple[Path, str], db: Callable[[], Session]
) -> None:
    root, output = exported
    assert f"Exported {built.course.title} ({built.course.slug})" in output
    assert f"assignments: 2 ({SQUARES}, Adding up- explained)" in output
    assert "students: 4" in output and "submitted: 5, with grades in gradebook.db: 4" in output
    found = _assignments(db, built.course.id)
    squares, essay = found[SQUARES], found[ESSAY_TITLE]
    names = {SQUARES: SQUARES, ESSAY_TITLE: "Adding up- explained"}
    for title, assignment in found.items():
        name = names[title]
        source = json.loads((root / "source" / name / f"{name}.ipynb").read_text())
        assert source == assignment.source_notebook
        released = json.loads((root / "release" / name / f"{name}.ipynb").read_text())
        assert released == assignment.student_notebook
    assert "BEGIN SOLUTION" not in (root / "release" / SQUARES / f"{SQUARES}.ipynb").read_text()
    for folder in ("source", "release"):
        assert (root / folder / SQUARES / "jupyter.png").read_bytes() == _files(db, squares.id)[
            "jupyter.png"
        ]
        assert (root / folder / SQUARES / "data" / "data.txt").read_text().startswith("line 1")
    with db() as session:
        for (title, username), submission_id in built.counted.items():
            submission = session.get_one(Submission, submission_id)
            folder = root / "submitted" / username / names[title]
            assert (folder / f"{names[title]}.ipynb").read_bytes() == submission.notebook
            stamp = (folder / "timestamp.txt").read_text()
            assert stamp == submission.received_at.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    # dave never submitted; alice's weaker second attempt is not the one counted.
    assert not (root / "submitted" / built.people.dave.username).exists()
    alice_squares = root / "submitted" / built.people.alice.username / SQUARES / f"{SQUARES}.ipynb"
    assert b"i * i" in alice_squares.read_bytes()
    # graded notebooks where CourseHub graded; feedback where staff released it
    assert (
        root / "autograded" / built.people.alice.username / SQUARES / f"{SQUARES}.ipynb"
    ).is_file()
    assert not (root / "autograded" / built.people.bob.username / names[ESSAY_TITLE]).exists()
    feedback = root / "feedback" / built.people.alice.username / SQUARES / f"{SQUARES}.html"
    assert "<html" in feedback.read_text()
    assert not (root / "feedback" / built.people.alice.username / names[ESSAY_TITLE]).exists()
    config = (root / "nbgrader_config.py").read_text()
    assert f"c.CourseDirectory.course_id = {built.course.slug!r}" in config
    assert essay.max_score == 6


def test_nbgrader_lists_the_courses_students(built: Built, exported: tuple[Path, str]) -> None:
    root, _ = exported
    listed = nbgrader(root, "db", "student", "list")
    people = built.people
    assert "There are 4 students in the database" in listed
    assert f"{people.alice.username} (Liddell, Alice) -- {people.alice.email}" in listed
    assert f"{people.carol.username} (Duffy, Carol Ann) -- {people.carol.email}" in listed
    assert f"{people.bob.username} (None, Bob) -- {people.bob.email}" in listed
    assert people.dave.username in listed and people.teacher.username not in listed


async def _gradebook_figures(database_url: str, course_id: int) -> dict[tuple[str, str], Any]:
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with AsyncSession(engine) as session:
            book = await course_gradebook(session, await session.get_one(Course, course_id))
            titles = {c.key: c.title for c in book.columns}
            return {
                (titles[key], row.username): cell
                for row in book.students
                for key, cell in row.cells.items()
            } | {("max", c.title): c.max_score for c in book.columns}
    finally:
        await engine.dispose()


def test_nbgrader_export_gives_coursehubs_gradebook_figures(
    built: Built, exported: tuple[Path, str], database_url: str
) -> None:
    root, _ = exported
    nbgrader(root, "export", "--to", "grades.csv")
    with (root / "grades.csv").open() as file:
        rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(file)}
    figures = run_async(_gradebook_figures(database_url, built.course.id))
    names = {SQUARES: SQUARES, ESSAY_TITLE: "Adding up- explained"}
    people = built.people
    students = [people.alice, people.bob, people.carol, people.dave]
    assert len(rows) == 2 * len(students)
    for title, name in names.items():
        for student in students:
            row = rows[(name, student.username)]
            assert float(row["max_score"]) == figures[("max", title)]
            assert row["duedate"] == "2026-03-01 17:00:00"
            cell = figures.get((title, student.username))
            if cell is None or cell.final_score is None:  # nothing counts yet on CourseHub
                assert float(row["score"]) == 0.0
                continue
            assert float(row["score"]) == pytest.approx(cell.final_score)
            assert float(row["raw_score"]) == pytest.approx(cell.score)
    # the figures themselves, worked out by hand
    alice, bob, carol = people.alice.username, people.bob.username, people.carol.username
    assert float(rows[(SQUARES, alice)]["score"]) == pytest.approx(5.0)  # 2.5 auto + 2.5 by hand
    assert float(rows[(SQUARES, bob)]["score"]) == pytest.approx(4.5)  # the override
    essay = names[ESSAY_TITLE]
    assert float(rows[(essay, alice)]["raw_score"]) == pytest.approx(5.5)
    assert float(rows[(essay, alice)]["late_submission_penalty"]) == pytest.approx(0.55)
    assert float(rows[(essay, alice)]["score"]) == pytest.approx(4.95)
    assert float(rows[(essay, carol)]["score"]) == pytest.approx(2.0)  # the essay waits
    # bob's essay waits for the worker: handed in, not in the gradebook (nbgrader's own state
    # of a submission nobody autograded yet)
    assert float(rows[(essay, bob)]["score"]) == 0.0 and rows[(essay, bob)]["timestamp"] == ""
    assert rows[(SQUARES, people.dave.username)]["timestamp"] == ""


def test_the_gradebook_keeps_peoples_scores_and_comments_apart(
    built: Built, exported: tuple[Path, str]
) -> None:
    from nbgrader.api import Course as NbgraderCourse
    from nbgrader.api import Gradebook

    root, _ = exported
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=built.course.slug) as book:
        alice = built.people.alice.username
        written = book.find_grade("sum_of_squares_equation", SQUARES, SQUARES, alice)
        assert (written.auto_score, written.manual_score) == (None, 1.0)
        assert not written.needs_manual_grade
        test = book.find_grade("correct_squares", SQUARES, SQUARES, alice)
        assert (test.auto_score, test.manual_score) == (1.0, None)
        comment = book.find_comment("sum_of_squares_equation", SQUARES, SQUARES, alice)
        assert comment.manual_comment == "Clear working."
        essay = "Adding up- explained"
        waiting = book.find_grade(ESSAY, essay, essay, built.people.carol.username)
        assert waiting.needs_manual_grade and waiting.manual_score is None
        # one course, the exported one (nbgrader's steps open a gradebook without one)
        assert [c.id for c in book.db.query(NbgraderCourse)] == [built.course.slug]


def test_exporting_and_importing_again_round_trips(
    built: Built, exported: tuple[Path, str], database_url: str, db: Callable[[], Session]
) -> None:
    root, _ = exported
    copy = new_course(database_url, db, built.people.teacher)
    done = coursehub(database_url, "import-nbgrader", str(root), "--course", copy.slug)
    assert done.returncode == 0, done.stderr
    assert "0 accounts made, 4 already had one; 4 newly enrolled" in done.stdout
    assert "submissions: 5 imported" in done.stdout, done.stdout
    assert "grades: 4 imported" in done.stdout, done.stdout
    original = _assignments(db, built.course.id)
    again = _assignments(db, copy.id)
    assert sorted(again) == sorted([SQUARES, "Adding up- explained"])
    pairs = [(original[SQUARES], again[SQUARES])]
    pairs.append((original[ESSAY_TITLE], again["Adding up- explained"]))
    with db() as session:
        for before, after in pairs:
            assert after.source_notebook == before.source_notebook
            assert after.grade_cells == before.grade_cells and after.due_at == before.due_at
            assert _files(db, after.id) == _files(db, before.id)
            for (title, _student), submission_id in built.counted.items():
                if title != before.title:
                    continue
                kept = session.get_one(Submission, submission_id)
                brought = session.scalars(
                    select(Submission).where(
                        Submission.assignment_id == after.id,
                        Submission.account_id == kept.account_id,
                    )
                ).one()
                assert brought.notebook == kept.notebook
                assert brought.received_at == kept.received_at
                grade = session.scalars(select(Grade).where(Grade.submission_id == kept.id)).first()
                new = session.scalars(
                    select(Grade).where(Grade.submission_id == brought.id)
                ).first()
                if grade is None:
                    assert new is None and brought.status is SubmissionStatus.QUEUED
                    continue
                assert new is not None and new.score == pytest.approx(grade.score)
                assert new.needs_manual == grade.needs_manual


def test_an_unknown_course_is_refused_and_nothing_written(
    database_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    slug = "no-such-course-" + secrets.token_hex(3)
    done = coursehub(database_url, "export-nbgrader", "--course", slug, str(target))
    assert done.returncode != 0
    assert f"No course has the slug {slug!r}" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not target.exists()


def test_a_folder_with_something_in_it_is_refused_unless_forced(
    built: Built, database_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    (target / "gradebook.db").write_text("an old gradebook")

    done = coursehub(database_url, "export-nbgrader", "--course", built.course.slug, str(target))

    assert done.returncode != 0 and "is not empty" in done.stderr and "--force" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in target.iterdir()) == ["gradebook.db", "notes.txt"]
    assert (target / "gradebook.db").read_text() == "an old gradebook"

    forced = coursehub(
        database_url, "export-nbgrader", "--course", built.course.slug, str(target), "--force"
    )

    assert forced.returncode == 0, forced.stderr
    assert (target / "notes.txt").read_text() == "mine"  # not the export's: left alone
    assert "There are 4 students" in nbgrader(target, "db", "student", "list")


# -- the download on the assignments page ----------------------------------------------------


def _page(http, platform: Platform, built: Built):  # type: ignore[no-untyped-def]
    return http.get(f"{platform.service_url}/courses/{built.course.slug}/assignments")


def _names_in(data: bytes) -> set[str]:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        return set(archive.namelist())


def test_the_instructor_downloads_the_course_for_nbgrader_from_the_assignments_page(
    built: Built, platform: Platform, signed_in, tmp_path: Path
) -> None:
    http = signed_in(built.people.teacher)
    page = _page(http, platform, built)
    assert "Download as an nbgrader course (zip)" in page.text

    answer = http.post(
        f"{platform.service_url}/courses/{built.course.slug}/assignments/nbgrader-export",
        data={"_xsrf": xsrf_from(page)},
    )

    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"] == "application/zip"
    assert f'filename="{built.course.slug}-nbgrader.zip"' in answer.headers["content-disposition"]
    top = built.course.slug
    names = _names_in(answer.content)
    assert {f"{top}/gradebook.db", f"{top}/nbgrader_config.py"} <= names
    assert f"{top}/source/{SQUARES}/{SQUARES}.ipynb" in names
    alice = built.people.alice.username
    assert f"{top}/submitted/{alice}/{SQUARES}/timestamp.txt" in names
    with zipfile.ZipFile(BytesIO(answer.content)) as archive:
        archive.extractall(tmp_path)
    assert "There are 4 students in the database" in nbgrader(
        tmp_path / top, "db", "student", "list"
    )


def test_the_export_is_refused_to_students_graders_and_without_xsrf(
    built: Built, platform: Platform, signed_in, db: Callable[[], Session]
) -> None:
    grader = _person(db, "grader", Role.INSTRUCTOR, "Gus Grader")
    with db() as session:
        session.add(CourseGrader(course_id=built.course.id, account_id=grader.id))
        session.commit()
    url = f"{platform.service_url}/courses/{built.course.slug}/assignments/nbgrader-export"
    for person in (built.people.alice, grader):
        http = signed_in(person)
        page = _page(http, platform, built)
        assert page.status_code == 200 and "Download as an nbgrader course" not in page.text
        refused = http.post(url, data={"_xsrf": xsrf_from(page)})
        assert refused.status_code == 403
        assert "instructor and administrators can export it for nbgrader" in refused.text
        assert refused.headers["content-type"] != "application/zip"
    teacher = signed_in(built.people.teacher)
    forged = teacher.post(url, data={})
    assert forged.status_code == 403 and forged.headers["content-type"] != "application/zip"


async def _queue(database_url: str, data_dir: Path, built: Built) -> str:
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with AsyncSession(engine) as session:
            course = await session.get_one(Course, built.course.id)
            teacher = await session.get_one(Account, built.people.teacher.id)
            state = await nbgrader_export_jobs.queue_export(session, data_dir, course, teacher)
            await session.commit()
            return state.token
    finally:
        await engine.dispose()


def test_a_large_course_is_built_by_the_worker_and_linked_when_ready(
    built: Built, platform: Platform, signed_in, database_url: str
) -> None:
    """What the page does for a course over the size built while staff wait."""
    assert nbgrader_export_jobs.builds_in_background(nbgrader_export_jobs.INLINE_BYTES + 1)
    assert not nbgrader_export_jobs.builds_in_background(nbgrader_export_jobs.INLINE_BYTES)
    http = signed_in(built.people.teacher)
    token = run_async(_queue(database_url, platform.data_dir, built))
    path = f"/courses/{built.course.slug}/assignments/nbgrader-export/{token}.zip"
    deadline = time.monotonic() + 180
    page = _page(http, platform, built)
    while "nbgrader_export_link" not in page.text and time.monotonic() < deadline:
        assert "The last export failed" not in page.text
        time.sleep(1)
        page = _page(http, platform, built)
    assert path in page.text
    download = http.get(f"{platform.service_url}{path}")
    assert download.status_code == 200
    assert f"{built.course.slug}/gradebook.db" in _names_in(download.content)
    # a student cannot fetch it, even with its link
    student = signed_in(built.people.bob)
    refused = student.get(f"{platform.service_url}{path}")
    assert refused.status_code == 403 and refused.headers["content-type"] != "application/zip"
    unknown = http.get(f"{platform.service_url}{path.replace(token, '0' * 32)}")
    assert unknown.status_code == 404 and "export it again" in unknown.text
