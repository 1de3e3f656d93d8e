"""nbgrader notebooks for the assessment tests: a source with a solution, visible and hidden
tests, and the notebooks a student might hand in."""

from __future__ import annotations

import copy
import json
from typing import Any

SOLUTION = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION\n"
TESTS = (
    "assert add(1, 2) == 3\n"
    "### BEGIN HIDDEN TESTS\n"
    "assert add(20, 22) == 42, 'hidden-check-xyzzy'\n"
    "### END HIDDEN TESTS\n"
)


def _code(cell_id: str, source: str, nbgrader: dict[str, Any] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if nbgrader is not None:
        metadata["nbgrader"] = {"schema_version": 3, "grade_id": cell_id, **nbgrader}
    return {
        "cell_type": "code",
        "id": cell_id,
        "metadata": metadata,
        "execution_count": None,
        "outputs": [],
        "source": source,
    }


def source_notebook() -> dict[str, Any]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": "Write `add`."},
            _code("answer", SOLUTION, {"grade": False, "solution": True, "locked": False}),
            _code(
                "test_add",
                TESTS,
                {"grade": True, "solution": False, "locked": True, "points": 2},
            ),
        ],
    }


def source_bytes() -> bytes:
    return json.dumps(source_notebook()).encode()


def answered(student_notebook: dict[str, Any], body: str = "    return a + b") -> bytes:
    """The student version with the answer cell filled in."""
    notebook = copy.deepcopy(student_notebook)
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "answer":
            cell["source"] = f"def add(a, b):\n{body}\n"
    return json.dumps(notebook).encode()
