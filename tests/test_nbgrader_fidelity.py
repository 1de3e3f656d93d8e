"""Fidelity: nbgrader's own fixtures graded by ``nbgrader autograde`` and by CourseHub in
the same run, per-cell scores compared.

Every (source, submission) pair nbgrader's own autograde tests use, taken from inside the
installed nbgrader package (``nbgrader/tests/apps/files/`` and the user guide's ``ps1``
course), never copied into this repository: each course is laid out in a temporary nbgrader
course folder, graded by ``nbgrader generate_assignment`` + ``nbgrader autograde`` (once for
the module, every course in one nbgrader process per command), and each
submission is graded by CourseHub's production engine (sandbox, runner, judge, verdict) from
the same source folder (its data files and ``autotests.yml`` taken along, AUTOTEST expanded
with nbgrader's ``InstantiateTests``).

Deliberate differences, each with its reason (``DIFFERENCES``): none are needed for these
fixtures. The cheat fixtures (``submitted-cheat-attempt*``) score as in nbgrader: nbgrader
catches them too.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbgrader
import pytest
from nbgrader.api import Gradebook

from coursehub.graders.assignment_notebooks import read_source_folder, read_submission
from coursehub.graders.autograde import grade
from tests.platform import REPO

PACKAGE = Path(nbgrader.__file__).parent
FILES = PACKAGE / "tests" / "apps" / "files"
GUIDE = PACKAGE / "docs" / "source" / "user_guide"
_uids = itertools.count(330_000 + (os.getpid() % 1000) * 40)

# (course, student, notebook, grade id) -> (nbgrader's score, CourseHub's, reason)
DIFFERENCES: dict[tuple[str, str, str, str], str] = {}


@dataclass(frozen=True)
class Course:
    """One nbgrader assignment ``ps1``: notebooks (name -> source file), files beside them,
    students (name -> {notebook -> submitted file}), config lines."""

    name: str
    notebooks: dict[str, Path]
    students: dict[str, dict[str, Path]]
    beside: tuple[Path, ...] = ()
    autotests: Path | None = None
    config: str = ""
    release_as: tuple[str, ...] = ()  # students who submit nbgrader's own release, unchanged


def _one(source: str, **students: str) -> dict[str, dict[str, Path]]:
    return {name: {"p1": FILES / f"{file}.ipynb"} for name, file in students.items()}


STUB = 'c.ClearSolutions.code_stub = dict(python="# YOUR CODE HERE")\n'
COURSES = [
    Course(
        "submitted",
        {"p1": FILES / "submitted-unchanged.ipynb"},
        _one(
            "submitted-unchanged",
            foo="submitted-unchanged",
            bar="submitted-changed",
            spam="submitted-cheat-attempt",
            eggs="submitted-cheat-attempt-alternative",
            grade="submitted-grade-cell-changed",
            locked="submitted-locked-cell-changed",
        ),
    ),
    Course("test", {"p1": FILES / "test.ipynb"}, _one("test", foo="test", out="test-with-output")),
    Course(
        "autotest-simple",
        {"p1": FILES / "autotest-simple.ipynb"},
        _one("", foo="autotest-simple-unchanged", bar="autotest-simple-changed"),
        autotests=FILES / "autotests.yml",
    ),
    Course(
        "autotest-hashed",
        {"p1": FILES / "autotest-hashed.ipynb"},
        _one("", foo="autotest-hashed-unchanged", bar="autotest-hashed-changed"),
        autotests=FILES / "autotests.yml",
    ),
    Course(
        "autotest-multi",
        {"p1": FILES / "autotest-multi.ipynb"},
        _one("", foo="autotest-multi-unchanged", bar="autotest-multi-changed"),
        autotests=FILES / "autotests.yml",
    ),
    Course(
        "autotest-hidden",
        {"p1": FILES / "autotest-hidden.ipynb"},
        _one(
            "",
            foo="autotest-hidden-unchanged",
            bar="autotest-hidden-changed-wrong",
            baz="autotest-hidden-changed-right",
        ),
        autotests=FILES / "autotests.yml",
        config=STUB,
    ),
    Course(
        "hidden-tests",
        {"p1": FILES / "test-hidden-tests.ipynb"},
        {},
        config=STUB,
        release_as=("foo",),
    ),
    Course(
        "relative-file",
        {"p1": FILES / "open_relative_file.ipynb"},
        _one("", foo="open_relative_file"),
        beside=(FILES / "data.txt",),
    ),
    Course(
        "environment",
        {"p1": FILES / "validating-environment-variable.ipynb"},
        _one("", foo="validating-environment-variable"),
    ),
    Course(
        "user-guide-ps1",
        {n: GUIDE / "source" / "ps1" / f"{n}.ipynb" for n in ("problem1", "problem2")},
        {
            student: {
                n: GUIDE / "submitted" / student / "ps1" / f"{n}.ipynb"
                for n in ("problem1", "problem2")
            }
            for student in ("bitdiddle", "hacker")
        },
        beside=(GUIDE / "source" / "ps1" / "jupyter.png",),
    ),
    Course(
        "user-guide-ps1-autotest",
        {n: GUIDE / "source" / "ps1_autotest" / f"{n}.ipynb" for n in ("problem1", "problem2")},
        {},
        beside=(GUIDE / "source" / "ps1_autotest" / "jupyter.png",),
        autotests=GUIDE / "autotests.yml",
        release_as=("student",),
    ),
]


def lay_out_source(course: Course, folder: Path) -> None:
    source = folder / "source" / "ps1"
    source.mkdir(parents=True)
    for name, path in course.notebooks.items():
        shutil.copy(path, source / f"{name}.ipynb")
    for path in course.beside:
        shutil.copy(path, source / path.name)
    if course.autotests:
        shutil.copy(course.autotests, folder / "autotests.yml")
    (folder / "nbgrader_config.py").write_text(
        f'c = get_config()\nc.CourseDirectory.course_id = "fidelity"\n{course.config}'
    )


def lay_out_submissions(course: Course, folder: Path) -> None:
    """The students' notebooks in ``submitted/``; after ``generate_assignment``, whose
    release some of them submit unchanged."""
    students = dict(course.students)
    for student in course.release_as:
        students[student] = {n: folder / "release" / "ps1" / f"{n}.ipynb" for n in course.notebooks}
    for student, notebooks in students.items():
        target = folder / "submitted" / student / "ps1"
        target.mkdir(parents=True)
        for name, path in notebooks.items():
            shutil.copy(path, target / f"{name}.ipynb")
        for path in course.beside:
            shutil.copy(path, target / path.name)


def nbgrader_commands(command: str, folders: list[Path]) -> dict[str, dict]:
    """``nbgrader <command>`` in each folder, all in one process (tests/nbgrader_baseline.py):
    folder -> {"success", "log", "error"}."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.nbgrader_baseline", command, *map(str, folders)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass
