"""An instructor moves an nbgrader course to CourseHub with ``coursehub import-nbgrader``.

The nbgrader course is real: tests/nbgrader_course/ copied, with students and a due date added
by ``nbgrader db``, student versions made by ``nbgrader generate_assignment``, two students'
answers placed under submitted/, ``nbgrader autograde ps1`` run on real kernels, and a
grader's manual scores and extra credit set through nbgrader's own Gradebook API (as its
formgrader does). The import runs as a ``coursehub`` subprocess against the test database.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nbgrader.api import Gradebook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.assessment.nbgrader_gradebook import read_gradebook
from coursehub.services.models import (
    Account,
    Assignment,
    AssignmentSourceCheck,
    Enrollment,
    Grade,
    Submission,
    SubmissionStatus,
)
from tests.course_builder import BuiltCourse, make_course, unique_word
from tests.platform import REPO

COURSE_DATA = Path(__file__).parent / "nbgrader_course"
VENV_BIN = Path(sys.executable).parent
DUE = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
SUBMITTED_AT = datetime(2026, 2, 27, 10, 15, tzinfo=UTC)
ANSWERS = {
    # student: the body of each answer cell, by grade id
    "alice": {"answer": "    return a + b", "explain": "It adds them with +."},
    "bob": {"answer": "    return a - b", "explain": "It adds."},
}


@dataclass(frozen=True)
class NbgraderCourse:
    root: Path
    alice: str
    bob: str


def _nbgrader(root: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEHUB_")}
    # nbgrader runs `alembic` from PATH when it makes a gradebook.
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [str(VENV_BIN / "nbgrader"), *args], cwd=root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _answered(released: Path, answers: dict[str, str]) -> dict[str, Any]:
    notebook = json.loads(released.read_text())
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id == "answer":
            cell["source"] = "def add(a, b):\n" + answers["answer"] + "\n"
        elif grade_id == "explain":
            cell["source"] = answers["explain"]
    return notebook


def _hand_in(root: Path, student: str, assignment: str, notebooks: dict[str, Any]) -> None:
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True)
    for name, notebook in notebooks.items():
        (folder / f"{name}.ipynb").write_text(json.dumps(notebook))
    # nbgrader's own format for the time a submission arrived.
    (folder / "timestamp.txt").write_text(SUBMITTED_AT.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))


def _grade_by_hand(root: Path, alice: str, bob: str) -> None:
    """What a grader does in nbgrader's formgrader: score alice's explanation, and overrule
    the autograder for bob's test cell with a score and some extra credit."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id="adding-up") as book:
        explain = book.find_grade("explain", "adding", "ps1", alice)
        explain.manual_score, explain.needs_manual_grade = 1.0, False
        test = book.find_grade("test_add", "adding", "ps1", bob)
        test.manual_score, test.extra_credit, test.needs_manual_grade = 1.0, 0.5, False
        book.db.commit()


@pytest.fixture(scope="module")
def nbgrader_course(tmp_path_factory: pytest.TempPathFactory) -> NbgraderCourse:
    root = tmp_path_factory.mktemp("nbgrader") / "adding-up"
    shutil.copytree(COURSE_DATA, root)
    alice, bob = (f"{name}-{secrets.token_hex(3)}" for name in ("alice", "bob"))
    (root / "students.csv").write_text(
        f"id,first_name,last_name,email\n{alice},Alice,Liddell,{alice}@school.example\n{bob},,,\n"
    )
    (root / "assignments.csv").write_text(f"name,duedate\nps1,{DUE:%Y-%m-%d %H:%M:%S} UTC\n")
    _nbgrader(root, "db", "student", "import", "students.csv")
    _nbgrader(root, "db", "assignment", "import", "assignments.csv")
    _nbgrader(root, "generate_assignment", "*")
    release = root / "release"
    for student, answers in ((alice, ANSWERS["alice"]), (bob, ANSWERS["bob"])):
        _hand_in(root, student, "ps1", {"adding": _answered(release / "ps1/adding.ipynb", answers)})
    # bob also hands in ps2 (two notebooks), which nobody has graded yet.
    ps2 = {
        name: json.loads((release / "ps2" / f"{name}.ipynb").read_text())
        for name in ("warmup", "doubling")
    }
    _hand_in(root, bob, "ps2", ps2)
    _nbgrader(root, "autograde", "ps1")
    _grade_by_hand(root, alice, bob)
    return NbgraderCourse(root, alice, bob)


