"""A student's own grades page: each assessment with their due date, status, score, late
penalty and category, the weighted total so far, and for each graded attempt the score and
feedback of every grade cell (hidden tests never), with the feedback notebook a click away.
Staff and graders open any student's page; students only their own."""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime, timedelta

from coursehub.hub.constants import Role
from coursehub.services.models import CourseGrader, FeedbackRelease, ManualScore
from tests.assignment_data import answered
from tests.course_builder import enroll
from tests.teaching_client import open_session
from tests.test_assignments import classroom, create, iso, student_notebook, submit  # noqa: F401
from tests.test_gradebook import engine_cell, graded_attempt


def graded(room, assignment_id: int, data: bytes) -> dict:  # type: ignore[no-untyped-def]
    """Submit ``data`` and wait until the platform's worker has graded it."""
    response = submit(room, assignment_id, data)
    assert response.status_code == 201, response.text
    path = f"{room.api}/{assignment_id}/submissions/{response.json()['id']}"
    deadline = time.monotonic() + 240
    body = response.json()
    while body["status"] not in ("GRADED", "FAILED") and time.monotonic() < deadline:
        time.sleep(1)
        body = room.learner.get(path).json()
    assert body["status"] == "GRADED", body
    return body


def text_of(page: str) -> str:
    """The page's words, tags dropped and spaces squeezed, to read as a person does."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_a_student_reads_each_cells_feedback_but_never_a_hidden_test(classroom):  # noqa: F811
    room = classroom
    slug = room.course.slug
    due = datetime.now(UTC) - timedelta(hours=12)
    homework = create(room, due_at=iso(due), late_penalty_percent=10, late_penalty_unit="DAY")
    later = create(room, title="Subtracting numbers", due_at=iso(due))
    extended_to = datetime.now(UTC) + timedelta(days=5)
    granted = room.teacher.call(
        "PUT",
        f"{room.api}/{later['id']}/extensions/{room.student.id}",
        json={"due_at": iso(extended_to), "reason": "Away for a family event"},
    )
    assert granted.status_code == 200, granted.text
    made = room.teacher.call(
        "POST",
        f"/api/courses/{slug}/grade-categories",
        json={"name": "Homework", "weight": 100, "assignment_ids": [homework["id"], later["id"]]},
    )
    assert made.status_code == 201, made.text

    notebook = student_notebook(room, homework["id"])
    right = graded(room, homework["id"], answered(notebook))  # 2 points, a day late: 1.8
    # Passes the visible test, fails the hidden one.
    wrong = graded(room, homework["id"], answered(notebook, "    return a + b if a < 10 else 0"))
    assert (right["grade"]["final_score"], wrong["grade"]["final_score"]) == (1.8, 0)

    course_page = room.learner.get(f"/courses/{slug}").text
    assert f"/courses/{slug}/grades" in course_page
    assert f"/courses/{slug}/grades" in room.learner.get(f"/courses/{slug}/assignments").text
    page = room.learner.get(f"/courses/{slug}/grades")
    assert page.status_code == 200, page.text
    words = text_of(page.text)
    assert "Your grades in" in words
    assert "So far 90 %" in words  # the weighted total: Homework (100 %) 1.8 / 2
    assert "Homework 100 % 1.8 / 2 90 %" in words
    assert "Category: Homework" in words
    assert "Graded 1.8 / 2" in words
    assert "Late penalty: \u221210 % (0.2 of 2 points taken off, attempt 1)" in words
    # Each graded attempt's cells: the grade id, points and the engine's feedback.
    first, second = re.findall(r'<details class="mt-2 attempt".*?</details>', page.text, re.S)[:2]
    assert "test_add" in text_of(first) and "2 / 2" in text_of(first) and "Passed." in first
    assert "0 / 2" in text_of(second) and "A hidden test failed." in second
    for attempt in (right, wrong):
        link = f"{room.api}/{homework['id']}/submissions/{attempt['id']}/feedback"
        assert link in page.text
        assert room.learner.get(link).status_code == 200
    # The extension is the student's due date; nothing handed in yet, and it is not late.
    assert "Subtracting numbers" in words and "(your extension)" in words
    assert "Not submitted yet" in words and "Missing" not in words
    # Nothing of the hidden test reaches the page: neither its code nor its message.
    assert "hidden-check-xyzzy" not in page.text and "add(20, 22)" not in page.text


def test_staff_open_any_students_grades_and_students_only_their_own(
    classroom,  # noqa: F811
    db,
    make_account,
    platform,
    signed_in,
):
    room = classroom
    slug = room.course.slug
    homework = create(room)
    graded_attempt(db, homework["id"], room.student, 1, 1.5)
    classmate = make_account(Role.STUDENT)
    enroll(db, classmate, room.course)
    other = open_session(platform, signed_in, classmate)
    grader = make_account(Role.STUDENT)
    with db() as session:
        session.add(CourseGrader(course_id=room.course.id, account_id=grader.id))
        session.commit()
    marker = open_session(platform, signed_in, grader)
    outsider = open_session(platform, signed_in, make_account(Role.STUDENT))
    theirs = f"/courses/{slug}/grades?student={room.student.username}"

    for person in (room.teacher, marker):
        page = person.get(theirs)
        assert page.status_code == 200, page.text
        assert f"as {room.student.username} sees it" in page.text
        assert "1.5 / 2" in text_of(page.text)
    # Staff are no students: without ?student= they land on the gradebook.
    assert room.teacher.get(f"/courses/{slug}/grades").url.path.endswith(f"/{slug}/gradebook")
    missing = room.teacher.get(f"/courses/{slug}/grades?student=nobody-{classmate.id}")
    assert missing.status_code == 404 and "pick one in the gradebook" in missing.text
    # A classmate sees their own page, never someone else's; an outsider sees none.
    assert other.get(f"/courses/{slug}/grades").status_code == 200
    refused = other.get(theirs)
    assert refused.status_code == 403 and "your own grades only" in refused.text
    assert "1.5 / 2" not in refused.text
    assert outsider.get(f"/courses/{slug}/grades").status_code == 403
    gradebook = f"/courses/{slug}/gradebook"
    assert room.teacher.get(gradebook).text.count(f"grades?student={room.student.username}") == 1


def test_scores_and_comments_staff_have_not_released_stay_off_the_students_page(
    classroom,  # noqa: F811
    db,
):
    room = classroom
    slug = room.course.slug
    homework = create(room)
    # The engine gave the test no points; a person gave it 1.5 with a comment, and the
    # attempt's grade holds the person's score (as manual grading leaves it).
    cell = engine_cell(0.0, "AssertionError: add(1, 2) should be 3")
    submission_id = graded_attempt(db, homework["id"], room.student, 1, 1.5, cells=[cell])
    with db() as session:
        session.add(ManualScore(submission_id=submission_id, grade_id="test_add", score=1.5,
                                typed=True, comment="Nearly: **swap** the operands."))  # fmt: skip
        session.commit()
    key = f"assignment-{homework['id']}"

    staff_view = room.teacher.get(f"/api/courses/{slug}/gradebook").json()
    assert staff_view["students"][0]["cells"][key]["final_score"] == 1.5
    own = room.learner.get(f"/api/courses/{slug}/gradebook").json()["students"][0]
    assert own["cells"][key]["final_score"] == 0 and own["total"] == 0
    page = room.learner.get(f"/courses/{slug}/grades").text
    assert "Graded 0 / 2" in text_of(page)
    assert "1.5" not in text_of(page) and "swap" not in page

    with db() as session:
        session.add(FeedbackRelease(assignment_id=homework["id"]))
        session.commit()
    page = room.learner.get(f"/courses/{slug}/grades").text
    assert "Graded 1.5 / 2" in text_of(page)
    assert "<strong>swap</strong>" in page  # the person's comment, as safe HTML
    assert room.learner.get(f"/api/courses/{slug}/gradebook").json()["students"][0]["total"] == 1.5
