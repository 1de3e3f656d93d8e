"""Per-student variants of an assignment, as an instructor and three students use them: the
source's papermill ``parameters`` cell and a variant rule give each student values of their
own, the same on every fetch; each student's right answer scores full marks, the same answer
handed in by a classmate scores 0 and is flagged for staff only; a regrade reproduces every
score; bad rules are refused with the reason."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from coursehub.services.models import AssignmentVariant
from tests.course_builder import enroll
from tests.grading_room import (
    GRADING_TIMEOUT,
    IPYNB,
    GradingRoom,
    People,
    build_room,
    grade_of,
    wait_for_run,
    wait_until_graded,
)
from tests.teaching_client import Session


def _code(cell_id: str, source: str, nbgrader: dict[str, Any] | None = None, **meta: Any) -> dict:
    metadata: dict[str, Any] = dict(meta)
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


def variant_source(parameters: str = "a = 2\nb = 3\nc = 0.5\n") -> bytes:
    """Compute ``answer = a * b + c`` for your own a, b and c; a hidden test checks it."""
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": "Compute."},
            _code("params", parameters, tags=["parameters"]),
            _code(
                "answer",
                "### BEGIN SOLUTION\nanswer = a * b + c\n### END SOLUTION\n",
                {"grade": False, "solution": True, "locked": False},
            ),
            _code(
                "test_answer",
                "assert isinstance(answer, float)\n"
                "### BEGIN HIDDEN TESTS\n"
                "assert abs(answer - (a * b + c)) < 1e-9, 'variant-check'\n"
                "### END HIDDEN TESTS\n",
                {"grade": True, "solution": False, "locked": True, "points": 3},
            ),
        ],
    }
    return json.dumps(notebook).encode()


RULE = {
    "seed": "spring",
    "parameters": {
        "a": {"range": [10, 99]},
        "b": {"range": [100, 999]},
        "c": {"choices": [0.25, 0.5, 0.75]},
    },
    "answers": ["answer"],
}


def injected_values(notebook: dict[str, Any]) -> dict[str, Any]:
    """The values papermill's injected-parameters cell gives (what the student sees)."""
    cells = [c for c in notebook["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1, "one injected-parameters cell"
    source = "".join(cells[0]["source"])
    values: dict[str, Any] = {}
    exec(source, {}, values)  # noqa: S102 - our own test's notebook
    return values


def with_answer(notebook: dict[str, Any], answer: float) -> bytes:
    for cell in notebook["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "answer":
            cell["source"] = f"answer = {answer!r}\n"
    return json.dumps(notebook).encode()


@pytest.fixture(scope="module")
def room(platform, db, database_url) -> Iterator[GradingRoom]:
    people = People(platform, db, "variants")
    built = build_room(people.account, people.session, db, database_url, students=3)
    made = built.teacher.call(
        "POST",
        f"{built.api}/assignments",
        params={"title": "Your own numbers"},
        content=variant_source(),
        headers=IPYNB,
    )
    assert made.status_code == 201, made.text
    built.assignment_id = made.json()["id"]
    rule = built.teacher.call("PUT", f"{built.one}/variants", json=RULE)
    assert rule.status_code == 200, rule.text
    released = built.teacher.call("PATCH", built.one, json={"release": True})
    assert released.status_code == 200, released.text
    yield built
    people.close()


def fetch(room: GradingRoom, student: Session) -> dict[str, Any]:
    response = student.get(f"{room.one}/notebook")
    assert response.status_code == 200, response.text
    return response.json()


def test_three_students_get_three_different_stable_variants_recorded_for_staff(room):
    copies = [fetch(room, student) for student in room.students]
    values = [injected_values(copy) for copy in copies]
    assert len({json.dumps(v, sort_keys=True) for v in values}) == 3
    # The same on a second fetch (another device) and byte for byte the same copy.
    assert [fetch(room, student) for student in room.students] == copies
    listed = room.teacher.get(f"{room.one}/variants").json()
    by_account = {v["account_id"]: v["parameters"] for v in listed["variants"]}
    assert [by_account[s.account.id] for s in room.students] == values
    # Students do not see the class's variants.
    assert room.students[0].get(f"{room.one}/variants").status_code == 403


def test_each_variants_expected_values_are_recorded_in_the_background_after_release(room, db):
    """Before anyone submits: the solution has run once per variant (the release queued it on
    the notebook-runs queue), so each variant's expected answer is on record."""
    wanted = {s.account.id: injected_values(fetch(room, s)) for s in room.students}
    deadline = time.monotonic() + GRADING_TIMEOUT
    expected: dict[int, Any] = {}
    while time.monotonic() < deadline:
        with db() as session:
            expected = dict(
                session.execute(
                    select(AssignmentVariant.account_id, AssignmentVariant.expected).where(
                        AssignmentVariant.assignment_id == room.assignment_id
                    )
                ).all()
            )
        if all(expected.get(account) for account in wanted):
            break
        time.sleep(2)
    for account, values in wanted.items():
        assert expected.get(account) == {"answer": values["a"] * values["b"] + values["c"]}, (
            account,
            expected,
        )


def test_right_answers_score_full_marks_and_a_classmates_answer_scores_zero_flagged(room, db):
    mine = [fetch(room, student) for student in room.students]
    answers = [v["a"] * v["b"] + v["c"] for v in map(injected_values, mine)]
    ids = []
    for student, notebook, answer in zip(room.students[:2], mine, answers, strict=False):
        sent = student.call(
            "POST", f"{room.one}/submissions", content=with_answer(notebook, answer), headers=IPYNB
        )
        assert sent.status_code == 201, sent.text
        ids.append(sent.json()["id"])
    # The third student hands in the first one's answer under their own numbers.
    copied = room.students[2].call(
        "POST",
        f"{room.one}/submissions",
        content=with_answer(mine[2], answers[0]),
        headers=IPYNB,
    )
    assert copied.status_code == 201, copied.text
    ids.append(copied.json()["id"])
    for student, submission_id in zip(room.students, ids, strict=True):
        room.submission_ids[student.account.username] = submission_id
    wait_until_graded(db, ids)
    grades = [grade_of(db, i) for i in ids]
    assert [g.score for g in grades] == [3, 3, 0]
    copy_flags = [f for f in grades[2].flags if "another student's variant" in f]
    assert copy_flags, grades[2].flags
    assert not [f for g in grades[:2] for f in g.flags if "another student's variant" in f]
    # Never shown to the student: not in their attempt, not in their feedback.
    attempt = room.students[2].get(room.attempt(room.students[2]))
    feedback = room.students[2].get(f"{room.attempt(room.students[2])}/feedback")
    assert "another student's variant" not in attempt.text + feedback.text
    assert "variant-check" not in feedback.text


def test_a_regrade_reproduces_every_score(room, db):
    ids = [room.submission_ids[s.account.username] for s in room.students]
    before = [grade_of(db, i).score for i in ids]
    started = room.teacher.call(
        "POST",
        f"{room.one}/grading-runs",
        json={"kind": "REGRADE", "reason": "Checking the variants grade the same."},
    )
    assert started.status_code == 202, started.text
    done = wait_for_run(room.teacher, room.api, started.json()["id"])
    assert (done["done"], done["failed"]) == (3, 0)
    assert [grade_of(db, i).score for i in ids] == before == [3, 3, 0]


def test_bad_rules_are_refused_with_the_reason(room):
    one = room.one
    empty = room.teacher.call(
        "PUT", f"{one}/variants", json={"parameters": {"a": {"range": [5, 1]}}}
    )
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    unknown = room.teacher.call(
        "PUT", f"{one}/variants", json={"parameters": {"z": {"choices": [1]}}}
    )
    assert unknown.status_code == 400 and "'z'" in unknown.json()["error"]
    missing = room.teacher.call(
        "PUT",
        f"{one}/variants",
        json={"csv": {"column": "student", "rows": [{"student": "nobody", "a": "4"}]}},
    )
    assert missing.status_code == 409, missing.text
    assert room.students[0].account.username in missing.json()["error"]
    assert room.students[0].call("PUT", f"{one}/variants", json=RULE).status_code == 403


def test_a_parameters_cell_that_does_not_parse_is_refused(room):
    made = room.teacher.call(
        "POST",
        f"{room.api}/assignments",
        params={"title": "Broken parameters"},
        content=variant_source("a = = 2\n"),
        headers=IPYNB,
    )
    assert made.status_code == 201, made.text
    refused = room.teacher.call(
        "PUT", f"{room.api}/assignments/{made.json()['id']}/variants", json=RULE
    )
    assert refused.status_code == 400 and "does not parse" in refused.json()["error"]


def test_a_student_added_after_release_gets_a_variant_at_first_fetch_and_staff_see_each(
    room, platform, db
):
    """Enrolled after the release: their first fetch draws and records their variant (stable
    afterwards); staff see every student's variant in the gradebook and on an attempt's
    grading view, students never see the class's."""
    people = People(platform, db, "late")
    try:
        late = people.account()
        enroll(db, late, room.course)
        newcomer = people.session(late)
        copy = fetch(room, newcomer)
        values = injected_values(copy)
        assert fetch(room, newcomer) == copy
        listed = room.teacher.get(f"{room.one}/variants").json()["variants"]
        assert {v["account_id"]: v["parameters"] for v in listed}[late.id] == values

        book = room.teacher.get(f"{room.api}/gradebook").json()
        column = f"assignment-{room.assignment_id}"
        seen = {row["account_id"]: row.get("variants", {}).get(column) for row in book["students"]}
        for student in room.students:
            assert seen[student.account.id] == injected_values(fetch(room, student))
        assert seen[late.id] == values
        own = room.students[0].get(f"{room.api}/gradebook").json()
        assert all("variants" not in row for row in own["students"])

        # The attempt handed in above: its grading view names the student's variant.
        student = room.students[0]
        view = room.teacher.get(f"{room.attempt(student)}/grading")
        assert view.status_code == 200, view.text
        assert view.json()["variant"] == injected_values(fetch(room, student))
    finally:
        people.close()