def run_import(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEHUB_")}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "coursehub.services.cli", "import-nbgrader", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def new_course(database_url: str, db: Callable[[], Session]) -> BuiltCourse:
    name = unique_word("teacher")
    instructor = Account(
        username=name, email=f"{name}@coursehub.example", name=name, role=Role.INSTRUCTOR
    )
    with db() as session:
        session.add(instructor)
        session.commit()
    return make_course(database_url, instructor, title=f"Adding up {unique_word()}", modules={})


@pytest.fixture
def course(database_url: str, db: Callable[[], Session]) -> BuiltCourse:
    return new_course(database_url, db)


def snapshot(db: Callable[[], Session], course: BuiltCourse, usernames: list[str]) -> dict:
    """Every row the import could touch, by what identifies it."""
    with db() as session:
        assignments = session.scalars(
            select(Assignment).where(Assignment.course_id == course.id).order_by(Assignment.id)
        ).all()
        people = session.scalars(select(Account).where(Account.username.in_(usernames))).all()
        ids = [a.id for a in assignments]
        submitted = session.execute(
            select(Submission, Grade)
            .outerjoin(Grade, Grade.submission_id == Submission.id)
            .where(Submission.assignment_id.in_(ids))
            .order_by(Submission.id)
        ).all()
        enrolled = session.scalars(
            select(Enrollment.account_id).where(Enrollment.course_id == course.id)
        ).all()
        jobs = session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(Submission.assignment_id.in_(ids), Submission.job_id.is_not(None))
        )
        return {
            "assignments": [(a.id, a.title, a.source_sha256, a.released_at) for a in assignments],
            "accounts": sorted((a.id, a.username, a.name, a.email) for a in people),
            "enrolled": sorted(enrolled),
            "submissions": [
                (s.id, s.account_id, s.sha256, s.status, g and g.id, g and g.cells)
                for s, g in submitted
            ],
            "jobs": jobs,
        }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Imported:
    course: BuiltCourse
    output: str
    gradebook_sha256_before: str


@pytest.fixture(scope="module")
def imported(
    database_url: str, db: Callable[[], Session], nbgrader_course: NbgraderCourse
) -> Imported:
    """The nbgrader course imported once into a course of its own."""
    course = new_course(database_url, db)
    before = sha256(nbgrader_course.root / "gradebook.db")
    done = run_import(database_url, str(nbgrader_course.root), "--course", course.slug)
    assert done.returncode == 0, done.stderr
    return Imported(course, done.stdout, before)


@dataclass(frozen=True)
class Rows:
    assignments: dict[str, Assignment]  # by title
    people: dict[str, Account]  # by user name
    enrolled: set[int]
    attempts: dict[tuple[str, str], tuple[Submission, Grade | None]]  # (title, user name)


def rows(db: Callable[[], Session], course: BuiltCourse, usernames: list[str]) -> Rows:
    with db() as session:
        found = session.scalars(select(Assignment).where(Assignment.course_id == course.id))
        assignments = {a.title: a for a in found}
        people = session.scalars(select(Account).where(Account.username.in_(usernames)))
        by_name = {a.username: a for a in people}
        enrolled = session.scalars(
            select(Enrollment.account_id).where(Enrollment.course_id == course.id)
        )
        submitted = session.execute(
            select(Submission, Grade)
            .outerjoin(Grade, Grade.submission_id == Submission.id)
            .where(Submission.assignment_id.in_([a.id for a in assignments.values()]))
        ).all()
    titles = {a.id: title for title, a in assignments.items()}
    names = {a.id: name for name, a in by_name.items()}
    attempts = {
        (titles[s.assignment_id], names[s.account_id]): (s, g)
        for s, g in submitted
        if s.account_id in names
    }
    return Rows(assignments, by_name, set(enrolled), attempts)


def test_each_nbgrader_notebook_becomes_an_assignment(
    imported: Imported, db: Callable[[], Session], nbgrader_course: NbgraderCourse
) -> None:
    assert "3 made, 0 already there (ps1, ps2 / doubling, ps2 / warmup)" in imported.output
    assert "released: none (use --release" in imported.output
    found = rows(db, imported.course, []).assignments
    # ps2 has two notebooks; a CourseHub assignment is one notebook, so it makes two.
    assert sorted(found) == ["ps1", "ps2 / doubling", "ps2 / warmup"]
    ps1 = found["ps1"]
    assert ps1.due_at == DUE and found["ps2 / warmup"].due_at is None
    assert all(a.released_at is None for a in found.values())
    assert ps1.max_score == 3
    source = nbgrader_course.root / "source" / "ps1" / "adding.ipynb"
    assert ps1.source_sha256 == sha256(source)
    student_version = json.dumps(ps1.student_notebook)
    assert "BEGIN SOLUTION" not in student_version and "add(20, 22)" not in student_version
    # nbgrader's files stay as they were (its API writes to a gradebook it opens).
    assert sha256(nbgrader_course.root / "gradebook.db") == imported.gradebook_sha256_before


