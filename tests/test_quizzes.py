"""Quizzes through the API, as instructors and students use them: a quiz notebook imported
and taken (its code question graded by the platform's worker in the sandbox, its essay by
staff), quizzes built question by question with random draws from the bank, attempt and
time limits kept by the server, answers kept from students until they submit, who may do
what, and the item analysis checked against figures worked out by hand."""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from coursehub.hub.constants import Role
from coursehub.services.models import (
    Account,
    LessonKind,
    Notification,
    Quiz,
    QuizAnswer,
    QuizAttempt,
    QuizQuestion,
)
from coursehub.services.quizzes import quiz_attempts
from coursehub.services.settings import sqlalchemy_url
from tests.course_builder import (
    BuiltCourse,
    LessonPlan,
    enroll,
    make_course,
    run_async,
    unique_word,
)
from tests.platform import free_port
from tests.quiz_data import (
    SECRET_EXPLANATION,
    SECRET_GUIDANCE,
    SECRET_REGEX,
    broken,
    essay,
    fill_in,
    notebook_bytes,
    quiz_notebook,
    single_choice,
    true_false,
)
from tests.teaching_client import Session, open_session

IPYNB = {"Content-Type": "application/x-ipynb+json"}
# What decides the imported quiz's scores; none of it may reach a student before submitting.
SECRETS = (
    SECRET_REGEX,
    "guido",
    SECRET_EXPLANATION,
    SECRET_GUIDANCE,
    "hidden-check-xyzzy",
    "BEGIN SOLUTION",
    "return a + b",
    "correct",
    "tolerance",
)


@dataclass
class QuizRoom:
    course: BuiltCourse
    instructor: Account
    teacher: Session
    learner: Session
    student: Account

    @property
    def api(self) -> str:
        return f"/api/courses/{self.course.slug}"

    def quiz_api(self, quiz_id: int) -> str:
        return f"{self.api}/quizzes/{quiz_id}"


@pytest.fixture
def quiz_room(platform, signed_in, make_account, db, database_url) -> QuizRoom:
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url,
        instructor,
        title=f"Quizzed {unique_word()}",
        modules={"Week 1": [LessonPlan("Check yourself", kind=LessonKind.QUIZ)]},
    )
    student = make_account(Role.STUDENT)
    enroll(db, student, course)
    return QuizRoom(
        course,
        instructor,
        open_session(platform, signed_in, instructor),
        open_session(platform, signed_in, student),
        student,
    )


def import_quiz(room: QuizRoom, data: bytes | None = None, **params: str):  # type: ignore[no-untyped-def]
    return room.teacher.call(
        "POST",
        f"{room.api}/quizzes/import",
        content=data or notebook_bytes(),
        headers=IPYNB,
        params=params,
    )


