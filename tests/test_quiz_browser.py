"""A student takes timed quizzes in Chromium: the countdown, answers saved as they are
given, submitting, instant feedback and the score; and an attempt whose time runs out,
closed by the server, which then refuses a late answer."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from coursehub.hub.constants import Role
from coursehub.services.models import AnswerPolicy, Quiz, QuizAttempt
from tests.course_builder import enroll, make_course, unique_word
from tests.player_data import sign_in
from tests.quiz_data import fill_in, single_choice, true_false
from tests.teaching_client import open_session

pytestmark = pytest.mark.browser


@pytest.fixture
def timed_quiz(platform, signed_in, make_account, db, database_url):  # type: ignore[no-untyped-def]
    """A course with an enrolled student and a way to publish quizzes in it."""
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title=f"Timed {unique_word()}", modules={})
    student = make_account(Role.STUDENT)
    enroll(db, student, course)
    teacher = open_session(platform, signed_in, instructor)
    api = f"/api/courses/{course.slug}/quizzes"

    def publish(*questions, **settings):  # type: ignore[no-untyped-def]
        quiz = teacher.call("POST", api, json={"title": "Week 1 check"}).json()
        for question in questions:
            added = teacher.call("POST", f"{api}/{quiz['id']}/slots", json={"question": question})
            assert added.status_code == 201, added.text
        teacher.call(
            "PATCH", f"{api}/{quiz['id']}", json={"published": True, **settings}
        ).raise_for_status()
        return f"{platform.service_url}/courses/{course.slug}/quizzes/{quiz['id']}"

    return student, publish


def question(page, number: int):  # type: ignore[no-untyped-def]
    return page.locator(f'.quiz-question[data-position="{number - 1}"]')


def test_a_student_takes_a_timed_quiz_and_sees_feedback_and_the_score(platform, page, timed_quiz):
    from playwright.sync_api import expect

    student, publish = timed_quiz
    quiz_url = publish(
        single_choice("Which keyword defines a function?", "def", "func", "fn"),
        true_false("Python lists are immutable.", False, explanation="Lists can change."),
        {
            "kind": "MULTIPLE_CHOICE",
            "prompt": "Which are sequences?",
            "choices": [
                {"text": "list", "correct": True},
                {"text": "tuple", "correct": True},
                {"text": "int", "correct": False},
            ],
        },
        fill_in("6 * 7 = ?", {"mode": "numeric", "value": 42, "abs_tol": 0.5}),
        time_limit_minutes=5,
        show_answers="AFTER_EACH_ATTEMPT",
    )
    sign_in(page, platform, student.email)
    page.goto(quiz_url)
    expect(page.locator("#quiz_settings")).to_contain_text("Time limit: 5 minutes")
    page.locator("#start_quiz").click()

    expect(page.locator("#countdown")).to_have_text(re.compile(r"^[45]:\d\d$"))
    question(page, 1).get_by_role("radio", name="def").check()
    question(page, 2).get_by_role("radio", name="True").check()  # wrong on purpose
    question(page, 3).get_by_role("checkbox", name="list").check()
    question(page, 3).get_by_role("checkbox", name="tuple").check()
    expect(question(page, 3).locator(".save-state")).to_have_text("Saved")
    question(page, 4).get_by_label("Answer to question 4").fill("42.2")
    expect(question(page, 4).locator(".save-state")).to_have_text("Saved")
    expect(question(page, 1).locator(".save-state")).to_have_text("Saved")

    page.reload()  # saved answers survive a reload, and the clock keeps running
    expect(question(page, 4).get_by_label("Answer to question 4")).to_have_value("42.2")
    expect(question(page, 1).get_by_role("radio", name="def")).to_be_checked()
    page.locator("#submit_quiz").click()

    expect(page.locator("#attempt_score")).to_have_text(re.compile(r"Score: 3(\.0)? / 4(\.0)?"))
    results = page.locator("#results .result")
    expect(results.nth(0).locator(".verdict")).to_have_text("Correct")
    expect(results.nth(1).locator(".verdict")).to_have_text("Incorrect")
    expect(results.nth(1).locator(".correct-answer")).to_contain_text("False")
    expect(results.nth(1).locator(".explanation")).to_contain_text("Lists can change.")
    expect(results.nth(2).locator(".verdict")).to_have_text("Correct")
    # The accepted number, never its tolerance.
    expect(results.nth(3).locator(".correct-answer")).to_have_text("Correct answer: 42")
    expect(page.locator("#countdown")).to_have_count(0)
    expect(page.locator("#time_up")).to_be_hidden()


def test_when_the_time_runs_out_the_page_says_so_and_the_server_refuses_late_answers(
    platform, page, timed_quiz, db
):
    from playwright.sync_api import expect

    student, publish = timed_quiz
    quiz_url = publish(
        true_false("The sky is blue.", True),
        true_false("Fish can fly.", False),
        time_limit_minutes=1,
    )
    sign_in(page, platform, student.email)
    page.goto(quiz_url)
    page.locator("#start_quiz").click()
    expect(page.locator("#countdown")).to_be_visible()
    attempt_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    # Most of the minute has gone by: a few seconds are left.
    with db() as session:
        session.execute(
            update(QuizAttempt)
            .where(QuizAttempt.id == attempt_id)
            .values(deadline_at=datetime.now(UTC) + timedelta(seconds=4))
        )
        session.commit()
    page.reload()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^0:0[0-4]$"))
    question(page, 1).get_by_role("radio", name="True").check()
    expect(question(page, 1).locator(".save-state")).to_have_text("Saved")

    expect(page.locator("#time_up")).to_contain_text("Time is up", timeout=15_000)
    # The attempt is closed with the answer saved in time; the results say why.
    expect(page.locator("#attempt_score")).to_have_text(
        re.compile(r"Score: 1(\.0)? / 2(\.0)?"), timeout=15_000
    )
    expect(page.locator("#time_up")).to_contain_text("Time is up")
    late = page.evaluate(
        """async () => {
            const root = document.getElementById("quiz_attempt");
            const response = await fetch(root.dataset.api + "/answers/1", {
                method: "PUT",
                credentials: "same-origin",
                headers: {"Content-Type": "application/json", "X-XSRFToken": root.dataset.xsrf},
                body: JSON.stringify({response: false}),
            });
            return {status: response.status, body: await response.json()};
        }"""
    )
    assert late["status"] == 409 and "ran out" in late["body"]["error"]
    with db() as session:
        closed = session.scalar(select(QuizAttempt).where(QuizAttempt.id == attempt_id))
    assert closed.timed_out and closed.score == 1 and closed.submitted_at == closed.deadline_at


def test_an_instructor_builds_a_quiz_in_the_quiz_builder(
    platform, page, make_account, database_url, db
):
    from playwright.sync_api import expect

    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title=f"Built {unique_word()}", modules={})
    sign_in(page, platform, instructor.email)
    page.goto(f"{platform.service_url}/courses/{course.slug}/quizzes")
    page.get_by_label("New quiz").fill("Capitals")
    page.get_by_role("button", name="Create quiz").click()
    expect(page.locator("#builder_title")).to_have_text("Capitals")
    status = page.locator("#builder_status")

    # The random draw's inputs are labelled where people see them.
    for label in ("Tag to draw from", "How many", "Points each"):
        expect(page.locator("#draw_form label", has_text=label)).to_be_visible()
        expect(page.get_by_label(label, exact=True)).to_be_visible()

    page.get_by_role("button", name="New question").click()
    # A new question starts as multiple choice, the kind people write most.
    expect(page.get_by_label("Kind")).to_have_value("SINGLE_CHOICE")
    page.get_by_label("Prompt (markdown)").fill("Capital of France?")
    page.locator("#choice_rows .choice-text").nth(0).fill("Lyon")
    page.locator("#choice_rows .choice-text").nth(1).fill("Paris")
    page.get_by_label("Choice 2 is correct").check()
    page.get_by_role("button", name="Save question").click()
    expect(status).to_have_text("Question saved.")

    page.get_by_role("button", name="New question").click()
    page.get_by_label("Kind").select_option("FILL_IN")
    page.get_by_label("Prompt (markdown)").fill("Capital of Italy?")
    page.get_by_label("Matching of answer 1").select_option("case_insensitive")
    page.get_by_label("Accepted answer 1").fill("Rome")
    page.get_by_label("Points", exact=True).fill("2")
    page.get_by_role("button", name="Save question").click()
    expect(status).to_have_text("Question saved.")

    page.get_by_role("button", name="Move Fill in the blank: Capital of Italy? up").click()
    expect(status).to_have_text("Order saved.")
    expect(page.locator("#slots .slot-label")).to_have_text(
        ["Fill in the blank: Capital of Italy?", "Multiple choice (one answer): Capital of France?"]
    )
    page.get_by_label("Time limit (minutes)").fill("10")
    answers_policy = page.get_by_label("Show students the correct answers")
    expect(answers_policy).to_have_value("AFTER_LAST_ATTEMPT")  # the safe default
    answers_policy.select_option("AFTER_DUE_DATE")
    page.get_by_label("Published (students can see and take it)").check()
    page.get_by_role("button", name="Save settings").click()
    expect(status).to_have_text("Settings saved.")
    expect(page.locator("#max_score")).to_have_text("3")

    page.reload()  # all of it was stored
    expect(page.get_by_label("Time limit (minutes)")).to_have_value("10")
    expect(page.locator("#slots .slot-label")).to_have_count(2)
    with db() as session:
        quiz = session.scalar(select(Quiz).where(Quiz.course_id == course.id))
    assert (quiz.published, quiz.time_limit_minutes, quiz.max_score) == (True, 10, 3)
    assert quiz.show_answers == AnswerPolicy.AFTER_DUE_DATE