def test_students_get_accounts_without_passwords_and_are_enrolled(
    imported: Imported, db: Callable[[], Session], nbgrader_course: NbgraderCourse
) -> None:
    alice, bob = nbgrader_course.alice, nbgrader_course.bob
    assert "2 accounts made, 0 already had one; 2 newly enrolled" in imported.output
    assert f"{bob} has no email in gradebook.db" in imported.output
    found = rows(db, imported.course, [alice, bob])
    assert found.people[alice].name == "Alice Liddell"
    assert found.people[alice].email == f"{alice}@school.example"
    assert found.people[bob].name == bob and found.people[bob].email is None
    for person in found.people.values():
        assert person.role is Role.STUDENT and person.password_hash is None
    assert found.enrolled == {found.people[alice].id, found.people[bob].id}


def test_graded_submissions_keep_their_bytes_time_and_nbgraders_scores(
    imported: Imported, db: Callable[[], Session], nbgrader_course: NbgraderCourse
) -> None:
    root, alice, bob = nbgrader_course.root, nbgrader_course.alice, nbgrader_course.bob
    assert "submissions: 4 imported" in imported.output
    assert "grades: 2 imported" in imported.output
    found = rows(db, imported.course, [alice, bob])
    book = read_gradebook(root / "gradebook.db")
    for student in (alice, bob):
        submission, grade = found.attempts[("ps1", student)]
        path = root / "submitted" / student / "ps1" / "adding.ipynb"
        assert submission.sha256 == sha256(path) and submission.notebook == path.read_bytes()
        assert submission.received_at == SUBMITTED_AT and submission.attempt == 1
        assert submission.status is SubmissionStatus.GRADED and submission.job_id is None
        assert grade is not None and grade.outcome == "graded" and grade.max_score == 3
        # nbgrader's Grade.score: a person's score over the autograder's, plus extra credit.
        theirs = {c.grade_id: c.score for c in book.grades[("ps1", student, "adding")].cells}
        assert {cell["grade_id"]: cell["score"] for cell in grade.cells} == theirs
    alice_grade = found.attempts[("ps1", alice)][1]
    assert alice_grade is not None
    assert {c["grade_id"]: c["score"] for c in alice_grade.cells} == {
        "test_add": 2.0,
        "explain": 1.0,
    }
    assert alice_grade.score == alice_grade.final_score == 3.0 and not alice_grade.needs_manual
    # bob's test failed (auto 0), a grader gave 1 + 0.5 extra; his explanation waits.
    bob_grade = found.attempts[("ps1", bob)][1]
    assert bob_grade is not None
    assert {c["grade_id"]: c["score"] for c in bob_grade.cells} == {
        "test_add": 1.5,
        "explain": None,
    }
    assert bob_grade.score == 1.5 and bob_grade.needs_manual


def test_ungraded_submissions_wait_for_the_autograder(
    imported: Imported, db: Callable[[], Session], nbgrader_course: NbgraderCourse
) -> None:
    assert "left queued without a job" in imported.output
    assert "Autograde all" in imported.output
    found = rows(db, imported.course, [nbgrader_course.bob])
    for title, name in (("ps2 / warmup", "warmup"), ("ps2 / doubling", "doubling")):
        submission, grade = found.attempts[(title, nbgrader_course.bob)]
        path = nbgrader_course.root / "submitted" / nbgrader_course.bob / "ps2" / f"{name}.ipynb"
        assert submission.sha256 == sha256(path)
        assert grade is None and submission.status is SubmissionStatus.QUEUED
        assert submission.job_id is None
        assert submission.received_at == SUBMITTED_AT


def test_importing_again_changes_nothing(
    imported: Imported, database_url: str, db: Callable[[], Session], nbgrader_course
) -> None:
    usernames = [nbgrader_course.alice, nbgrader_course.bob]
    before = snapshot(db, imported.course, usernames)

    again = run_import(database_url, str(nbgrader_course.root), "--course", imported.course.slug)

    assert again.returncode == 0, again.stderr
    assert "0 made, 3 already there" in again.stdout
    assert "0 accounts made, 2 already had one; 0 newly enrolled" in again.stdout
    assert "submissions: 0 imported, 4 already there" in again.stdout
    assert "grades: 0 imported" in again.stdout
    assert snapshot(db, imported.course, usernames) == before
    assert len(before["submissions"]) == 4


