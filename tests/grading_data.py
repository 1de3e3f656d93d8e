"""An nbgrader source with work for people: the ``add`` function and its test (2 points,
graded by the autograder), an essay (a manually graded markdown answer, 3 points) and a
"show your work" code cell graded by a person (1 point). ``buggy`` makes the test expect a
wrong result, as an instructor's mistake that a fixed source and a regrade put right."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.assignment_data import SOLUTION, TESTS

ESSAY = "essay"
SHOW_WORK = "show_work"
MAX_SCORE = 6.0
BUGGY_TESTS = "assert add(1, 2) == 4\n"
ESSAY_SOLUTION = (
    "### BEGIN SOLUTION\nAddition is commutative, so the order does not matter.\n### END SOLUTION"
)
SHOW_WORK_SOLUTION = "### BEGIN SOLUTION\nprint(add(2, 3))\n### END SOLUTION"


def _cell(cell_id: str, source: str, cell_type: str = "code", **nbgrader: Any) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": cell_type, "id": cell_id, "metadata": {}, "source": source}
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, "grade_id": cell_id, **nbgrader}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def essay_source(*, buggy: bool = False) -> dict[str, Any]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            _cell("intro", "Write `add`, then explain it.", "markdown"),
            _cell("answer", SOLUTION, grade=False, solution=True, locked=False),
            _cell(
                "test_add",
                BUGGY_TESTS if buggy else TESTS,
                grade=True,
                solution=False,
                locked=True,
                points=2,
            ),
            _cell(
                ESSAY, ESSAY_SOLUTION, "markdown", grade=True, solution=True, locked=False, points=3
            ),
            _cell(SHOW_WORK, SHOW_WORK_SOLUTION, grade=True, solution=True, locked=False, points=1),
        ],
    }


def essay_bytes(*, buggy: bool = False) -> bytes:
    return json.dumps(essay_source(buggy=buggy)).encode()


def essay_answer(
    student_notebook: dict[str, Any],
    essay: str = "Order does not matter: *a + b* equals *b + a*.",
    show_work: str = "print(add(2, 3))",
) -> bytes:
    """The student version with ``add`` right, the essay written and the work shown."""
    notebook = copy.deepcopy(student_notebook)
    answers = {"answer": "def add(a, b):\n    return a + b\n", ESSAY: essay, SHOW_WORK: show_work}
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return json.dumps(notebook).encode()
