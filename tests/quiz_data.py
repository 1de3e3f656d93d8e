"""Quizzes for the quiz tests: a quiz notebook with every kind of question (as an instructor
writes it in Jupyter), and questions as the quiz builder sends them."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.assignment_data import SOLUTION, TESTS

# Words that appear only in what decides a score; students must never receive them before
# they submit.
SECRET_REGEX = r"(?i)guido(\s+van\s+rossum)?"
SECRET_EXPLANATION = "Explained-after-submit: Python was created by Guido."
SECRET_GUIDANCE = "Grader-notes-only: look for a mention of indentation."


def _markdown(cell_id: str, source: str, question: dict[str, Any] | None = None) -> dict[str, Any]:
    metadata = {"coursehub": {"question": question}} if question is not None else {}
    return {"cell_type": "markdown", "id": cell_id, "metadata": metadata, "source": source}


def _code(cell_id: str, source: str, nbgrader: dict[str, Any]) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "id": cell_id,
        "metadata": {"nbgrader": {"schema_version": 3, "grade_id": cell_id, **nbgrader}},
        "execution_count": None,
        "outputs": [],
        "source": source,
    }


def quiz_notebook() -> dict[str, Any]:
    """Six questions, one of each kind, in the notebook format of
    ``coursehub.services.quizzes.quiz_notebooks``."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "coursehub": {"quiz": {"title": "Python basics", "time_limit_minutes": 30}},
        },
        "cells": [
            _markdown("intro", "# Python basics\n\nA short quiz on the first week."),
            _markdown(
                "q-single",
                "Which keyword defines a function?\n\n- [ ] func\n- [x] def\n- [ ] lambda def",
                {"kind": "SINGLE_CHOICE", "points": 1, "tags": ["week-1"]},
            ),
            _markdown(
                "q-multiple",
                "Which of these are Python types?",
                {
                    "kind": "MULTIPLE_CHOICE",
                    "points": 2,
                    "choices": [
                        {"text": "`int`", "correct": True},
                        {"text": "`str`", "correct": True},
                        {"text": "`integer`", "correct": False},
                    ],
                },
            ),
            _markdown(
                "q-tf",
                "Python lists are immutable.",
                {"kind": "TRUE_FALSE", "points": 1, "correct": False},
            ),
            _markdown(
                "q-fill",
                "Who created Python?",
                {
                    "kind": "FILL_IN",
                    "points": 1,
                    "answers": [{"mode": "regex", "value": SECRET_REGEX}],
                    "display": "Guido van Rossum",
                    "explanation": SECRET_EXPLANATION,
                },
            ),
            _markdown(
                "q-essay",
                "Why does Python use indentation for blocks?",
                {"kind": "ESSAY", "points": 3, "guidance": SECRET_GUIDANCE},
            ),
            _markdown("q-code", "Write `add(a, b)`.", {"kind": "CODE"}),
            _code("add-solution", SOLUTION, {"grade": False, "solution": True, "locked": False}),
            _code(
                "add-tests", TESTS, {"grade": True, "solution": False, "locked": True, "points": 2}
            ),
        ],
    }


def notebook_bytes(notebook: dict[str, Any] | None = None) -> bytes:
    return json.dumps(notebook or quiz_notebook()).encode()


def broken(change) -> bytes:  # type: ignore[no-untyped-def]
    """The quiz notebook after ``change(notebook)``, as bytes."""
    notebook = copy.deepcopy(quiz_notebook())
    change(notebook)
    return notebook_bytes(notebook)


# -- questions as the quiz builder sends them ----------------------------------------------


def true_false(prompt: str, correct: bool, **fields: Any) -> dict[str, Any]:
    return {"kind": "TRUE_FALSE", "prompt": prompt, "correct": correct, **fields}


def single_choice(prompt: str, right: str, *wrong: str, **fields: Any) -> dict[str, Any]:
    choices = [{"text": right, "correct": True}] + [{"text": w, "correct": False} for w in wrong]
    return {"kind": "SINGLE_CHOICE", "prompt": prompt, "choices": choices, **fields}


def fill_in(prompt: str, *answers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"kind": "FILL_IN", "prompt": prompt, "answers": list(answers), **fields}


def essay(prompt: str, **fields: Any) -> dict[str, Any]:
    return {"kind": "ESSAY", "prompt": prompt, **fields}