def test_a_dry_run_says_what_would_happen_and_writes_nothing(
    database_url: str, db: Callable[[], Session], nbgrader_course: NbgraderCourse, course
) -> None:
    usernames = [nbgrader_course.alice, nbgrader_course.bob]
    before = snapshot(db, course, usernames)

    done = run_import(database_url, str(nbgrader_course.root), "--course", course.slug, "--dry-run")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Dry run: nothing was written.")
    assert "3 made, 0 already there" in done.stdout and "submissions: 4 imported" in done.stdout
    assert "grades: 2 imported" in done.stdout
    assert snapshot(db, course, usernames) == before
    assert before["assignments"] == [] and before["enrolled"] == []


def test_release_makes_the_imported_assignments_visible(
    database_url: str, db: Callable[[], Session], nbgrader_course: NbgraderCourse, course
) -> None:
    done = run_import(database_url, str(nbgrader_course.root), "--course", course.slug, "--release")

    assert done.returncode == 0, done.stderr
    assert "released: ps1, ps2 / doubling, ps2 / warmup" in done.stdout
    with db() as session:
        released = session.scalars(
            select(Assignment.released_at).where(Assignment.course_id == course.id)
        ).all()
    assert len(released) == 3 and all(released)


def _break_submission(root: Path) -> None:
    (next((root / "submitted").glob("bob-*")) / "ps2" / "warmup.ipynb").write_text("{not json")


def _break_source(root: Path) -> None:
    path = root / "source" / "ps2" / "doubling.ipynb"
    notebook = json.loads(path.read_text())
    notebook["cells"][2]["metadata"]["nbgrader"].pop("grade_id")
    path.write_text(json.dumps(notebook))


BAD_INPUTS = [
    pytest.param(
        lambda root, slug: ([str(root / "source")], slug),
        "is not an nbgrader course directory",
        id="not-a-course-directory",
    ),
    pytest.param(
        lambda root, slug: ([str(root)], "no-such-course-" + secrets.token_hex(3)),
        "No course has the slug",
        id="unknown-course",
    ),
    pytest.param(
        lambda root, slug: (_break_source(root), [str(root)], slug)[1:],
        "source/ps2/doubling.ipynb cannot be used",
        id="malformed-source",
    ),
    pytest.param(
        lambda root, slug: (_break_submission(root), [str(root)], slug)[1:],
        "ps2/warmup.ipynb cannot be used",
        id="malformed-submission",
    ),
    pytest.param(
        lambda root, slug: ([str(root), "--instructor", "nobody-" + secrets.token_hex(3)], slug),
        "is not the instructor of",
        id="instructor-not-staff",
    ),
]


@pytest.mark.parametrize(("arrange", "says"), BAD_INPUTS)
def test_bad_input_is_refused_with_a_sentence_and_nothing_written(
    database_url: str,
    db: Callable[[], Session],
    nbgrader_course: NbgraderCourse,
    course,
    tmp_path: Path,
    arrange,
    says: str,
) -> None:
    root = tmp_path / "course"
    shutil.copytree(nbgrader_course.root, root)
    args, slug = arrange(root, course.slug)
    usernames = [nbgrader_course.alice, nbgrader_course.bob]
    before = snapshot(db, course, usernames)

    done = run_import(database_url, *args, "--course", slug)

    assert done.returncode != 0
    assert says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert snapshot(db, course, usernames) == before
    assert before["assignments"] == []  # nothing half-written, even after valid sources


def test_the_gradebook_reader_leaves_nbgrader_files_alone(nbgrader_course: NbgraderCourse) -> None:
    """A gradebook opened by nbgrader gets written to; the import reads a snapshot instead."""
    path = nbgrader_course.root / "gradebook.db"
    before = sha256(path)
    book = read_gradebook(path)
    assert sha256(path) == before
    assert book.due_dates["ps1"] == DUE
    assert book.students[nbgrader_course.alice].name == "Alice Liddell"
    assert book.timestamps[("ps1", nbgrader_course.bob)] == SUBMITTED_AT


def test_each_imported_assignment_is_checked_as_an_upload_is(
    imported: Imported, db: Callable[[], Session]
) -> None:
    """The solution must pass every test cell and the released version fail the autograded
    ones: the import queues the same source check as an instructor's upload."""
    found = rows(db, imported.course, []).assignments
    with db() as session:
        checks = session.scalars(
            select(AssignmentSourceCheck).where(
                AssignmentSourceCheck.assignment_id.in_([a.id for a in found.values()])
            )
        ).all()
    by_assignment = {c.assignment_id: c for c in checks}
    assert set(by_assignment) == {a.id for a in found.values()}
    for assignment in found.values():
        assert by_assignment[assignment.id].source_sha256 == assignment.source_sha256
