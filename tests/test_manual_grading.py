"""People grading what the autograder cannot: the queue, one question across all students,
rubrics, typed scores, comments and the comment bank, overrides with reasons and the audit
trail, flags, and feedback that students see only once it is released.

One course is graded once by the platform's worker for the whole module: three students
answer the essay assignment (``tests/grading_data.py``); one of them is late, one shows
their work with HTML that tries to run script, one submits twice. Each test grades its own
student's attempt; releasing comes last.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import AuditEntry, Notification
from coursehub.services.notifications import notifications
from tests.course_builder import run_async
from tests.grading_data import ESSAY, MAX_SCORE, SHOW_WORK
from tests.grading_room import GradingRoom, People, build_room, grade_of, wait_until_graded
from tests.platform import free_port
from tests.teaching_client import Session

SHOWS_HTML = (
    "from IPython.display import HTML, display\n"
    "display(HTML('<b>bold</b><script>window.pwned = 1</script>'\n"
    "             '<img src=x onerror=\"window.pwned = 2\">'))"
)


@dataclass
class Essays:
    room: GradingRoom
    grader: Session
    first_try: int  # the third student's first attempt; their second is the latest

    def student(self, number: int) -> Session:
        return self.room.students[number]

    def cell(self, student: Session, grade_id: str) -> str:
        return f"{self.room.attempt(student)}/cells/{grade_id}"

    def grade(self, student: Session, grade_id: str, **fields: object) -> dict:
        saved = self.grader.call("PUT", self.cell(student, grade_id), json=fields)
        assert saved.status_code == 200, saved.text
        return saved.json()


@pytest.fixture(scope="module")
def essays(platform, db, database_url) -> Iterator[Essays]:
    people = People(platform, db, "essays")
    room = build_room(people.account, people.session, db, database_url, students=3)
    helper = people.account(Role.STUDENT)
    added = room.teacher.call("POST", f"{room.api}/graders", json={"username": helper.username})
    assert added.status_code == 201, added.text
    room.new_assignment()
    on_time, late, twice = room.students
    room.submit(on_time)
    first_try = room.submit(twice, essay="First try.")
    ids = list(room.submission_ids.values())
    room.submit(twice, essay="Because addition is commutative.")
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    due = room.teacher.call("PATCH", room.one, json={"due_at": past, "late_penalty_percent": 10})
    assert due.status_code == 200, due.text
    room.submit(late, show_work=SHOWS_HTML)
    wait_until_graded(db, [*ids, *room.submission_ids.values()])
    yield Essays(room, people.session(helper), first_try)
    people.close()


def test_the_queue_holds_what_needs_a_person_latest_attempts_first(essays, db):
    room, grader = essays.room, essays.grader
    on_time, late, twice = room.students
    first_try = essays.first_try
    grade = grade_of(db, room.submission_ids[on_time.account.username])
    assert grade.needs_manual and grade.score == 2 and grade.max_score == MAX_SCORE
    assert {c["grade_id"]: c["score"] for c in grade.cells} == {
        "test_add": 2,
        ESSAY: None,
        SHOW_WORK: None,
    }

    body = grader.get(f"{room.api}/grading/queue").json()
    [counts] = [a["counts"] for a in body["assignments"] if a["id"] == room.assignment_id]
    assert counts == {"needs_manual": 3, "flagged": 1, "failed": 0, "older": 1}
    queued = {entry["username"]: entry for entry in body["queue"]}
    assert set(queued) == {s.account.username for s in room.students}
    assert queued[late.account.username]["reasons"] == ["needs_manual", "flagged"]
    assert queued[twice.account.username]["attempt"] == 2
    assert first_try not in [entry["submission_id"] for entry in body["queue"]]

    everything = grader.get(f"{room.api}/grading/queue?attempts=all").json()["queue"]
    older = [e for e in everything if e["submission_id"] == first_try]
    assert len(older) == 1 and older[0]["latest"] is False and everything[-1] == older[0]

    page = grader.get(f"/courses/{room.course.slug}/grading")
    assert page.status_code == 200
    assert f'data-submission-id="{room.submission_ids[late.account.username]}"' in page.text
    assert f"/questions/{ESSAY}" in page.text


def test_a_rubric_typed_scores_and_comments_keep_the_attempt_s_grade(essays, db):
    room, grader = essays.room, essays.grader
    student = essays.student(0)
    attempt = room.submission_ids[student.account.username]
    answers = grader.get(f"{room.one}/questions/{ESSAY}/answers").json()
    assert answers["max_points"] == 3 and answers["kind"] == "manual"
    mine = next(a for a in answers["answers"] if a["submission_id"] == attempt)
    assert mine["autograde_score"] is None and mine["manual"] is None
    assert "<em>a + b</em>" in mine["cells"][0]["html"]

    items = {}
    for label, points in (("Explains commutativity", 2), ("Gives an example", 1), ("Unclear", -1)):
        made = grader.call(
            "POST", f"{room.one}/rubric", json={"grade_id": ESSAY, "label": label, "points": points}
        )
        assert made.status_code == 201, made.text
        items[label] = made.json()["id"]

    saved = essays.grade(
        student, ESSAY, rubric_item_ids=[items["Explains commutativity"], items["Unclear"]]
    )
    cell = next(c for c in saved["cells"] if c["grade_id"] == ESSAY)
    assert cell["manual"]["score"] == 1 and cell["manual"]["typed"] is False
    assert saved["submission"]["grade"]["score"] == 3
    assert saved["submission"]["grade"]["needs_manual"] is True  # show_work still waits

    essays.grade(student, SHOW_WORK, score=1)
    grade = grade_of(db, attempt)
    assert (grade.score, grade.final_score, grade.needs_manual) == (4, 4, False)
    queue = grader.get(f"{room.api}/grading/queue").json()["queue"]
    assert attempt not in [entry["submission_id"] for entry in queue]

    too_many = grader.call("PUT", essays.cell(student, ESSAY), json={"score": 5})
    assert too_many.status_code == 400 and "from 0 to 3" in too_many.json()["error"]

    # A rubric item worth more rescores the answers that have it ticked.
    changed = grader.call(
        "PATCH", f"{room.one}/rubric/{items['Explains commutativity']}", json={"points": 3}
    )
    assert changed.json()["rescored"] == 1
    assert grade_of(db, attempt).score == 2 + 2 + 1
    # A typed score wins over the rubric, which still shows what was ticked.
    essays.grade(student, ESSAY, score=2.5, comment="Clear, with one slip.")
    grader.call("PATCH", f"{room.one}/rubric/{items['Unclear']}", json={"points": -2})
    assert grade_of(db, attempt).score == 2 + 2.5 + 1

    # The history is the audit log's: one entry per change, the cell named in before and
    # after, and the attempt's page reads it from there.
    with db() as session:
        trail = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.target_kind == "submission", AuditEntry.target_id == str(attempt))
                .order_by(AuditEntry.id)
            )
        )
    assert [c.action for c in trail] == [
        "grade.rubric",
        "grade.manual_score",
        "grade.rubric",
        "grade.manual_score",
        "grade.comment",
    ]
    assert trail[2].reason == "Rubric item 'Explains commutativity' now gives 3 points."
    assert (trail[2].before["final_score"], trail[2].after["final_score"]) == (4, 5)
    assert trail[4].after == {"comment": "Clear, with one slip.", "grade_id": ESSAY}
    assert {c.actor_id for c in trail} == {essays.grader.account.id}
    assert {c.course_id for c in trail} == {room.course.id}
    shown = grader.get(f"{room.attempt(student)}/grading").json()["audit"]
    assert [(c["action"], c["grade_id"]) for c in shown] == [
        ("rubric", ESSAY),
        ("manual_score", SHOW_WORK),
        ("rubric", ESSAY),
        ("manual_score", ESSAY),
        ("comment", ESSAY),
    ]
    assert shown[4]["after"] == {"comment": "Clear, with one slip."}
    assert shown[2]["reason"] == "Rubric item 'Explains commutativity' now gives 3 points."


def test_the_comment_bank_keeps_a_comment_once_and_offers_it_on_the_question_page(essays):
    room, grader = essays.room, essays.grader
    for expected in (201, 200):
        saved = grader.call("POST", f"{room.api}/grading/comments", json={"text": "Well argued."})
        assert saved.status_code == expected
    empty = grader.call("POST", f"{room.api}/grading/comments", json={"text": "  "})
    assert empty.status_code == 400 and "Write the comment first" in empty.json()["error"]
    bank = grader.get(f"{room.api}/grading/comments").json()["comments"]
    assert [entry["text"] for entry in bank] == ["Well argued."]
    page = grader.get(
        f"/courses/{room.course.slug}/grading/assignments/{room.assignment_id}/questions/{ESSAY}"
    )
    assert page.status_code == 200 and '<option value="Well argued.">' in page.text
    gone = grader.call("DELETE", f"{room.api}/grading/comments/{bank[0]['id']}")
    assert gone.status_code == 204
    assert grader.get(f"{room.api}/grading/comments").json()["comments"] == []


def test_students_html_outputs_are_cleaned_and_shown_without_scripts(essays):
    room, grader = essays.room, essays.grader
    late = essays.student(1)
    answers = grader.get(f"{room.one}/questions/{SHOW_WORK}/answers").json()["answers"]
    shown = next(a for a in answers if a["username"] == late.account.username)
    document = shown["cells"][0]["outputs_document"]
    assert "<b>bold</b>" in document
    assert "<script" not in document and "onerror" not in document and "pwned" not in document
    assert "display(HTML(" in shown["cells"][0]["source"]

    page = grader.get(
        f"/courses/{room.course.slug}/grading/assignments/{room.assignment_id}"
        f"/questions/{SHOW_WORK}"
    )
    assert 'sandbox=""' in page.text and "srcdoc=" in page.text
    # The code is shown as text; nothing of it is markup on the page.
    assert "&lt;script&gt;window.pwned" in page.text and "<script>window" not in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_an_override_needs_a_reason_and_every_change_is_audited(essays, db):
    room, grader = essays.room, essays.grader
    late = essays.student(1)
    attempt = room.submission_ids[late.account.username]
    path = f"{room.attempt(late)}/override"
    before = grade_of(db, attempt)
    assert before.late_penalty_percent == 10 and (before.score, before.final_score) == (2, 1.8)

    no_reason = grader.call("PUT", path, json={"score": 5})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]
    too_much = grader.call("PUT", path, json={"score": 7, "reason": "Generous"})
    assert too_much.status_code == 400
    overridden = grader.call("PUT", path, json={"score": 5, "reason": "The essay was fine."})
    assert overridden.status_code == 200, overridden.text
    grade = overridden.json()["submission"]["grade"]
    assert (grade["score"], grade["final_score"], grade["needs_manual"]) == (5, 4.5, False)

    assert grader.call("DELETE", path, json={}).status_code == 400
    removed = grader.call("DELETE", path, json={"reason": "Graded cell by cell instead."})
    assert removed.status_code == 200
    grade = removed.json()["submission"]["grade"]
    assert (grade["score"], grade["final_score"], grade["needs_manual"]) == (2, 1.8, True)

    assert "reaches into the kernel" in " ".join(grade["flags"])
    reviewed = grader.call("POST", f"{room.attempt(late)}/flags-reviewed", json={"note": "Fine."})
    assert reviewed.status_code == 200
    queue = grader.get(f"{room.api}/grading/queue").json()["queue"]
    mine = next(e for e in queue if e["submission_id"] == attempt)
    assert mine["reasons"] == ["needs_manual"]

    trail = reviewed.json()["audit"]
    assert [c["action"] for c in trail] == ["override", "override_removed", "flags_reviewed"]
    assert trail[0]["before"] == {"score": None, "final_score": 1.8}
    assert trail[0]["after"] == {"score": 5, "final_score": 4.5}
    assert trail[1]["reason"] == "Graded cell by cell instead."
    assert {c["by"] for c in trail} == {grader.account.username}
    # The same changes are in the one audit log administrators search.
    with db() as session:
        logged = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_kind == "submission", AuditEntry.target_id == str(attempt))
            .order_by(AuditEntry.id)
        ).all()
    assert [(e.action, e.actor_id) for e in logged] == [
        ("grade.override", grader.account.id),
        ("grade.override_removed", grader.account.id),
        ("grade.flags_reviewed", grader.account.id),
    ]
    assert logged[0].after == {"score": 5, "final_score": 4.5}
    page = grader.get(
        f"/courses/{room.course.slug}/grading/assignments/{room.assignment_id}"
        f"/submissions/{attempt}"
    )
    assert page.status_code == 200 and "Graded cell by cell instead." in page.text


def test_flags_reach_staff_and_never_the_student_who_was_flagged(essays, db):
    room, grader = essays.room, essays.grader
    flagged = essays.student(1)
    attempt = room.submission_ids[flagged.account.username]
    assert grade_of(db, attempt).flags, "the late student's notebook reaches into the kernel"

    staff_view = grader.get(room.attempt(flagged)).json()
    assert staff_view["grade"]["flags"]

    own_view = flagged.get(room.attempt(flagged))
    assert own_view.status_code == 200
    assert "flags" not in own_view.json()["grade"]
    listed = flagged.get(f"{room.one}/submissions").json()["submissions"]
    assert listed and all("flags" not in item["grade"] for item in listed if item["grade"])
    for shown in (own_view.text, json.dumps(listed)):
        assert "reaches into the kernel" not in shown
    page = flagged.get(f"/courses/{room.course.slug}/assignments").text
    assert "reaches into the kernel" not in page


def test_students_see_people_s_grading_only_once_it_is_released(essays, db, redis_url):
    room, grader = essays.room, essays.grader
    student = essays.student(2)
    essays.grade(student, ESSAY, score=2, comment="**Good** point.")
    essays.grade(student, SHOW_WORK, score=1)
    mine = room.attempt(student)

    hidden = student.get(mine).json()
    assert hidden["grade"]["score"] == 2 and hidden["grade"]["needs_manual"] is True
    assert hidden["grade"]["feedback_released"] is False
    assert "Good" not in json.dumps(hidden)
    assert "Grader's score" not in student.get(f"{mine}/feedback").text
    assert "Good" not in student.get(f"/courses/{room.course.slug}/assignments").text

    subscriber = redis.Redis.from_url(redis_url).pubsub()
    subscriber.subscribe(f"coursehub:notifications:{student.account.id}")
    released = grader.call("POST", f"{room.one}/feedback-release")
    assert released.status_code == 200, released.text
    assert released.json()["notified"] == 3

    shown = student.get(mine).json()
    assert shown["grade"]["final_score"] == 2 + 2 + 1 and shown["grade"]["needs_manual"] is False
    essay = next(c for c in shown["grade"]["cells"] if c["grade_id"] == ESSAY)
    assert essay["score"] == 2 and essay["comment"] == "**Good** point."
    assert shown["comments"] == [
        {"grade_id": ESSAY, "html": "<p><strong>Good</strong> point.</p>\n"}
    ]
    feedback = student.get(f"{mine}/feedback").text
    assert "Grader's score:** 2 / 3" in feedback and "**Good** point." in feedback
    assert "hidden-check-xyzzy" not in feedback
    page = student.get(f"/courses/{room.course.slug}/assignments").text
    assert "<strong>Good</strong> point." in page
    assert "Explains commutativity" not in json.dumps(shown)  # the rubric stays with staff

    with db() as session:
        notes = list(
            session.scalars(
                select(Notification).where(
                    Notification.account_id == student.account.id,
                    Notification.kind == "feedback_released",
                )
            )
        )
    assert [n.payload["assignment_id"] for n in notes] == [room.assignment_id]
    event, deadline = None, time.monotonic() + 10
    while event is None and time.monotonic() < deadline:
        message = subscriber.get_message(timeout=1)
        if message and message["type"] == "message":
            event = json.loads(message["data"])
    subscriber.close()
    assert event is not None and event["kind"] == "feedback_released"


def test_news_of_released_feedback_is_dropped_quietly_when_redis_is_down():
    note = Notification(
        id=1, account_id=1, kind="feedback_released", payload={}, created_at=datetime.now(UTC)
    )

    async def publish() -> None:
        client = redis.asyncio.from_url(f"redis://127.0.0.1:{free_port()}", socket_timeout=1)
        try:
            await notifications.announce(client, [note])
        finally:
            await client.aclose()

    run_async(publish())  # no exception: the committed row is the record
