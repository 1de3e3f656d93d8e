"""The gradebook: staff see every enrolled student's best graded attempt per assignment (late
penalties shown) and export it as plain or Canvas CSV; a student sees their own row only."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from sqlalchemy import update

from coursehub.hub.constants import Role
from coursehub.services.models import Account, Grade, Submission, SubmissionStatus
from tests.course_builder import enroll
from tests.test_assignments import classroom, create  # noqa: F401 - the fixture


def graded_attempt(db, assignment_id: int, student: Account, attempt: int, score: float,  # type: ignore[no-untyped-def]
                   penalty: float = 0.0) -> None:  # fmt: skip
    """An attempt as the grading worker leaves it (the pipeline itself is tested elsewhere)."""
    notebook = f"attempt {attempt} of {student.username}".encode()
    with db() as session:
        submission = Submission(
            assignment_id=assignment_id,
            account_id=student.id,
            attempt=attempt,
            sha256=hashlib.sha256(notebook).hexdigest(),
            notebook=notebook,
            size=len(notebook),
            late_penalty_percent=penalty,
            status=SubmissionStatus.GRADED,
        )
        session.add(submission)
        session.flush()
        session.add(
            Grade(
                submission_id=submission.id,
                outcome="graded",
                score=score,
                max_score=2,
                late_penalty_percent=penalty,
                final_score=round(score * (1 - penalty / 100), 4),
            )
        )
        session.commit()


@pytest.fixture
def graded_class(classroom, db, make_account):  # noqa: F811 - the fixture
    assignment = create(classroom)
    # Attempt 1 on time, attempt 2 better but late: the best final score counts (1.8).
    graded_attempt(db, assignment["id"], classroom.student, 1, 1.0)
    graded_attempt(db, assignment["id"], classroom.student, 2, 2.0, penalty=10)
    # A classmate who has not submitted, with a name a spreadsheet would take for a formula.
    quiet = make_account(Role.STUDENT)
    with db() as session:
        session.execute(update(Account).where(Account.id == quiet.id).values(name="=1+1"))
        session.commit()
    enroll(db, quiet, classroom.course)
    return classroom, assignment, quiet


def test_staff_see_every_students_best_attempt_with_its_penalty(graded_class):
    room, assignment, quiet = graded_class
    book = room.teacher.get(f"/api/courses/{room.course.slug}/gradebook").json()
    assert book["staff"] is True
    assert book["assignments"] == [
        {"id": assignment["id"], "title": "Adding numbers", "max_score": 2.0}
    ]
    rows = {row["username"]: row for row in book["students"]}
    assert set(rows) == {room.student.username, quiet.username}
    best = rows[room.student.username]["grades"][str(assignment["id"])]
    assert best == {
        "final_score": 1.8,
        "late_penalty_percent": 10.0,
        "attempt": 2,
        "needs_manual": False,
    }
    assert rows[room.student.username]["total"] == 1.8
    assert rows[quiet.username]["grades"] == {} and rows[quiet.username]["total"] == 0


def test_a_student_sees_only_their_own_row(graded_class):
    room, assignment, _ = graded_class
    book = room.learner.get(f"/api/courses/{room.course.slug}/gradebook").json()
    assert book["staff"] is False
    assert [row["username"] for row in book["students"]] == [room.student.username]
    assert book["students"][0]["grades"][str(assignment["id"])]["final_score"] == 1.8


def test_plain_and_canvas_csv_exports(graded_class):
    room, assignment, quiet = graded_class
    plain = room.teacher.get(f"/api/courses/{room.course.slug}/gradebook.csv?format=plain")
    assert plain.status_code == 200
    assert plain.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in plain.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(plain.text)))
    assert rows[0] == ["username", "name", "email", "Adding numbers", "total", "max total"]
    by_user = {row[0]: row for row in rows[1:]}
    assert by_user[room.student.username][3:] == ["1.8", "1.8", "2.0"]
    assert by_user[quiet.username][1] == "'=1+1"  # never a formula
    assert by_user[quiet.username][3] == ""

    page = room.teacher.get(f"/courses/{room.course.slug}/assignments").text
    assert "gradebook.csv?format=canvas" in page

    canvas = room.teacher.get(f"/api/courses/{room.course.slug}/gradebook.csv?format=canvas")
    rows = list(csv.reader(io.StringIO(canvas.text)))
    column = f"Adding numbers ({assignment['id']})"
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column]
    assert rows[1][0] == "Points Possible" and rows[1][5] == "2.0"
    mine = next(row for row in rows[2:] if row[2] == room.student.username)
    assert mine[5] == "1.8"


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        pytest.param("learner", "gradebook.csv?format=plain", 403, id="student-export"),
        pytest.param("teacher", "gradebook.csv?format=xlsx", 400, id="unknown-format"),
        pytest.param("outsider", "gradebook", 403, id="not-enrolled"),
        pytest.param("outsider", "gradebook.csv?format=plain", 403, id="not-enrolled-export"),
    ],
)
def test_the_gradebook_refuses_whom_it_should(
    graded_class, make_account, signed_in, platform, who, path, status
):
    room, _, _ = graded_class
    if who == "outsider":
        outsider = make_account(Role.STUDENT)
        http = signed_in(outsider)
        answer = http.get(f"{platform.service_url}/api/courses/{room.course.slug}/{path}")
    else:
        answer = getattr(room, who).get(f"/api/courses/{room.course.slug}/{path}")
    assert answer.status_code == status, answer.text
    assert "error" in answer.json()
