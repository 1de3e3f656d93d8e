"""An nbgrader assignment source is checked at upload: with the solution every test cell
passes, and in the released version (solutions stripped) the autograded test cells fail. A
test cell that fails with the solution, or passes without any answer, is named."""

from __future__ import annotations

import copy
import json
import os
import time

import nbformat
import pytest

from coursehub.hub.constants import Role
from coursehub.services.notebook_runs.source_checks import check_assignment_source
from tests.assignment_data import source_bytes, source_notebook
from tests.course_builder import make_course, unique_word
from tests.teaching_client import open_session

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")
SLOW = 600  # two sandboxed kernels on a loaded test machine


def graded(source: str, grade_id: str, *, solution: bool, points: int = 0):  # type: ignore[no-untyped-def]
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {
        "grade": not solution,
        "solution": solution,
        "locked": not solution,
        "grade_id": grade_id,
        "schema_version": 3,
        **({"points": points} if not solution else {}),
    }
    return cell


def assignment(answer: str, tests: dict[str, str]) -> nbformat.NotebookNode:
    book = nbformat.v4.new_notebook()
    book.cells = [
        nbformat.v4.new_markdown_cell("Write `mean(values)`."),
        graded(answer, "answer", solution=True),
        *(graded(code, grade_id, solution=False, points=1) for grade_id, code in tests.items()),
    ]
    return book


async def test_the_instructor_sees_the_test_cells_that_do_not_behave():
    tests = {
        "test-mean": "assert mean([1, 2, 3]) == 2",
        "test-wrong": "assert mean([2, 2]) == 3",  # fails even with the solution
        "test-nothing": "assert True",  # passes without any answer
        "test-data": "assert mean([float(x) for x in open('data/n.txt').read().split()]) == 5",
    }
    solution = assignment("def mean(values):\n    return sum(values) / len(values)", tests)
    released = assignment("def mean(values):\n    raise NotImplementedError()", tests)

    check = await check_assignment_source(solution, released, {"data/n.txt": b"4 6\n"})

    assert not check.ok
    assert [(c.index, c.grade_id) for c in check.failing_with_solution] == [(3, "test-wrong")]
    assert "AssertionError" in check.failing_with_solution[0].problem
    assert [(c.index, c.grade_id) for c in check.passing_without_answers] == [(4, "test-nothing")]
    summary = check.summary()
    assert summary["ok"] is False
    assert summary["failing_with_solution"][0]["grade_id"] == "test-wrong"


def test_an_instructor_checks_an_uploaded_source_through_the_api(
    platform, signed_in, make_account, database_url
):
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title=f"Checked {unique_word()}", modules={})
    teacher = open_session(platform, signed_in, instructor)
    api = f"/api/courses/{course.slug}/assignments"

    made = teacher.call(
        "POST",
        f"{api}?title=Adding&check_source=1",
        content=source_bytes(),
        headers={"Content-Type": "application/x-ipynb+json"},
        timeout=300,
    )
    assert made.status_code == 201, made.text
    check = made.json()["source_check"]
    assert check["ok"] is True, check
    assert check["failing_with_solution"] == [] and check["passing_without_answers"] == []

    again = teacher.call("POST", f"{api}/{made.json()['id']}/source/check", timeout=300)
    assert again.status_code == 200 and again.json()["ok"] is True
    kept = teacher.get(f"{api}/{made.json()['id']}/source/check").json()
    assert kept["state"] == "done" and kept["ok"] is True, kept

    learner = open_session(platform, signed_in, make_account(Role.STUDENT))
    refused = learner.call("POST", f"{api}/{made.json()['id']}/source/check")
    assert refused.status_code in (403, 404)
    assert learner.get(f"{api}/{made.json()['id']}/source/check").status_code in (403, 404)


def misbehaving_source() -> bytes:
    """The usual source with a test that fails even with the solution and one that passes
    without any answer."""
    notebook = source_notebook()
    template = notebook["cells"][2]
    for grade_id, code in (("test_wrong", "assert add(2, 2) == 5"), ("test_free", "assert True")):
        cell = copy.deepcopy(template)
        cell["id"] = grade_id
        cell["source"] = code
        cell["metadata"]["nbgrader"].update(grade_id=grade_id, points=1)
        notebook["cells"].append(cell)
    return json.dumps(notebook).encode()


def checked(teacher, url: str) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + SLOW
    while time.monotonic() < deadline:
        check = teacher.get(url).json()
        if check["state"] not in ("queued", "running"):
            return check
        time.sleep(2)
    raise AssertionError(f"the source check did not finish: {check}")


def test_every_upload_is_checked_in_the_background_and_the_page_names_the_cells(
    platform, signed_in, make_account, database_url
):
    """Uploading as the pages and JupyterLab do (no ``check_source``): the upload answers at
    once, its check runs on the notebook-runs queue and is kept with that source version; the
    assignment's page names the cells that misbehave, and a corrected source is checked anew."""
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title=f"Checked {unique_word()}", modules={})
    teacher = open_session(platform, signed_in, instructor)
    api = f"/api/courses/{course.slug}/assignments"

    made = teacher.call(
        "POST",
        f"{api}?title=Adding",
        content=misbehaving_source(),
        headers={"Content-Type": "application/x-ipynb+json"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["source_check"]["state"] == "queued"
    assignment_id = made.json()["id"]
    check = checked(teacher, f"{api}/{assignment_id}/source/check")
    assert check["state"] == "done" and check["ok"] is False, check
    assert [(c["number"], c["grade_id"]) for c in check["failing_with_solution"]] == [
        (4, "test_wrong")
    ]
    assert "AssertionError" in check["failing_with_solution"][0]["problem"]
    assert [(c["number"], c["grade_id"]) for c in check["passing_without_answers"]] == [
        (5, "test_free")
    ]

    page = teacher.get(f"/courses/{course.slug}/assignments/{assignment_id}/edit")
    assert page.status_code == 200
    card = page.text[page.text.index('id="source_check"') :]
    assert 'data-state="done"' in page.text
    assert 'data-grade-id="test_wrong"' in card and 'data-grade-id="test_free"' in card
    assert "Cell 4" in card and "assert add(2, 2) == 5" in card

    corrected = teacher.call(
        "PUT",
        f"{api}/{assignment_id}/source",
        content=source_bytes(),
        headers={"Content-Type": "application/x-ipynb+json"},
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["source_check"]["state"] in ("queued", "done")
    check = checked(teacher, f"{api}/{assignment_id}/source/check")
    assert check["state"] == "done" and check["ok"] is True, check
