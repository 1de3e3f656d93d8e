"""What the assignment pages say besides the forms: what nbgrader's student version leaves
out of a source, and an attempt whose grading failed, which the gradebook, the student's
grade page and the assignments page call "grading failed" instead of "awaiting grading"."""

from __future__ import annotations

import hashlib
import json

from coursehub.hub.constants import Role
from coursehub.services.assessment import gradebook
from coursehub.services.assessment.assignment_authoring import StrippedCell, stripped_cells
from coursehub.services.assessment.gradebook import GradeCell
from coursehub.services.models import Submission, SubmissionStatus
from tests.assignment_data import source_bytes, source_notebook
from tests.course_builder import enroll, make_course, unique_word
from tests.grading_room import IPYNB
from tests.teaching_client import open_session


def test_the_student_version_leaves_out_solutions_hidden_tests_and_outputs():
    source = source_notebook()
    source["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "3\n"}]
    source["cells"].append(
        {
            "cell_type": "markdown",
            "id": "essay",
            "metadata": {
                "nbgrader": {
                    "schema_version": 3,
                    "grade_id": "essay",
                    "grade": True,
                    "solution": True,
                    "locked": False,
                    "points": 1,
                }
            },
            "source": "Addition commutes.\nSo 1 + 2 = 2 + 1.",
        }
    )
    student = json.loads(json.dumps(source))
    student["cells"][1]["source"] = "def add(a, b):\n    # YOUR CODE HERE\n"
    student["cells"][1]["outputs"] = []
    student["cells"][2]["source"] = "assert add(1, 2) == 3\n"
    student["cells"][3]["source"] = "YOUR ANSWER HERE"

    assert stripped_cells(source, student) == [
        StrippedCell(2, "answer", ("the solution (1 line)", "1 output")),
        StrippedCell(3, "test_add", ("hidden tests (1 line)",)),
        StrippedCell(4, "essay", ("the whole answer (2 lines)",)),
    ]
    assert stripped_cells(student, student) == []


def test_a_failed_attempt_is_not_awaiting_anything():
    assert gradebook._failed(None) == GradeCell(None, None, 0.0, None, False, failed=True)
    assert gradebook._status(gradebook._failed(None), None) == "failed"
    # A failed attempt beside one still queued: the cell still waits for that one.
    assert gradebook._status(gradebook._awaiting(gradebook._failed(None)), None) == "awaiting"
    graded = GradeCell(2.0, 2.0, 0.0, 1, False)
    assert gradebook._status(gradebook._failed(graded), None) == "graded"


def test_pages_say_grading_failed_for_an_attempt_whose_grading_failed(
    platform, signed_in, make_account, db, database_url
):
    instructor = make_account(Role.INSTRUCTOR)
    student = make_account(Role.STUDENT)
    course = make_course(database_url, instructor, title=f"Failed {unique_word()}", modules={})
    enroll(db, student, course)
    teacher = open_session(platform, signed_in, instructor)
    api = f"/api/courses/{course.slug}/assignments"
    made = teacher.call(
        "POST", api, params={"title": "Adding numbers"}, content=source_bytes(), headers=IPYNB
    )
    assert made.status_code == 201, made.text
    assignment_id = made.json()["id"]
    teacher.call("PATCH", f"{api}/{assignment_id}", json={"release": True}).raise_for_status()
    notebook = json.dumps(source_notebook()).encode()
    with db() as session:
        session.add(
            Submission(
                assignment_id=assignment_id,
                account_id=student.id,
                attempt=1,
                sha256=hashlib.sha256(notebook).hexdigest(),
                notebook=notebook,
                size=len(notebook),
                status=SubmissionStatus.FAILED,
                status_message="The grading sandbox could not start.",
            )
        )
        session.commit()

    book = teacher.get(f"/api/courses/{course.slug}/gradebook").json()
    [row] = book["students"]
    cell = row["cells"][f"assignment-{assignment_id}"]
    assert (cell["awaiting_grading"], cell["grading_failed"]) == (False, True)
    staff_page = teacher.get(f"/courses/{course.slug}/gradebook").text
    assert "grading failed" in staff_page and "awaiting grading" not in staff_page

    learner = signed_in(student)
    grades = learner.get(f"{platform.service_url}/courses/{course.slug}/grades").text
    assert "Grading failed on CourseHub" in grades and "Awaiting grading" not in grades
    listed = learner.get(f"{platform.service_url}/courses/{course.slug}/assignments").text
    assert "grading failed: The grading sandbox could not start." in listed
