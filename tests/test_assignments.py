"""Notebook assignments through the API, as instructors and students use them: creating and
releasing, downloading, submitting (once per click), dates, late penalties, attempt limits,
who may do what, and a submission graded by the platform's own worker."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from coursehub.hub.constants import Role
from coursehub.services.models import (
    Account,
    Assignment,
    Grade,
    LessonKind,
    Notification,
    Submission,
    SubmissionStatus,
)
from tests.assignment_data import answered, source_bytes
from tests.course_builder import BuiltCourse, LessonPlan, enroll, make_course, unique_word
from tests.teaching_client import Session, open_session

IPYNB = {"Content-Type": "application/x-ipynb+json"}


@dataclass
class Classroom:
    course: BuiltCourse
    teacher: Session
    learner: Session
    student: Account

    @property
    def api(self) -> str:
        return f"/api/courses/{self.course.slug}/assignments"


@pytest.fixture
def classroom(platform, signed_in, make_account, db, database_url) -> Classroom:
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url,
        instructor,
        title=f"Assessed {unique_word()}",
        modules={"Week 1": [LessonPlan("Homework", kind=LessonKind.ASSIGNMENT)]},
    )
    student = make_account(Role.STUDENT)
    enroll(db, student, course)
    return Classroom(
        course,
        open_session(platform, signed_in, instructor),
        open_session(platform, signed_in, student),
        student,
    )


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def create(room: Classroom, **settings: Any) -> dict[str, Any]:
    made = room.teacher.call(
        "POST",
        room.api,
        params={"title": "Adding numbers", "lesson_id": room.course.lesson_ids[0]},
        content=source_bytes(),
        headers=IPYNB,
    )
    assert made.status_code == 201, made.text
    released = room.teacher.call(
        "PATCH", f"{room.api}/{made.json()['id']}", json={"release": True, **settings}
    )
    assert released.status_code == 200, released.text
    return released.json()


def student_notebook(room: Classroom, assignment_id: int) -> dict[str, Any]:
    response = room.learner.get(f"{room.api}/{assignment_id}/notebook")
    assert response.status_code == 200, response.text
    return response.json()


def submit(room: Classroom, assignment_id: int, data: bytes, **headers: str):  # type: ignore[no-untyped-def]
    return room.learner.call(
        "POST",
        f"{room.api}/{assignment_id}/submissions",
        content=data,
        headers={**IPYNB, **headers},
    )


def jobs_for(db, submission_id: int) -> list[Any]:  # type: ignore[no-untyped-def]
    with db() as session:
        return list(
            session.execute(
                text(
                    "SELECT id, status, task_name, queue_name FROM procrastinate_jobs "
                    "WHERE args->>'submission_id' = :sid"
                ),
                {"sid": str(submission_id)},
            )
        )


def submissions_of(db, account: Account) -> list[Submission]:  # type: ignore[no-untyped-def]
    with db() as session:
        return list(session.scalars(select(Submission).where(Submission.account_id == account.id)))


def test_an_instructor_creates_and_releases_and_the_student_gets_the_student_version(classroom):
    room = classroom
    made = room.teacher.call(
        "POST", room.api, params={"title": "Adding numbers"}, content=source_bytes(), headers=IPYNB
    )
    assert made.status_code == 201, made.text
    assignment = made.json()
    assert assignment["max_score"] == 2
    assert [c["grade_id"] for c in assignment["grade_cells"]] == ["answer", "test_add"]
    # Not released: students neither list nor open it.
    assert room.learner.get(room.api).json()["assignments"] == []
    assert room.learner.get(f"{room.api}/{assignment['id']}").status_code == 404

    due = datetime.now(UTC) + timedelta(days=3)
    released = room.teacher.call(
        "PATCH",
        f"{room.api}/{assignment['id']}",
        json={"release": True, "due_at": iso(due), "max_attempts": 3},
    )
    assert released.status_code == 200, released.text
    listed = room.learner.get(room.api).json()["assignments"]
    assert [item["title"] for item in listed] == ["Adding numbers"]
    assert datetime.fromisoformat(listed[0]["due_at"]) == due

    notebook = json.dumps(student_notebook(room, assignment["id"]))
    assert "YOUR CODE HERE" in notebook
    assert "BEGIN SOLUTION" not in notebook and "hidden-check-xyzzy" not in notebook
    source = room.learner.get(f"{room.api}/{assignment['id']}/notebook?version=source")
    assert source.status_code == 403
    page = room.learner.get(f"/courses/{room.course.slug}/assignments")
    assert page.status_code == 200 and "Adding numbers" in page.text
    # The course page and the assignment lesson lead there.
    assignments_page = f"/courses/{room.course.slug}/assignments"
    assert assignments_page in room.learner.get(f"/courses/{room.course.slug}").text
    lesson = f"/learn/{room.course.slug}/{room.course.lesson_ids[0]}"
    assert assignments_page in room.learner.get(lesson).text


def test_a_bad_source_notebook_is_refused_with_the_reason(classroom, db):
    room = classroom
    for body in (b"not a notebook", json.dumps({"nbformat": 4, "cells": 3}).encode()):
        response = room.teacher.call(
            "POST", room.api, params={"title": "Broken"}, content=body, headers=IPYNB
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"].endswith(".")
    with db() as session:
        count = session.scalar(
            select(func.count(Assignment.id)).where(Assignment.course_id == room.course.id)
        )
    assert count == 0


def test_a_submission_is_stored_with_its_job_and_a_double_click_makes_one_attempt(classroom, db):
    room = classroom
    assignment = create(room)
    data = answered(student_notebook(room, assignment["id"]))
    first = submit(room, assignment["id"], data)
    assert first.status_code == 201, first.text
    again = submit(room, assignment["id"], data)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["created"] is False
    body = first.json()
    assert body["attempt"] == 1 and body["late_penalty_percent"] == 0
    assert body["status"] in ("QUEUED", "GRADING", "GRADED", "FAILED")

    stored = submissions_of(db, room.student)
    assert len(stored) == 1
    assert stored[0].notebook == data and len(stored[0].sha256) == 64
    mine = room.learner.get(f"{room.api}/{assignment['id']}/submissions/{stored[0].id}/notebook")
    assert mine.status_code == 200 and mine.content == data
    jobs = jobs_for(db, stored[0].id)
    assert len(jobs) == 1
    assert (jobs[0].task_name, jobs[0].queue_name) == ("grade_submission", "grading")

    # The same Idempotency-Key with other bytes is still the same submit.
    keyed = submit(
        room,
        assignment["id"],
        answered(json.loads(data), "    return b + a"),
        **{"Idempotency-Key": "click-1"},
    )
    assert keyed.status_code == 201
    repeat = submit(room, assignment["id"], data, **{"Idempotency-Key": "click-1"})
    assert repeat.status_code == 200 and repeat.json()["id"] == keyed.json()["id"]
    assert len(submissions_of(db, room.student)) == 2


def test_two_simultaneous_submits_of_one_file_make_one_attempt(classroom, db):
    room = classroom
    assignment = create(room)
    data = answered(student_notebook(room, assignment["id"]))
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: submit(room, assignment["id"], data), range(2)))
    assert sorted(a.status_code for a in answers) == [200, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(submissions_of(db, room.student)) == 1


def test_a_multipart_upload_submits_too_and_an_oversized_one_is_refused(classroom, db):
    room = classroom
    assignment = create(room)
    data = answered(student_notebook(room, assignment["id"]))
    path = f"{room.api}/{assignment['id']}/submissions"
    sent = room.learner.call(
        "POST", path, files={"notebook": ("mine.ipynb", data, "application/x-ipynb+json")}
    )
    assert sent.status_code == 201, sent.text
    huge = room.learner.call("POST", path, content=b" " * 20_000_001, headers=IPYNB)
    assert huge.status_code == 413 and "MB" in huge.json()["error"]
    assert [s.notebook for s in submissions_of(db, room.student)] == [data]


def test_a_malformed_submission_is_refused_and_nothing_is_stored(classroom, db):
    room = classroom
    assignment = create(room)
    with db() as session:
        jobs_before = session.scalar(text("SELECT count(*) FROM procrastinate_jobs"))
    for body in (b"", b"{not json", json.dumps({"cells": []}).encode()):
        response = submit(room, assignment["id"], body)
        assert response.status_code == 400, response.text
        assert any(word in response.json()["error"] for word in ("notebook", ".ipynb"))
    assert submissions_of(db, room.student) == []
    with db() as session:
        assert session.scalar(text("SELECT count(*) FROM procrastinate_jobs")) == jobs_before


def test_after_the_cut_off_submissions_are_refused_unless_extended(classroom, db):
    room = classroom
    now = datetime.now(UTC)
    assignment = create(
        room, due_at=iso(now - timedelta(hours=2)), cutoff_at=iso(now - timedelta(hours=1))
    )
    data = answered(student_notebook(room, assignment["id"]))
    refused = submit(room, assignment["id"], data)
    assert refused.status_code == 409
    assert "cut-off" in refused.json()["error"] and "extension" in refused.json()["error"]
    assert submissions_of(db, room.student) == []

    extension = room.teacher.call(
        "PUT",
        f"{room.api}/{assignment['id']}/extensions/{room.student.id}",
        json={"due_at": iso(now + timedelta(days=1)), "reason": "illness"},
    )
    assert extension.status_code == 200, extension.text
    mine = room.learner.get(f"{room.api}/{assignment['id']}").json()
    assert mine["extended"] is True
    accepted = submit(room, assignment["id"], data)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["late_penalty_percent"] == 0


@pytest.mark.parametrize(
    ("unit", "late_by", "percent"),
    [("HOUR", timedelta(hours=2, minutes=30), 30.0), ("DAY", timedelta(hours=30), 20.0)],
    ids=["per-started-hour", "per-started-day"],
)
def test_a_late_submission_carries_its_penalty(classroom, unit, late_by, percent):
    room = classroom
    due = datetime.now(UTC) - late_by
    assignment = create(room, due_at=iso(due), late_penalty_percent=10, late_penalty_unit=unit)
    response = submit(room, assignment["id"], answered(student_notebook(room, assignment["id"])))
    assert response.status_code == 201, response.text
    assert response.json()["late_penalty_percent"] == percent
    listed = room.learner.get(f"{room.api}/{assignment['id']}/submissions").json()
    assert listed["submissions"][0]["late_penalty_percent"] == percent


def test_the_attempt_limit_is_kept(classroom, db):
    room = classroom
    assignment = create(room, max_attempts=2)
    notebook = student_notebook(room, assignment["id"])
    for number, body in enumerate(("    return a + b", "    return b + a"), start=1):
        response = submit(room, assignment["id"], answered(notebook, body))
        assert response.status_code == 201 and response.json()["attempt"] == number
    third = submit(room, assignment["id"], answered(notebook, "    return sum((a, b))"))
    assert third.status_code == 409
    assert "all 2 attempts" in third.json()["error"]
    assert len(submissions_of(db, room.student)) == 2


def test_other_people_are_refused_everywhere(classroom, platform, signed_in, make_account):
    room = classroom
    assignment = create(room)
    mine = submit(room, assignment["id"], answered(student_notebook(room, assignment["id"])))
    assert mine.status_code == 201
    one = f"{room.api}/{assignment['id']}"
    outsider = open_session(platform, signed_in, make_account(Role.STUDENT))
    assert outsider.get(room.api).status_code == 403
    assert outsider.get(f"{one}/notebook").status_code == 403
    data = answered(student_notebook(room, assignment["id"]))
    assert (
        outsider.call("POST", f"{one}/submissions", content=data, headers=IPYNB).status_code == 403
    )

    # A student of the course is not its staff.
    for method, path, kwargs in (
        ("POST", room.api, {"content": source_bytes(), "params": {"title": "Mine"}}),
        ("PATCH", one, {"json": {"max_attempts": 99}}),
        ("PUT", f"{one}/source", {"content": source_bytes()}),
        (
            "PUT",
            f"{one}/extensions/{room.student.id}",
            {"json": {"due_at": iso(datetime.now(UTC))}},
        ),
    ):
        response = room.learner.call(method, path, **kwargs)
        assert response.status_code == 403, (method, path, response.text)

    other_instructor = open_session(platform, signed_in, make_account(Role.INSTRUCTOR))
    assert other_instructor.get(room.api).status_code == 403
    staff_view = room.teacher.get(f"{one}/submissions").json()["submissions"]
    assert [s["account_id"] for s in staff_view] == [room.student.id]


def test_a_classmate_cannot_read_someone_elses_attempt(
    classroom, platform, signed_in, make_account, db
):
    room = classroom
    assignment = create(room)
    attempt = submit(room, assignment["id"], answered(student_notebook(room, assignment["id"])))
    classmate = make_account(Role.STUDENT)
    enroll(db, classmate, room.course)
    other = open_session(platform, signed_in, classmate)
    one = f"{room.api}/{assignment['id']}"
    assert other.get(f"{one}/submissions/{attempt.json()['id']}").status_code == 404
    assert other.get(f"{one}/submissions/{attempt.json()['id']}/feedback").status_code == 404
    assert other.get(f"{one}/submissions/{attempt.json()['id']}/notebook").status_code == 404
    assert other.get(f"{one}/submissions").json()["submissions"] == []


def test_the_platforms_worker_grades_a_submission_and_notifies_the_student(classroom, db):
    room = classroom
    assignment = create(room)
    response = submit(room, assignment["id"], answered(student_notebook(room, assignment["id"])))
    assert response.status_code == 201, response.text
    path = f"{room.api}/{assignment['id']}/submissions/{response.json()['id']}"
    deadline = time.monotonic() + 240
    body = response.json()
    while body["status"] not in ("GRADED", "FAILED") and time.monotonic() < deadline:
        time.sleep(2)
        body = room.learner.get(path).json()
    assert body["status"] == "GRADED", body
    grade = body["grade"]
    assert grade["outcome"] == "graded" and grade["final_score"] == grade["score"] == 2
    assert {cell["grade_id"] for cell in grade["cells"]} >= {"test_add"}
    feedback = room.learner.get(f"{path}/feedback")
    assert feedback.status_code == 200
    assert "hidden-check-xyzzy" not in feedback.text
    with db() as session:
        grades = session.scalar(
            select(func.count(Grade.id)).where(Grade.submission_id == body["id"])
        )
        notes = list(
            session.scalars(
                select(Notification).where(
                    Notification.account_id == room.student.id,
                    Notification.kind == "submission_graded",
                )
            )
        )
    assert grades == 1
    assert [n.payload["submission_id"] for n in notes] == [body["id"]]
    mine = room.learner.get("/api/me/notifications").json()
    # The release of the assignment was news too (assignment_released), before the grade.
    assert mine["unread"] == 2
    assert [n["kind"] for n in mine["notifications"]] == [
        "submission_graded",
        "assignment_released",
    ]
    assert mine["notifications"][0]["payload"]["final_score"] == 2
    read = room.learner.call("POST", "/api/me/notifications/read", json={})
    assert read.json() == {"marked_read": 2}
    assert room.learner.get("/api/me/notifications").json()["unread"] == 0


def test_staff_queue_a_failed_attempt_again_and_it_is_graded(classroom, db):
    room = classroom
    assignment = create(room)
    data = answered(student_notebook(room, assignment["id"]))
    # An attempt whose grading failed on the platform's side three times.
    with db() as session:
        failed = Submission(
            assignment_id=assignment["id"],
            account_id=room.student.id,
            attempt=1,
            sha256="0" * 64,
            notebook=data,
            size=len(data),
            status=SubmissionStatus.FAILED,
            status_message="Grading failed three times.",
        )
        session.add(failed)
        session.commit()
    path = f"{room.api}/{assignment['id']}/submissions/{failed.id}"
    assert room.learner.call("POST", f"{path}/regrade").status_code == 403
    queued = room.teacher.call("POST", f"{path}/regrade")
    assert queued.status_code == 200, queued.text
    assert queued.json()["status"] == "QUEUED" and len(jobs_for(db, failed.id)) == 1
    deadline = time.monotonic() + 240
    body = queued.json()
    while body["status"] != "GRADED" and time.monotonic() < deadline:
        time.sleep(2)
        body = room.learner.get(path).json()
    assert body["grade"]["final_score"] == 2
    again = room.teacher.call("POST", f"{path}/regrade")
    assert again.status_code == 409 and "graded already" in again.json()["error"]
