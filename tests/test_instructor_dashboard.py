"""The instructors' dashboard: per course enrollments, completion rate, average progress and
students active in the last 7 days, and each course's students with their progress. Instructors
see their own courses, administrators all of them, students none."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from coursehub.hub.constants import Role
from coursehub.services.models import Enrollment, LessonProgress
from tests.teaching_client import new_course, new_lesson, new_module, open_session


@pytest.fixture
def teacher(platform, make_account, signed_in):  # type: ignore[no-untyped-def]
    return open_session(platform, signed_in, make_account(Role.INSTRUCTOR))


def enroll(db, account, course_id: int, **columns) -> None:  # type: ignore[no-untyped-def]
    with db() as session:
        session.add(Enrollment(account_id=account.id, course_id=course_id, **columns))
        session.commit()


def figures_of(teacher, course_id: int) -> dict:  # type: ignore[no-untyped-def]
    listed = teacher.call("GET", "/api/teach/courses").json()["courses"]
    return next(course for course in listed if course["id"] == course_id)


def test_each_course_shows_its_enrollment_figures(teacher, make_account, db):
    now = datetime.now(UTC)
    busy = new_course(teacher, "Busy Course")
    quiet = new_course(teacher, "Quiet Course")
    people = [make_account() for _ in range(4)]
    enroll(db, people[0], busy["id"], progress=1.0, completed_at=now, last_active_at=now)
    enroll(db, people[1], busy["id"], progress=0.5, last_active_at=now - timedelta(days=3))
    enroll(db, people[2], busy["id"], progress=0.0, last_active_at=now - timedelta(days=10))
    enroll(db, people[3], busy["id"], progress=0.25)

    figures = figures_of(teacher, busy["id"])
    assert figures["enrollments"] == 4 and figures["completed"] == 1
    assert figures["completion_rate"] == pytest.approx(0.25)
    assert figures["average_progress"] == pytest.approx(0.4375)
    assert figures["active_last_7_days"] == 2
    assert figures_of(teacher, quiet["id"]) | {"id": 0} == {
        "id": 0,
        "slug": quiet["slug"],
        "title": "Quiet Course",
        "status": "DRAFT",
        "instructor": teacher.account.name,
        "enrollments": 0,
        "completed": 0,
        "completion_rate": None,
        "average_progress": None,
        "active_last_7_days": 0,
    }

    page = teacher.get("/teach")
    assert page.status_code == 200 and "My courses" in page.text
    card = re.search(
        rf'data-course-id="{busy["id"]}".*?</article>', page.text, flags=re.DOTALL
    ).group(0)
    shown = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', card))
    assert shown == {
        "enrollments": "4",
        "completion_rate": "25%",
        "average_progress": "44%",
        "active": "2",
    }


def test_instructors_see_their_own_courses_and_admins_see_every_course(
    platform, teacher, make_account, signed_in
):
    mine = new_course(teacher, "Mine Alone")
    rival = open_session(platform, signed_in, make_account(Role.INSTRUCTOR))
    theirs = new_course(rival, "Theirs Alone")

    listed = {
        course["id"] for course in teacher.call("GET", "/api/teach/courses").json()["courses"]
    }
    assert mine["id"] in listed and theirs["id"] not in listed
    assert "Theirs Alone" not in teacher.get("/teach").text

    admin = open_session(platform, signed_in, make_account(Role.ADMIN))
    everything = {c["id"] for c in admin.call("GET", "/api/teach/courses").json()["courses"]}
    assert {mine["id"], theirs["id"]} <= everything
    page = admin.get("/teach")
    assert "All courses" in page.text and "Theirs Alone" in page.text
    assert f"Taught by {rival.account.name}" in page.text


def test_a_course_lists_its_students_with_their_progress(teacher, make_account, db):
    course = new_course(teacher, "Progress Course")
    module = new_module(teacher, course["id"], "Only module")
    lessons = [new_lesson(teacher, module["id"], f"Lesson {n}", "TEXT") for n in range(4)]
    ada, bob = make_account(), make_account()
    now = datetime.now(UTC)
    enroll(db, ada, course["id"], progress=0.75, last_active_at=now)
    enroll(db, bob, course["id"], progress=0.0)
    with db() as session:
        for lesson in lessons[:3]:
            session.add(LessonProgress(account_id=ada.id, lesson_id=lesson["id"], completed_at=now))
        session.add(LessonProgress(account_id=bob.id, lesson_id=lessons[0]["id"]))  # opened only
        session.commit()

    listed = teacher.call("GET", f"/api/teach/courses/{course['id']}/students").json()
    assert listed["lessons"] == 4
    assert [(s["username"], s["progress"], s["lessons_completed"]) for s in listed["students"]] == [
        (ada.username, 0.75, 3),
        (bob.username, 0.0, 0),
    ]

    page = teacher.get(f"/teach/courses/{course['id']}/students")
    assert page.status_code == 200 and "2 enrolled" in page.text
    row = re.search(rf'data-username="{ada.username}".*?</tr>', page.text, re.DOTALL).group(0)
    assert "75%" in row and "3 / 4" in row and ada.email in row


def test_students_and_other_instructors_cannot_see_the_figures(
    platform, teacher, make_account, signed_in
):
    course = new_course(teacher, "Private Figures")
    student = open_session(platform, signed_in, make_account())
    page = student.get("/teach")
    assert page.status_code == 403
    assert "This page is for instructors and administrators only" in page.text
    assert student.call("GET", "/api/teach/courses").status_code == 403
    assert student.call("GET", f"/api/teach/courses/{course['id']}/students").status_code == 403

    rival = open_session(platform, signed_in, make_account(Role.INSTRUCTOR))
    assert rival.call("GET", f"/api/teach/courses/{course['id']}/students").status_code == 403
    assert rival.get(f"/teach/courses/{course['id']}/students").status_code == 403
