"""A real nbgrader course for the assessment benchmarks: a 10-cell source assignment (five
answers, five tests with hidden parts), nbgrader's own release of it, and students'
submissions in ``submitted/``, a share of them with wrong answers so the scores differ."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ASSIGNMENT = "ps1"
# (function, arguments, right body, wrong body, visible case, hidden case)
EXERCISES = (
    ("add", "a, b", "a + b", "a - b", ("1, 2", "3"), ("20, 22", "42")),
    ("square", "x", "x * x", "x + x", ("3", "9"), ("12", "144")),
    ("double", "x", "2 * x", "x * 3", ("4", "8"), ("21", "42")),
    ("last", "xs", "xs[-1]", "xs[0]", ("[1, 2, 3]", "3"), ("[7]", "7")),
    ("shout", "s", "s.upper() + '!'", "s.upper()", ("'hi'", "'HI!'"), ("'ok'", "'OK!'")),
)
POINTS = 2


def _cell(grade_id: str, source: str, **nbgrader: Any) -> dict[str, Any]:
    metadata = {"nbgrader": {"schema_version": 3, "grade_id": grade_id, **nbgrader}}
    return {
        "cell_type": "code",
        "id": grade_id,
        "metadata": metadata,
        "execution_count": None,
        "outputs": [],
        "source": source,
    }


def source_notebook() -> dict[str, Any]:
    """Ten code cells: an answer and its test for each exercise."""
    cells = []
    for name, args, body, _, visible, hidden in EXERCISES:
        answer = (
            f"def {name}({args}):\n"
            "    ### BEGIN SOLUTION\n"
            f"    return {body}\n"
            "    ### END SOLUTION\n"
        )
        tests = (
            f"assert {name}({visible[0]}) == {visible[1]}\n"
            "### BEGIN HIDDEN TESTS\n"
            f"assert {name}({hidden[0]}) == {hidden[1]}\n"
            "### END HIDDEN TESTS\n"
        )
        cells.append(_cell(f"{name}_answer", answer, grade=False, solution=True, locked=False))
        cells.append(
            _cell(f"test_{name}", tests, grade=True, solution=False, locked=True, points=POINTS)
        )
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": kernel, "language_info": {"name": "python"}},
        "cells": cells,
    }


def student_name(number: int) -> str:
    return f"student{number:03d}"


def answered(released: dict[str, Any], number: int) -> dict[str, Any]:
    """Student ``number``'s submission: every exercise answered, some of them wrongly."""
    notebook = json.loads(json.dumps(released))
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        for name, args, right, wrong, _, _ in EXERCISES:
            if grade_id == f"{name}_answer":
                body = wrong if (number + len(name)) % 4 == 0 else right
                cell["source"] = f"def {name}({args}):\n    return {body}\n"
    return notebook


def nbgrader(*command: str, folder: Path) -> None:
    """Run one of nbgrader's commands in the course folder; nbgrader runs ``alembic`` from
    PATH for its gradebook, so this interpreter's scripts folder comes first."""
    scripts = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{scripts}:{os.environ.get('PATH', '')}"}
    subprocess.run(
        [sys.executable, "-m", "nbgrader", *command],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
    )


def make_course(folder: Path, students: int) -> list[str]:
    """An nbgrader course in ``folder`` with ``students`` submissions; their names."""
    source = folder / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    (source / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(source_notebook(), indent=1))
    (folder / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "coursehub-bench"\n'
    )
    nbgrader("generate_assignment", ASSIGNMENT, "--force", folder=folder)
    released = json.loads((folder / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    names = []
    for number in range(students):
        names.append(student_name(number))
        target = folder / "submitted" / names[-1] / ASSIGNMENT
        target.mkdir(parents=True)
        (target / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(answered(released, number)))
        (target / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
    return names


def nbgrader_scores(folder: Path, names: list[str]) -> dict[tuple[str, str], float]:
    """Per student and grade id, the score nbgrader's gradebook holds."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as book:
        for name in names:
            for exercise in EXERCISES:
                grade_id = f"test_{exercise[0]}"
                grade = book.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, name)
                scores[(name, grade_id)] = float(grade.score)
    return scores