def build_quiz(room: QuizRoom, *questions: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """A published quiz of these questions, made through the builder's API."""
    made = room.teacher.call("POST", f"{room.api}/quizzes", json={"title": "Built quiz"})
    assert made.status_code == 201, made.text
    quiz = made.json()
    for question in questions:
        added = room.teacher.call(
            "POST", f"{room.quiz_api(quiz['id'])}/slots", json={"question": question}
        )
        assert added.status_code == 201, added.text
    published = room.teacher.call(
        "PATCH", room.quiz_api(quiz["id"]), json={"published": True, **settings}
    )
    assert published.status_code == 200, published.text
    return published.json()


def start(session: Session, room: QuizRoom, quiz_id: int):  # type: ignore[no-untyped-def]
    return session.call("POST", f"{room.quiz_api(quiz_id)}/attempts")


def attempt_path(room: QuizRoom, quiz_id: int, attempt_id: int) -> str:
    return f"{room.quiz_api(quiz_id)}/attempts/{attempt_id}"


def without_secrets(*bodies: str) -> None:
    text = "\n".join(bodies).lower()
    for secret in SECRETS:
        assert secret.lower() not in text, secret


def wait_for_code_grade(room: QuizRoom, path: str, position: int) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body = room.learner.get(path).json()
        if body["answers"][position]["state"] not in ("AWAITING_WORKER",):
            return body
        time.sleep(1)
    raise AssertionError(f"the code answer is still waiting for the worker: {body}")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# -- a quiz notebook, from import to the last grade -------------------------------------------


def imported_and_published(room: QuizRoom) -> dict[str, Any]:
    """The quiz notebook, imported and checked, then published in the syllabus."""
    imported = import_quiz(room)
    assert imported.status_code == 201, imported.text
    quiz = imported.json()
    assert quiz["title"] == "Python basics" and quiz["time_limit_minutes"] == 30
    assert quiz["published"] is False and quiz["max_score"] == 10  # 1 + 2 + 1 + 1 + 3 + 2
    assert "A short quiz on the first week." in quiz["description"]
    kinds = [slot["question"]["kind"] for slot in quiz["slots"]]
    assert kinds == ["SINGLE_CHOICE", "MULTIPLE_CHOICE", "TRUE_FALSE", "FILL_IN", "ESSAY", "CODE"]
    single = quiz["slots"][0]["question"]
    assert single["prompt"] == "Which keyword defines a function?"  # the task list became choices
    assert [(c["text"], c["correct"]) for c in single["choices"]] == [
        ("func", False),
        ("def", True),
        ("lambda def", False),
    ]
    assert single["tags"] == ["week-1"]
    bank = room.teacher.get(f"{room.api}/quiz-bank").json()
    assert len(bank["questions"]) == 6 and bank["tags"] == {"week-1": 1}

    # Unpublished, it is not there for students; published and placed in the syllabus, it is.
    assert room.learner.get(room.quiz_api(quiz["id"])).status_code == 404
    lesson_id = room.course.lesson_ids[0]
    room.teacher.call(
        "PATCH",
        room.quiz_api(quiz["id"]),
        # This instructor shows the answers after each attempt (the default waits for the last).
        json={"published": True, "lesson_id": lesson_id, "show_answers": "AFTER_EACH_ATTEMPT"},
    ).raise_for_status()
    player = room.learner.get(f"/learn/{room.course.slug}/{lesson_id}")
    link = f"/courses/{room.course.slug}/quizzes/lesson/{lesson_id}"
    assert link in player.text
    assert room.learner.get(link).url.path.endswith(f"/quizzes/{quiz['id']}")
    return quiz


def started_without_secrets(room: QuizRoom, quiz: dict[str, Any]) -> dict[str, Any]:
    """An attempt whose pages and answers hold nothing that decides a score."""
    listing = room.learner.get(f"{room.api}/quizzes")
    started = start(room.learner, room, quiz["id"])
    assert started.status_code == 201, started.text
    attempt = started.json()
    path = attempt_path(room, quiz["id"], attempt["id"])
    page = room.learner.get(
        f"/courses/{room.course.slug}/quizzes/{quiz['id']}/attempts/{attempt['id']}"
    )
    without_secrets(listing.text, started.text, room.learner.get(path).text, page.text)
    assert room.learner.get(f"{room.api}/quiz-bank").status_code == 403
    assert "YOUR CODE HERE" in attempt["answers"][5]["starter"]
    assert math.isclose(attempt["seconds_left"], 30 * 60, abs_tol=30)
    again = start(room.learner, room, quiz["id"])  # a reload resumes, with the same questions
    assert again.status_code == 200 and again.json()["id"] == attempt["id"]
    assert [a["question_id"] for a in again.json()["answers"]] == [
        a["question_id"] for a in attempt["answers"]
    ]
    return attempt


def choice(answer: dict[str, Any], html: str) -> str:
    return next(c["id"] for c in answer["choices"] if c["html"].strip() == html)


def submitted_with_feedback(room: QuizRoom, attempt: dict[str, Any], path: str) -> None:
    """One answer saved on its own, the rest sent with the submit; feedback at once."""
    first = choice(attempt["answers"][0], "<p>def</p>")
    saved = room.learner.call("PUT", f"{path}/answers/0", json={"response": first})
    assert saved.status_code == 200, saved.text
    answers = {
        # One of the two right choices: half the points.
        "1": [choice(attempt["answers"][1], "<p><code>int</code></p>")],
        "2": False,
        "3": "Guido van Rossum",
        "4": "Indentation makes the structure visible.",
        "5": "def add(a, b):\n    return a + b\n",
    }
    submitted = room.learner.call("POST", f"{path}/submit", json={"answers": answers})
    assert submitted.status_code == 200, submitted.text
    result = submitted.json()
    assert result["created"] is True and result["score"] is None  # essay and code pending
    scores = [a["score"] for a in result["answers"]]
    assert scores[:4] == [1, 1, 1, 1] and scores[4:] == [None, None]
    assert [a["correct"] for a in result["answers"][:4]] == [True, False, True, True]
    assert result["answers"][3]["correct_answer"] == "Guido van Rossum"
    assert SECRET_EXPLANATION in result["answers"][3]["explanation_html"]
    assert result["answers"][4]["status"] == "waiting for grading"
    repeat = room.learner.call("POST", f"{path}/submit", json={"answers": {"2": True}})
    assert repeat.status_code == 200 and repeat.json()["created"] is False
    assert repeat.json()["answers"][2]["response"] is False


def essay_graded_by_staff(room: QuizRoom, quiz: dict[str, Any], path: str) -> None:
    queue = room.teacher.get(f"{room.quiz_api(quiz['id'])}/grading?pending=1").json()["answers"]
    assert [(a["kind"], a["attempt_id"]) for a in queue] == [("ESSAY", int(path.split("/")[-1]))]
    assert queue[0]["guidance"] == SECRET_GUIDANCE
    grade_path = f"{path}/answers/4/grade"
    too_much = room.teacher.call("PUT", grade_path, json={"score": 4})
    assert too_much.status_code == 400 and "from 0 to 3" in too_much.json()["error"]
    assert room.learner.call("PUT", grade_path, json={"score": 3}).status_code == 403
    essay_grade = room.teacher.call(
        "PUT", grade_path, json={"score": 2.5, "comment": "Good, mention readability."}
    )
    assert essay_grade.status_code == 200, essay_grade.text
    # 1 + 1 (half of the multiple answer's 2) + 1 + 1, the code's 2 and the essay's 2.5
    assert essay_grade.json()["attempt_score"] == 8.5
    final = room.learner.get(path).json()
    assert final["score"] == 8.5 and final["answers"][4]["comment"] == "Good, mention readability."


def test_an_imported_quiz_is_taken_graded_by_the_worker_and_by_staff_and_notifies(
    quiz_room, db, redis_url
):
    room = quiz_room
    quiz = imported_and_published(room)
    attempt = started_without_secrets(room, quiz)
    path = attempt_path(room, quiz["id"], attempt["id"])
    subscriber = redis.Redis.from_url(redis_url).pubsub()
    subscriber.subscribe(f"coursehub:notifications:{room.student.id}")
    submitted_with_feedback(room, attempt, path)

    # The worker grades the code in the sandbox, hidden tests included, and tells the student.
    graded = wait_for_code_grade(room, path, 5)
    code_answer = graded["answers"][5]
    assert code_answer["state"] == "SCORED" and code_answer["score"] == 2, code_answer
    assert "hidden-check-xyzzy" not in json.dumps(code_answer)
    assert graded["score"] is None  # the essay still waits

    # Staff grade the essay; the attempt's score is complete and the student hears of it.
    essay_graded_by_staff(room, quiz, path)
    with db() as session:
        notes = list(
            session.scalars(
                select(Notification)
                .where(Notification.account_id == room.student.id)
                .order_by(Notification.id)
            )
        )
        stored = session.get_one(QuizAttempt, attempt["id"])
    assert [n.kind for n in notes] == ["quiz_graded", "quiz_graded"]  # the worker's, the staff's
    assert notes[-1].payload["score"] == 8.5 and notes[-1].payload["quiz_id"] == quiz["id"]
    assert stored.score == 8.5 and stored.max_score == 10
    heard = []
    deadline = time.monotonic() + 10
    # Redis's channels are shared by every test run on the machine, whose databases number
    # accounts and notifications alike: ours are these rows, payloads and all.
    ours = {note.id: note.payload for note in notes}
    while len(heard) < 2 and time.monotonic() < deadline:
        message = subscriber.get_message(timeout=1)
        if message and message["type"] == "message":
            event = json.loads(message["data"])
            if event.get("id") in ours and event.get("payload") == ours[event["id"]]:
                heard.append(event)
    subscriber.close()
    assert [event["kind"] for event in heard] == ["quiz_graded", "quiz_graded"]

    # Code that passes the visible test but not the hidden one earns nothing, and the
    # feedback does not show the hidden test.
    second = start(room.learner, room, quiz["id"]).json()
    second_path = attempt_path(room, quiz["id"], second["id"])
    sneaky = "def add(a, b):\n    return a + b if a < 10 else 0\n"
    room.learner.call(
        "POST", f"{second_path}/submit", json={"answers": {"5": sneaky}}
    ).raise_for_status()
    failed_hidden = wait_for_code_grade(room, second_path, 5)["answers"][5]
    assert failed_hidden["state"] == "SCORED" and failed_hidden["score"] == 0, failed_hidden
    assert failed_hidden["feedback"]["outcome"] == "graded"
    assert "hidden-check-xyzzy" not in json.dumps(failed_hidden)


def test_announcing_a_quiz_grade_with_redis_down_does_not_fail():
    from coursehub.services.notifications.notifications import announce

    client = redis.asyncio.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    note = Notification(
        id=1, account_id=1, kind="quiz_graded", payload={}, created_at=datetime.now(UTC)
    )
    run_async(announce(client, [note]))  # logs, does not raise: the row is the record


# -- malformed notebooks -----------------------------------------------------------------------


def _set(index: int, key: str, value: Any):  # type: ignore[no-untyped-def]
    def change(notebook: dict[str, Any]) -> None:
        notebook["cells"][index]["metadata"]["coursehub"][key] = value

    return change


def _drop_tests(notebook: dict[str, Any]) -> None:
    notebook["cells"].pop()


def _no_right_choice(notebook: dict[str, Any]) -> None:
    notebook["cells"][1]["source"] = "Which keyword?\n\n- [ ] func\n- [ ] def"


def _no_questions(notebook: dict[str, Any]) -> None:
    notebook["cells"] = notebook["cells"][:1]


def _question_on_code(notebook: dict[str, Any]) -> None:
    notebook["cells"].append(
        {
            "cell_type": "code",
            "id": "stray",
            "metadata": {"coursehub": {"question": {"kind": "ESSAY"}}},
            "execution_count": None,
            "outputs": [],
            "source": "print('Why?')",
        }
    )


MALFORMED = {
    "metadata-not-an-object": (
        broken(_set(1, "question", "a string")),
        "Cell 2 (id 'q-single'): metadata.coursehub",
    ),
    "unknown-kind": (broken(_set(3, "question", {"kind": "YES_NO"})), "Cell 4 (id 'q-tf'): kind"),
    "no-right-choice": (broken(_no_right_choice), "Cell 2 (id 'q-single'): Mark exactly one"),
    "code-question-without-tests": (
        broken(_drop_tests),
        "Cell 8 (id 'add-solution'): the solution cell must be followed",
    ),
    "question-on-a-code-cell": (broken(_question_on_code), "Cell 10 (id 'stray'): put question"),
    "no-questions": (broken(_no_questions), "The notebook has no questions"),
    "not-json": (b"{not json", "not valid JSON"),
}


def test_a_malformed_quiz_notebook_is_refused_naming_the_cell_and_nothing_is_kept(quiz_room, db):
    for case, (data, words) in MALFORMED.items():
        refused = import_quiz(quiz_room, data)
        assert refused.status_code == 400, (case, refused.text)
        error = refused.json()["error"]
        assert words in error and error.endswith("."), (case, error)
    with db() as session:
        kept = session.scalar(
            select(func.count(QuizQuestion.id)).where(QuizQuestion.course_id == quiz_room.course.id)
        )
        quizzes = session.scalar(
            select(func.count(Quiz.id)).where(Quiz.course_id == quiz_room.course.id)
        )
    assert (kept, quizzes) == (0, 0)


# -- the builder's API and the bank ----------------------------------------------------------


def bank_of_capitals(room: QuizRoom) -> list[int]:
    """Three fill-in questions in the bank, tagged "Capitals" (kept as "capitals")."""
    made = []
    for country, city in (("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid")):
        question = fill_in(
            f"Capital of {country}?", {"mode": "case_insensitive", "value": city}, tags=["Capitals"]
        )
        response = room.teacher.call("POST", f"{room.api}/quiz-bank", json=question)
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    return made


def test_a_quiz_notebook_may_say_when_the_correct_answers_are_shown(quiz_room):
    notebook = quiz_notebook()
    notebook["metadata"]["coursehub"]["quiz"]["show_answers"] = "NEVER"
    imported = import_quiz(quiz_room, notebook_bytes(notebook))
    assert imported.status_code == 201, imported.text
    assert imported.json()["show_answers"] == "NEVER"
    notebook["metadata"]["coursehub"]["quiz"]["show_answers"] = "WHENEVER"
    refused = import_quiz(quiz_room, notebook_bytes(notebook))
    assert refused.status_code == 400 and "show_answers must be one of" in refused.json()["error"]
    # Without the setting, the safe default.
    assert import_quiz(quiz_room).json()["show_answers"] == "AFTER_LAST_ATTEMPT"


def test_a_quiz_built_by_api_draws_from_the_bank_by_tag_and_keeps_what_it_drew(
    quiz_room, platform, signed_in, make_account, db
):
    room = quiz_room
    quiz = build_quiz(room, single_choice("2 + 2?", "4", "3", "5", points=2))
    capitals = bank_of_capitals(room)
    draw = room.teacher.call(
        "POST",
        f"{room.quiz_api(quiz['id'])}/slots",
        json={"tag": "capitals", "count": 2, "points": 1.5},
    )
    assert draw.status_code == 201, draw.text
    built = draw.json()
    assert built["max_score"] == 2 + 2 * 1.5
    assert built["slots"][1]["draw"]["available"] == 3

    # Reorder, change points, and the maximum follows; editing a question's points too.
    slot_ids = [slot["id"] for slot in built["slots"]]
    reordered = room.teacher.call(
        "PUT", f"{room.quiz_api(quiz['id'])}/slot-order", json={"slot_ids": slot_ids[::-1]}
    ).json()
    assert [s["id"] for s in reordered["slots"]] == slot_ids[::-1]
    fixed_question = built["slots"][0]["question"]["id"]
    edited = room.teacher.call(
        "PATCH", f"{room.api}/quiz-bank/{fixed_question}", json={"points": 4}
    )
    assert edited.status_code == 200 and edited.json()["points"] == 4
    assert room.teacher.get(room.quiz_api(quiz["id"])).json()["max_score"] == 4 + 3
    in_use = room.teacher.call("DELETE", f"{room.api}/quiz-bank/{fixed_question}")
    assert in_use.status_code == 409 and "remove it from the quiz first" in in_use.json()["error"]

    first = start(room.learner, room, quiz["id"]).json()
    drawn = [a["question_id"] for a in first["answers"]]
    assert len(drawn) == 3 and drawn[-1] == fixed_question
    assert set(drawn[:2]) <= set(capitals) and len(set(drawn[:2])) == 2
    assert first["max_score"] == 7
    reread = room.learner.get(attempt_path(room, quiz["id"], first["id"])).json()
    assert [a["question_id"] for a in reread["answers"]] == drawn
    # A bank edit after the draw does not change the attempt's copy.
    room.teacher.call(
        "PATCH", f"{room.api}/quiz-bank/{drawn[0]}", json={"prompt": "Changed afterwards?"}
    ).raise_for_status()
    reread = room.learner.get(attempt_path(room, quiz["id"], first["id"])).json()
    assert "Changed afterwards" not in reread["answers"][0]["prompt_html"]

    # Drawing more than the bank holds stops the quiz from starting, with a reason.
    room.teacher.call(
        "PATCH", f"{room.quiz_api(quiz['id'])}/slots/{slot_ids[1]}", json={"count": 5}
    ).raise_for_status()
    classmate = make_account(Role.STUDENT)
    enroll(db, classmate, room.course)
    other = open_session(platform, signed_in, classmate)
    refused = start(other, room, quiz["id"])
    assert refused.status_code == 409 and "bank has 3 more" in refused.json()["error"]


# -- limits --------------------------------------------------------------------------------------


def test_the_attempt_limit_is_kept_and_a_double_submit_is_one_submission(quiz_room, db):
    room = quiz_room
    quiz = build_quiz(room, true_false("The sky is blue.", True), max_attempts=2)
    first = start(room.learner, room, quiz["id"]).json()
    path = attempt_path(room, quiz["id"], first["id"])
    body = {"answers": {"0": True}}
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(
            pool.map(lambda _: room.learner.call("POST", f"{path}/submit", json=body), range(2))
        )
    assert sorted(a.json()["created"] for a in answers) == [False, True]
    assert {a.json()["score"] for a in answers} == {1}
    second = start(room.learner, room, quiz["id"])
    assert second.status_code == 201 and second.json()["attempt"] == 2
    room.learner.call(
        "POST", f"{attempt_path(room, quiz['id'], second.json()['id'])}/submit", json={}
    ).raise_for_status()
    third = start(room.learner, room, quiz["id"])
    assert third.status_code == 409 and "all 2 attempt(s)" in third.json()["error"]
    with db() as session:
        attempts = list(
            session.scalars(select(QuizAttempt).where(QuizAttempt.account_id == room.student.id))
        )
    assert sorted((a.attempt, a.score) for a in attempts) == [(1, 1.0), (2, 0.0)]


def results_of(room: QuizRoom, quiz_id: int, attempt_id: int) -> tuple[dict[str, Any], str]:
    """A submitted attempt as its student sees it: the API's answer and the results page."""
    path = attempt_path(room, quiz_id, attempt_id)
    page = room.learner.get(f"/courses/{room.course.slug}/quizzes/{quiz_id}/attempts/{attempt_id}")
    assert page.status_code == 200
    return room.learner.get(path).json(), page.text


def taken(room: QuizRoom, quiz: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    started = start(room.learner, room, quiz["id"])
    assert started.status_code == 201, started.text
    path = attempt_path(room, quiz["id"], started.json()["id"])
    submitted = room.learner.call("POST", f"{path}/submit", json={"answers": answers})
    assert submitted.status_code == 200, submitted.text
    return submitted.json()


def test_correct_answers_wait_for_the_last_attempt_and_never_show_patterns_or_tolerances(
    quiz_room,
):
    """Attempt 1 of 2 (the default policy): scores and verdicts, but no right answer and no
    explanation, in the API or on the page, nor while attempt 2 is under way; after the
    last attempt the answers come, without the regular expression or the tolerance."""
    room = quiz_room
    quiz = build_quiz(
        room,
        single_choice("Capital of France?", "Paris", "Lyon", explanation="Paris-is-the-capital."),
        fill_in("Who created Python?", {"mode": "regex", "value": SECRET_REGEX}),
        fill_in("6 * 7 = ?", {"mode": "numeric", "value": 42, "abs_tol": 0.5}),
        max_attempts=2,
    )
    assert quiz["show_answers"] == "AFTER_LAST_ATTEMPT"
    first = taken(room, quiz, {"0": None, "1": "nobody", "2": "41"})
    api, page = results_of(room, quiz["id"], first["id"])
    for result in (first, api):
        assert result["score"] == 0 and result["answers_shown"] is False
        assert [a["correct"] for a in result["answers"]] == [False, False, False]
        for answer in result["answers"]:
            assert "correct_answer" not in answer and "explanation_html" not in answer
    assert "last attempt" in api["answers_later"] and api["answers_later"] in page
    for leaked in ('correct-answer"', "right-choice", "Paris-is-the-capital", "guido"):
        assert leaked not in page, leaked

    # The second attempt under way: the first still shows no answers.
    second = start(room.learner, room, quiz["id"]).json()
    during, _ = results_of(room, quiz["id"], first["id"])
    assert during["answers_shown"] is False and "correct_answer" not in during["answers"][0]
    submitted = room.learner.call(
        "POST", f"{attempt_path(room, quiz['id'], second['id'])}/submit", json={}
    ).json()

    # The last attempt is over: the answers come, never the pattern or the tolerance.
    for attempt_id in (first["id"], second["id"]):
        result, page = results_of(room, quiz["id"], attempt_id)
        assert result["answers_shown"] is True and "answers_later" not in result
        choice_answer, regex_answer, number_answer = result["answers"]
        assert choice_answer["correct_answer"] == [
            c["id"] for c in choice_answer["choices"] if c["html"].strip() == "<p>Paris</p>"
        ]
        assert "Paris-is-the-capital." in choice_answer["explanation_html"]
        assert regex_answer["correct_answer"] is None and number_answer["correct_answer"] == "42"
        for body in (json.dumps(result), page):
            assert "guido" not in body.lower() and "0.5" not in body and "±" not in body
        assert "Paris-is-the-capital." in page
    assert submitted["answers_shown"] is True


def test_the_instructor_chooses_when_correct_answers_are_shown(quiz_room, db):
    room = quiz_room
    quiz = build_quiz(room, true_false("The sky is blue.", True), max_attempts=3)
    one = room.quiz_api(quiz["id"])
    bad = room.teacher.call("PATCH", one, json={"show_answers": "SOMETIMES"})
    assert bad.status_code == 400 and "AFTER_EACH_ATTEMPT" in bad.json()["error"]
    assert room.learner.call("PATCH", one, json={"show_answers": "NEVER"}).status_code == 403

    room.teacher.call("PATCH", one, json={"show_answers": "AFTER_EACH_ATTEMPT"}).raise_for_status()
    each = taken(room, quiz, {"0": False})
    assert each["answers_shown"] is True and each["answers"][0]["correct_answer"] is True

    room.teacher.call("PATCH", one, json={"show_answers": "NEVER"}).raise_for_status()
    never, _ = results_of(room, quiz["id"], each["id"])
    assert never["answers_shown"] is False and "correct_answer" not in never["answers"][0]
    assert "does not show" in never["answers_later"]

    room.teacher.call("PATCH", one, json={"show_answers": "AFTER_DUE_DATE"}).raise_for_status()
    due_later, _ = results_of(room, quiz["id"], each["id"])
    assert due_later["answers_shown"] is False and "due date" in due_later["answers_later"]
    with db() as session:  # the due date passes
        session.execute(
            update(Quiz)
            .where(Quiz.id == quiz["id"])
            .values(due_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        session.commit()
    past_due, _ = results_of(room, quiz["id"], each["id"])
    assert past_due["answers_shown"] is True and past_due["answers"][0]["correct_answer"] is True

    # The instructor always sees them.
    staff_view = room.teacher.get(attempt_path(room, quiz["id"], each["id"])).json()
    assert staff_view["answers"][0]["correct_answer"] is True


def move_deadline(db, attempt_id: int, seconds_ago: float = 5) -> None:  # type: ignore[no-untyped-def]
    with db() as session:
        session.execute(
            update(QuizAttempt)
            .where(QuizAttempt.id == attempt_id)
            .values(deadline_at=datetime.now(UTC) - timedelta(seconds=seconds_ago))
        )
        session.commit()


def test_the_server_keeps_the_time_limit_even_when_the_browser_is_gone(quiz_room, db):
    room = quiz_room
    quiz = build_quiz(
        room,
        true_false("Water boils at 100 °C at sea level.", True),
        true_false("The moon is a planet.", False),
        time_limit_minutes=1,
    )
    attempt = start(room.learner, room, quiz["id"]).json()
    assert 55 <= attempt["seconds_left"] <= 60
    path = attempt_path(room, quiz["id"], attempt["id"])
    assert room.learner.call("PUT", f"{path}/answers/0", json={"response": True}).status_code == 200

    move_deadline(db, attempt["id"])  # the minute is over
    late = room.learner.call("PUT", f"{path}/answers/1", json={"response": False})
    assert late.status_code == 409
    assert "ran out" in late.json()["error"] and late.json()["error"].endswith(".")
    closed = room.learner.get(path).json()
    assert closed["timed_out"] is True and closed["score"] == 1  # the saved answer counts
    assert datetime.fromisoformat(closed["submitted_at"]) < datetime.now(UTC)
    assert closed["answers"][1]["response"] is None
    late_submit = room.learner.call("POST", f"{path}/submit", json={"answers": {"1": False}})
    assert late_submit.status_code == 409

    # An attempt left open past its deadline is closed by any listing, never read itself.
    second = start(room.learner, room, quiz["id"]).json()
    room.learner.call(
        "PUT", f"{attempt_path(room, quiz['id'], second['id'])}/answers/1", json={"response": False}
    ).raise_for_status()
    move_deadline(db, second["id"])
    listed = room.teacher.get(f"{room.quiz_api(quiz['id'])}/attempts").json()["attempts"]
    assert [(a["attempt"], a["timed_out"], a["score"]) for a in listed] == [
        (1, True, 1),
        (2, True, 1),
    ]


def test_a_quiz_takes_no_attempts_before_it_opens_or_after_it_is_due(quiz_room):
    room = quiz_room
    now = datetime.now(UTC)
    quiz = build_quiz(room, true_false("Yes?", True), opens_at=iso(now + timedelta(days=1)))
    early = start(room.learner, room, quiz["id"])
    assert early.status_code == 409 and "opens at" in early.json()["error"]
    room.teacher.call(
        "PATCH",
        room.quiz_api(quiz["id"]),
        json={"opens_at": iso(now - timedelta(days=2)), "due_at": iso(now - timedelta(days=1))},
    ).raise_for_status()
    late = start(room.learner, room, quiz["id"])
    assert late.status_code == 409 and "closed at" in late.json()["error"]


# -- who may do what -----------------------------------------------------------------------------


def test_people_outside_the_course_and_students_are_refused_what_is_not_theirs(
    quiz_room, platform, signed_in, make_account, db
):
    room = quiz_room
    quiz = build_quiz(room, essay("Discuss."))
    one = room.quiz_api(quiz["id"])
    attempt = start(room.learner, room, quiz["id"]).json()
    mine = attempt_path(room, quiz["id"], attempt["id"])

    outsider = open_session(platform, signed_in, make_account(Role.STUDENT))
    for path in (f"{room.api}/quizzes", one, f"/courses/{room.course.slug}/quizzes"):
        assert outsider.get(path).status_code == 403, path
    assert start(outsider, room, quiz["id"]).status_code == 403
    assert outsider.get("/api/courses/no-such-course/quizzes").status_code == 404
    other_teacher = open_session(platform, signed_in, make_account(Role.INSTRUCTOR))
    assert other_teacher.get(f"{room.api}/quiz-bank").status_code == 403

    # Students of the course are not its staff.
    for method, path, kwargs in (
        ("GET", f"{room.api}/quiz-bank", {}),
        ("POST", f"{room.api}/quiz-bank", {"json": essay("Mine")}),
        ("POST", f"{room.api}/quizzes", {"json": {"title": "Mine"}}),
        ("POST", f"{room.api}/quizzes/import", {"content": notebook_bytes()}),
        ("PATCH", one, {"json": {"max_attempts": 99}}),
        ("POST", f"{one}/slots", {"json": {"question": essay("More")}}),
        ("GET", f"{one}/grading", {}),
        ("GET", f"{one}/analytics", {}),
        ("PUT", f"{mine}/answers/0/grade", {"json": {"score": 1}}),
        ("GET", f"/courses/{room.course.slug}/quizzes/{quiz['id']}/edit", {}),
        ("GET", f"/courses/{room.course.slug}/quizzes/{quiz['id']}/analytics", {}),
    ):
        response = room.learner.call(method, path, **kwargs)
        assert response.status_code == 403, (method, path, response.text)

    # A classmate sees neither the attempt nor can answer in it; staff do not take quizzes.
    classmate = make_account(Role.STUDENT)
    enroll(db, classmate, room.course)
    other = open_session(platform, signed_in, classmate)
    assert other.get(mine).status_code == 404
    assert other.call("PUT", f"{mine}/answers/0", json={"response": "mine"}).status_code == 404
    assert other.get(f"{one}/attempts").json()["attempts"] == []
    staff_start = start(room.teacher, room, quiz["id"])
    assert staff_start.status_code == 403 and "quiz builder" in staff_start.json()["error"]
    assert room.teacher.get(mine).status_code == 200

    # An unpublished quiz is not there for students.
    room.teacher.call("PATCH", one, json={"published": False}).raise_for_status()
    assert room.learner.get(one).status_code == 404
    assert [q["id"] for q in room.learner.get(f"{room.api}/quizzes").json()["quizzes"]] == []


# -- analytics -----------------------------------------------------------------------------------


async def _take(database_url: str, quiz_id: int, student_id: int, answers: dict[int, Any]) -> None:
    """One student's attempt, taken through the same functions the API calls."""
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            quiz = await session.get_one(Quiz, quiz_id)
            student = await session.get_one(Account, student_id)
            attempt, _ = await quiz_attempts.start_attempt(session, quiz, student)
            await quiz_attempts.submit(session, attempt, answers)
            await session.commit()
    finally:
        await engine.dispose()


def test_analytics_match_figures_worked_out_by_hand(quiz_room, make_account, db, database_url):
    room = quiz_room
    quiz = build_quiz(
        room,
        true_false("Q1: Python is interpreted.", True),
        single_choice("Q2: Which is a list?", "[1, 2]", "(1, 2)"),
        fill_in("Q3: 6 * 7 = ?", {"mode": "numeric", "value": 42}, points=2),
    )
    slots = room.teacher.get(room.quiz_api(quiz["id"])).json()["slots"]
    q2_right = next(c["id"] for c in slots[1]["question"]["choices"] if c["correct"])
    q2_wrong = next(c["id"] for c in slots[1]["question"]["choices"] if not c["correct"])
    # Four students; scores 4, 2, 1 and 0 of 4 points.
    patterns = [
        {0: True, 1: q2_right, 2: "42"},
        {0: True, 1: q2_right, 2: "41"},
        {0: True, 1: q2_wrong, 2: "41"},
        {0: False, 1: q2_wrong, 2: "0"},
    ]
    for answers in patterns:
        student = make_account(Role.STUDENT)
        enroll(db, student, room.course)
        run_async(_take(database_url, quiz["id"], student.id, answers))

    figures = room.teacher.get(f"{room.quiz_api(quiz['id'])}/analytics").json()
    assert (figures["attempts"], figures["scored_attempts"], figures["students"]) == (4, 4, 4)
    assert figures["mean_percent"] == 43.75  # (100 + 50 + 25 + 0) / 4
    assert figures["median_percent"] == 37.5
    counts = {band["from"]: band["count"] for band in figures["histogram"]}
    assert counts == {0: 1, 10: 0, 20: 1, 30: 0, 40: 0, 50: 1, 60: 0, 70: 0, 80: 0, 90: 1}
    by_title = {row["title"]: row for row in figures["questions"]}
    q1, q2, q3 = (by_title[t] for t in sorted(by_title))
    assert (q1["difficulty"], q2["difficulty"], q3["difficulty"]) == (0.75, 0.5, 0.25)
    # Q1 against the rest of each attempt (of 3 points): items 1,1,1,0 and rests 1, 1/3, 0, 0;
    # r = (1/3) / sqrt(0.75 · 2/3) = √2 / 3.
    assert q1["discrimination"] == round(math.sqrt(2) / 3, 4)
    # Q2: items 1,1,0,0 and rests (of 3) 1, 1/3, 1/3, 0; deviations ±1/2 and 7/12, -1/12,
    # -1/12, -5/12: r = (1/2) / sqrt(1 · 76/144) = 6/√76.
    assert q2["discrimination"] == round(6 / math.sqrt(76), 4)
    # Q3 (2 points): items 1,0,0,0 and rests (of 2) 1, 1, 1/2, 0: cov 0.375, sums of squares
    # 0.75 and 0.6875, r = 0.375 / sqrt(0.515625).
    assert q3["discrimination"] == round(0.375 / math.sqrt(0.515625), 4)
    page = room.teacher.get(f"/courses/{room.course.slug}/quizzes/{quiz['id']}/analytics")
    assert page.status_code == 200 and "0.47" in page.text and "43.75 %" in page.text


def test_essays_awaiting_grading_are_counted_for_the_gradebook(quiz_room, db, database_url):
    room = quiz_room
    quiz = build_quiz(room, essay("Why test?"), essay("Why lint?"))
    attempt = start(room.learner, room, quiz["id"]).json()
    room.learner.call(
        "POST",
        f"{attempt_path(room, quiz['id'], attempt['id'])}/submit",
        json={"answers": {"0": "x"}},
    ).raise_for_status()

    async def count() -> int:
        from coursehub.services.quizzes.quizzes import essays_awaiting_grading

        engine = create_async_engine(sqlalchemy_url(database_url))
        try:
            async with AsyncSession(engine) as session:
                return await essays_awaiting_grading(session, room.course.id)
        finally:
            await engine.dispose()

    assert run_async(count()) == 2
    room.teacher.call(
        "PUT", f"{attempt_path(room, quiz['id'], attempt['id'])}/answers/0/grade", json={"score": 1}
    ).raise_for_status()
    assert run_async(count()) == 1
    with db() as session:
        states = session.scalars(
            select(QuizAnswer.state)
            .where(QuizAnswer.attempt_id == attempt["id"])
            .order_by(QuizAnswer.position)
        )
        assert [s.value for s in states] == ["SCORED", "AWAITING_STAFF"]