class Baseline:
    folder: Path
    outcome: dict  # the failing step's {"success", "log", "error"}, else autograde's


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Baseline]:
    """Every course laid out and graded by nbgrader once, in two nbgrader processes for all
    of them (generate_assignment, then autograde), instead of two per course."""
    root = tmp_path_factory.mktemp("fidelity")
    folders = {course.name: root / course.name / "course" for course in COURSES}
    for course in COURSES:
        lay_out_source(course, folders[course.name])
    generated = nbgrader_commands("generate_assignment", list(folders.values()))
    ready = []
    for course in COURSES:
        if generated[str(folders[course.name])]["success"]:
            lay_out_submissions(course, folders[course.name])
            ready.append(folders[course.name])
    graded = nbgrader_commands("autograde", ready)
    return {
        name: Baseline(folder, graded.get(str(folder)) or generated[str(folder)])
        for name, folder in folders.items()
    }


def nbgrader_scores(folder: Path) -> dict[tuple[str, str, str], float | None]:
    scores = {}
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as book:
        for student in sorted(p.name for p in (folder / "submitted").iterdir()):
            submission = book.find_submission("ps1", student)
            for notebook in submission.notebooks:
                for grade_ in notebook.grades:
                    # Grade.score says 0 for an answer waiting for a person; CourseHub None.
                    given = grade_.manual_score
                    given = grade_.auto_score if given is None else given
                    scores[(student, notebook.name, grade_.name)] = given
    return scores


def coursehub_scores(
    course: Course, folder: Path, jobs: Path
) -> dict[tuple[str, str, str], float | None]:
    scores = {}
    for student_folder in sorted((folder / "submitted").iterdir()):
        for name in course.notebooks:
            source = read_source_folder(folder / "source" / "ps1" / f"{name}.ipynb")
            submitted = (student_folder / "ps1" / f"{name}.ipynb").read_bytes()
            uid = next(_uids)
            result = grade(
                source,
                read_submission(submitted, source),
                workdir=jobs / f"job-{uid}",
                uid=uid,
                hidden_paths=(str(folder),),
            )
            for cell in result.cells:
                scores[(student_folder.name, name, cell.grade_id)] = cell.score
    return scores


@pytest.mark.parametrize("course", COURSES, ids=[c.name for c in COURSES])
def test_coursehub_gives_nbgraders_scores_cell_by_cell(course, baselines, tmp_path):
    baseline = baselines[course.name]
    assert baseline.outcome["success"], baseline.outcome["error"] + baseline.outcome["log"]
    folder = baseline.folder
    jobs = tmp_path / "jobs"
    jobs.mkdir(mode=0o700)

    theirs = nbgrader_scores(folder)
    ours = coursehub_scores(course, folder, jobs)

    assert theirs, "nbgrader graded nothing"
    assert set(ours) == set(theirs)
    differing = {
        key: (theirs[key], ours[key])
        for key in theirs
        if _same(theirs[key]) != _same(ours[key]) and (course.name, *key) not in DIFFERENCES
    }
    assert differing == {}


def _same(score: float | None) -> float | None:
    return None if score is None else round(float(score), 6)
