"""Graders of a course grade its quiz answers that need a person (essays), as they grade
notebook assignments, and change nothing of its quizzes (``courses.membership``)."""

from __future__ import annotations

from coursehub.hub.constants import Role
from coursehub.services.models import Notification
from tests.quiz_data import essay, true_false
from tests.teaching_client import open_session
from tests.test_quizzes import attempt_path, build_quiz, quiz_room, start

__all__ = ["quiz_room"]


def test_a_grader_grades_an_essay_but_cannot_change_the_quiz(
    quiz_room, platform, signed_in, make_account, db
):
    room = quiz_room
    quiz = build_quiz(room, true_false("Python is compiled to bytecode.", True), essay("Why?"))
    attempt = start(room.learner, room, quiz["id"]).json()
    path = attempt_path(room, quiz["id"], attempt["id"])
    answers = {"0": True, "1": "So it runs on a virtual machine."}
    assert room.learner.call("POST", f"{path}/submit", json={"answers": answers}).status_code == 200

    colleague = make_account(Role.INSTRUCTOR)
    grader = open_session(platform, signed_in, colleague)
    grading = f"{room.quiz_api(quiz['id'])}/grading?pending=1"
    assert grader.get(grading).status_code == 403  # not yet one of the course's graders
    added = room.teacher.call("POST", f"{room.api}/graders", json={"username": colleague.username})
    assert added.status_code == 201, added.text

    queue = grader.get(grading)
    assert queue.status_code == 200, queue.text
    assert [a["kind"] for a in queue.json()["answers"]] == ["ESSAY"]
    page = grader.get(f"/courses/{room.course.slug}/quizzes/{quiz['id']}/grading")
    assert page.status_code == 200
    graded = grader.call("PUT", f"{path}/answers/1/grade", json={"score": 1, "comment": "Yes."})
    assert graded.status_code == 200, graded.text
    assert graded.json()["attempt_score"] == 2

    # Grading is all: the quiz, its slots and the bank stay the instructor's.
    assert (
        grader.call("PATCH", room.quiz_api(quiz["id"]), json={"title": "Mine"}).status_code == 403
    )
    assert grader.get(f"{room.api}/quiz-bank").status_code == 403
    assert grader.get(f"{room.quiz_api(quiz['id'])}/analytics").status_code == 403
    with db() as session:
        note = session.query(Notification).filter_by(account_id=room.student.id).one()
    assert note.kind == "quiz_graded"
    assert note.payload["title"].startswith("An answer of yours in Built quiz is graded")
    assert note.payload["url"].endswith(f"/quizzes/{quiz['id']}/attempts/{attempt['id']}")
