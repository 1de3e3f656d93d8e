"""Graders of a course: the instructor adds and removes them (API and the staff page); a
grader sees everyone's work and grades, but cannot change the course or its assignments;
everyone else is refused by every grading endpoint."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from coursehub.hub.constants import Role
from coursehub.services.courses.membership import membership
from coursehub.services.models import Account, Course, CourseStatus
from tests.course_builder import LessonPlan, make_course, run_async, unique_word
from tests.grading_data import essay_bytes
from tests.grading_room import IPYNB, GradingRoom, make_room
from tests.teaching_client import Session, open_session
from tests.test_grading_queue import with_session


@pytest.fixture
def room(platform, signed_in, make_account, db, database_url) -> GradingRoom:
    room = make_room(platform, signed_in, make_account, db, database_url, students=1)
    room.new_assignment()
    room.submit(room.students[0])
    return room


def add_grader(room: GradingRoom, account: Account):  # type: ignore[no-untyped-def]
    return room.teacher.call("POST", f"{room.api}/graders", json={"username": account.username})


def grades(session: Session, room: GradingRoom) -> int:
    return session.get(f"{room.api}/grading/queue").status_code


def test_an_instructor_adds_a_grader_who_grades_but_cannot_edit_until_removed(
    room, make_account, db, database_url
):
    colleague = make_account(Role.INSTRUCTOR)
    grader = room.make_session(colleague)
    assert grades(grader, room) == 403
    assert grader.get(f"{room.one}/submissions").status_code == 403

    added = add_grader(room, colleague)
    assert added.status_code == 201, added.text
    assert add_grader(room, colleague).status_code == 200  # once is enough
    listed = room.teacher.get(f"{room.api}/graders").json()
    assert [g["username"] for g in listed["graders"]] == [colleague.username]
    assert listed["manages"] is True

    # Grading: the queue, everyone's attempts, their notebooks and the source.
    assert grades(grader, room) == 200
    attempts = grader.get(f"{room.one}/submissions").json()["submissions"]
    assert [a["account_id"] for a in attempts] == [room.students[0].account.id]
    assert grader.get(f"{room.attempt(room.students[0])}/notebook").status_code == 200
    assert grader.get(f"{room.one}/notebook?version=source").status_code == 200
    assert grader.get(f"/courses/{room.course.slug}/grading").status_code == 200

    # Not editing: the course, its assignments, extensions, its graders.
    for method, path, kwargs in (
        ("PATCH", room.one, {"json": {"max_attempts": 9}}),
        ("PUT", f"{room.one}/source", {"content": essay_bytes(), "headers": IPYNB}),
        ("POST", f"{room.api}/assignments", {"content": essay_bytes(), "headers": IPYNB}),
        (
            "PUT",
            f"{room.one}/extensions/{room.students[0].account.id}",
            {"json": {"due_at": datetime.now(UTC).isoformat()}},
        ),
        ("PATCH", f"/api/teach/courses/{room.course.id}", {"json": {"title": "Mine now"}}),
        ("POST", f"{room.api}/graders", {"json": {"username": colleague.username}}),
    ):
        response = grader.call(method, path, **kwargs)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"].endswith(".")

    async def check() -> tuple[bool, bool]:
        async with with_session(database_url) as session:
            course = await session.get_one(Course, room.course.id)
            account = await session.get_one(Account, colleague.id)
            student = await session.get_one(Account, room.students[0].account.id)
            grader = await membership(session, account, course)
            return grader.grades, (await membership(session, student, course)).grades

    assert run_async(check()) == (True, False)

    removed = room.teacher.call("DELETE", f"{room.api}/graders/{colleague.id}")
    assert removed.status_code == 204
    assert room.teacher.call("DELETE", f"{room.api}/graders/{colleague.id}").status_code == 404
    assert grades(grader, room) == 403
    assert run_async(check()) == (False, False)


def test_adding_someone_unknown_says_what_to_do(room):
    response = room.teacher.call(
        "POST", f"{room.api}/graders", json={"username": "nobody-" + unique_word()}
    )
    assert response.status_code == 404
    assert "sign up first" in response.json()["error"]
    blank = room.teacher.call("POST", f"{room.api}/graders", json={"username": " "})
    assert blank.status_code == 400


def test_the_staff_page_adds_and_removes_graders_with_its_forms(room, make_account):
    helper = make_account(Role.STUDENT)  # any account may grade
    page = f"/courses/{room.course.slug}/staff"
    shown = room.teacher.form(page, {"action": "add", "username": helper.username})
    assert shown.status_code == 200
    assert f"{helper.username} can now grade this course." in shown.text
    assert f'data-username="{helper.username}"' in shown.text

    grader = room.make_session(helper)
    theirs = grader.get(page)
    assert theirs.status_code == 200 and helper.username in theirs.text
    assert 'id="add_grader"' not in theirs.text  # graders see, the instructor manages
    refused = grader.form(page, {"action": "add", "username": helper.username})
    assert refused.status_code == 403
    assert "instructor and administrators" in refused.text

    forged = room.teacher.http.post(
        f"{room.teacher.base}{page}", data={"action": "remove", "account_id": str(helper.id)}
    )
    assert forged.status_code == 403  # no XSRF field: refused
    gone = room.teacher.form(page, {"action": "remove", "account_id": str(helper.id)})
    assert gone.status_code == 200 and 'id="no_graders"' in gone.text
    assert grades(grader, room) == 403


def endpoints(room: GradingRoom) -> list[tuple[str, str, dict]]:
    attempt = room.attempt(room.students[0])
    page = f"/courses/{room.course.slug}"
    return [
        ("GET", f"{page}/grading", {}),
        ("GET", f"{page}/grading/assignments/{room.assignment_id}/questions/essay", {}),
        ("GET", f"{page}/grading/assignments/{room.assignment_id}/submissions/1", {}),
        ("GET", f"{page}/staff", {}),
        ("GET", f"{room.api}/grading/queue", {}),
        ("GET", f"{room.one}/questions/essay/answers", {}),
        ("PUT", f"{attempt}/cells/essay", {"json": {"score": 1}}),
        ("GET", f"{attempt}/grading", {}),
        ("PUT", f"{attempt}/override", {"json": {"score": 1, "reason": "mine"}}),
        ("DELETE", f"{attempt}/override", {"json": {"reason": "mine"}}),
        ("POST", f"{attempt}/flags-reviewed", {"json": {}}),
        ("POST", f"{attempt}/regrade", {"json": {"reason": "again"}}),
        ("GET", f"{room.one}/rubric?grade_id=essay", {}),
        ("POST", f"{room.one}/rubric", {"json": {"grade_id": "essay", "label": "x", "points": 1}}),
        ("PATCH", f"{room.one}/rubric/1", {"json": {"points": 3}}),
        ("DELETE", f"{room.one}/rubric/1", {}),
        ("GET", f"{room.api}/grading/comments", {}),
        ("POST", f"{room.api}/grading/comments", {"json": {"text": "Nice."}}),
        ("DELETE", f"{room.api}/grading/comments/1", {}),
        ("GET", f"{room.one}/grading-runs", {}),
        ("POST", f"{room.one}/grading-runs", {"json": {"kind": "REGRADE"}}),
        ("GET", f"{room.api}/grading-runs/1", {}),
        ("GET", f"{room.one}/feedback-release", {}),
        ("POST", f"{room.one}/feedback-release", {}),
        ("GET", f"{room.api}/graders", {}),
        ("POST", f"{room.api}/graders", {"json": {"username": "x"}}),
        ("DELETE", f"{room.api}/graders/1", {}),
    ]


def test_every_grading_endpoint_refuses_students_and_other_instructors(room, make_account):
    student = room.students[0]
    outsider = room.make_session(make_account(Role.INSTRUCTOR))
    for method, path, kwargs in endpoints(room):
        for who in (student, outsider):
            response = who.call(method, path, **kwargs)
            assert response.status_code == 403, (who.account.username, method, path)
    # Nothing changed on the way.
    answers = room.teacher.get(f"{room.one}/questions/essay/answers").json()
    assert [a["manual"] for a in answers["answers"]] == [None]


def test_a_draft_course_is_not_found_by_outsiders_but_its_grader_grades_it(
    platform, signed_in, make_account, database_url, db
):
    instructor = make_account(Role.INSTRUCTOR)
    draft = make_course(
        database_url,
        instructor,
        title=f"Draft {unique_word()}",
        modules={"Week": [LessonPlan("Intro")]},
        status=CourseStatus.DRAFT,
    )
    room = GradingRoom(
        draft,
        open_session(platform, signed_in, instructor),
        [],
        lambda account: open_session(platform, signed_in, account),
    )
    helper = make_account(Role.STUDENT)
    assert add_grader(room, helper).status_code == 201
    grader = room.make_session(helper)
    outsider = room.make_session(make_account(Role.STUDENT))
    assert grades(grader, room) == 200
    assert grader.get(f"{room.api}/assignments").status_code == 200
    assert grades(outsider, room) == 404
    assert outsider.get(f"/courses/{draft.slug}/grading").status_code == 404


def test_an_administrator_grades_any_course_and_xsrf_is_required(room, make_account):
    admin = room.make_session(make_account(Role.ADMIN))
    assert grades(admin, room) == 200
    assert admin.get(f"{room.one}/questions/essay/answers").status_code == 200
    attempt = room.attempt(room.students[0])
    no_token = room.teacher.http.request(
        "PUT", f"{room.teacher.base}{attempt}/cells/essay", json={"comment": "Hi"}
    )
    assert no_token.status_code == 403
