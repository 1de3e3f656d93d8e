"""The demo course, seeded as `coursehub up` seeds it, shows a newcomer the whole product: its
lessons with their data file, an autograded nbgrader assignment with hidden tests and a
question graded by a person, a quiz of several kinds, an announcement and a forum thread.
The demo student submits the assignment and sees a grade within seconds, and takes the quiz."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from coursehub.services.models import (
    Account,
    Announcement,
    Assignment,
    Course,
    ForumPost,
    ForumThread,
    Lesson,
    LessonKind,
    Module,
    Notification,
    Quiz,
    QuizQuestion,
    QuizSlot,
)
from tests.platform import REPO, xsrf_from
from tests.player_data import sign_in
from tests.teaching_client import Session

SLUG = "python-for-data"
API = f"/api/courses/{SLUG}"
IPYNB = {"Content-Type": "application/x-ipynb+json"}


@dataclass
class Demo:
    logins: dict[str, str]
    output: str


def seed(platform) -> str:  # type: ignore[no-untyped-def]
    """`coursehub seed`, the step `coursehub up` runs first, on the platform's database and
    data directory."""
    done = subprocess.run(
        [sys.executable, "-m", "coursehub.services.cli", "seed"],
        env=platform.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def demo(platform) -> Demo:  # type: ignore[no-untyped-def]
    output = seed(platform)
    logins = json.loads((platform.data_dir / "demo-logins.json").read_text())
    return Demo(logins, output)


def demo_session(platform, signed_in, db, email: str, demo: Demo) -> Session:  # type: ignore[no-untyped-def]
    with db() as session:
        account = session.scalar(select(Account).where(Account.email == email))
    assert account is not None
    http = signed_in(account, demo.logins[email])
    page = http.get(f"{platform.service_url}/register")  # any page with a form carries the token
    return Session(account, http, platform.service_url, xsrf_from(page))


def what_the_course_holds(db) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with db() as session:
        course = session.scalar(select(Course).where(Course.slug == SLUG))
        assert course is not None
        lessons = session.execute(
            select(Module.title, Lesson.title, Lesson.kind, Lesson.id)
            .join(Lesson, Lesson.module_id == Module.id)
            .where(Module.course_id == course.id)
            .order_by(Module.position, Lesson.position)
        ).all()
        assignments = session.scalars(
            select(Assignment).where(Assignment.course_id == course.id)
        ).all()
        quizzes = session.scalars(select(Quiz).where(Quiz.course_id == course.id)).all()
        kinds = session.scalars(
            select(QuizQuestion.kind)
            .join(QuizSlot, QuizSlot.question_id == QuizQuestion.id)
            .join(Quiz, Quiz.id == QuizSlot.quiz_id)
            .where(Quiz.course_id == course.id)
        ).all()
        announcements = session.scalars(
            select(Announcement.title).where(Announcement.course_id == course.id)
        ).all()
        threads = session.execute(
            select(ForumThread.title, func.count(ForumPost.id))
            .join(ForumPost, ForumPost.thread_id == ForumThread.id)
            .where(ForumThread.course_id == course.id)
            .group_by(ForumThread.id)
        ).all()
        return {
            "course": course,
            "lessons": [tuple(row) for row in lessons],
            "assignments": list(assignments),
            "quizzes": list(quizzes),
            "kinds": set(kinds),
            "announcements": list(announcements),
            "threads": [tuple(row) for row in threads],
        }


def test_the_demo_course_shows_every_feature_and_seeding_again_changes_nothing(demo, platform, db):
    held = what_the_course_holds(db)
    course = held["course"]
    titles = [(module, title, kind) for module, title, kind, _ in held["lessons"]]
    assert titles[-2:] == [
        ("Practice", "Weather checks", LessonKind.ASSIGNMENT),
        ("Practice", "Check your understanding", LessonKind.QUIZ),
    ]
    assert [kind for _, _, kind in titles[:4]] == [LessonKind.NOTEBOOK] * 4
    lesson_ids = {title: lesson_id for _, title, _, lesson_id in held["lessons"]}

    # An nbgrader assignment: released, due in two weeks, in the syllabus, with its data file;
    # hidden tests in the source only, and a question a person grades.
    (assignment,) = held["assignments"]
    assert assignment.title == "Weather checks" and assignment.released_at is not None
    assert assignment.due_at is not None and assignment.lesson_id == lesson_ids["Weather checks"]
    assert {cell["kind"] for cell in assignment.grade_cells} >= {"autograded_test", "manual"}
    source, student = (
        json.dumps(assignment.source_notebook),
        json.dumps(assignment.student_notebook),
    )
    assert "BEGIN HIDDEN TESTS" in source and "answer == 9" in source
    assert "answer == 9" not in student and "BEGIN SOLUTION" not in student
    assert assignment.max_score == 6

    # A published quiz of several kinds, placed in the syllabus.
    (quiz,) = held["quizzes"]
    assert quiz.published and quiz.lesson_id == lesson_ids["Check your understanding"]
    assert {kind.value for kind in held["kinds"]} == {
        "SINGLE_CHOICE",
        "MULTIPLE_CHOICE",
        "TRUE_FALSE",
        "FILL_IN",
        "CODE",
    }
    assert held["announcements"] == ["Welcome to Python for Data Analysis"]
    assert held["threads"] == [("Introduce yourself", 2)]

    # The course's data folder is published to the course's files, which every lesson kernel
    # of the course has read-only in its working directory (lesson 4 reads data/weather.csv).
    published = platform.data_dir / "course-files" / str(course.id) / "data" / "weather.csv"
    assert (
        published.read_bytes()
        == (REPO / "course_content" / SLUG / "data" / "weather.csv").read_bytes()
    )

    # Every lesson shows its code (read-only) and its text sends readers to their own copy to
    # run it: nothing says "press Shift + Enter" about a cell the player hides.
    with db() as session:
        shown = session.scalars(
            select(Lesson.show_code)
            .join(Module, Module.id == Lesson.module_id)
            .where(Module.course_id == course.id, Lesson.kind == LessonKind.NOTEBOOK)
        ).all()
    assert shown == [True] * 4

    # The demo student heard of the release and of the announcement.
    with db() as session:
        student = session.scalar(
            select(Account).where(Account.email == "student@coursehub.example")
        )
        kinds = set(
            session.scalars(select(Notification.kind).where(Notification.account_id == student.id))
        )
    assert {"announcement", "assignment_released"} <= kinds, kinds

    # `coursehub up` seeds at every start: the second time nothing is added or replaced.
    output = seed(platform)
    assert "student@coursehub.example" in output
    again = what_the_course_holds(db)
    assert again["lessons"] == held["lessons"]
    assert [a.id for a in again["assignments"]] == [assignment.id]
    assert again["assignments"][0].updated_at == assignment.updated_at
    assert [q.id for q in again["quizzes"]] == [quiz.id]
    assert again["announcements"] == held["announcements"] and again["threads"] == held["threads"]


def answered(
    student_notebook: dict[str, Any],
    written: str = "Compare the mean range of wet and dry days: clouds keep nights warm.",
) -> bytes:
    """The student version with tasks 1 and 2 solved and task 3 written."""
    notebook = copy.deepcopy(student_notebook)
    answers = {
        "to_celsius": "def to_celsius(fahrenheit):\n    return (fahrenheit - 32) * 5 / 9\n",
        "wet_days": (
            "import csv\n\n\ndef wet_days(path):\n"
            "    with open(path, newline='') as f:\n"
            "        return sum(1 for row in csv.DictReader(f) if float(row['rain_mm']) > 0)\n"
        ),
        "explain_ranges": written,
    }
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return json.dumps(notebook).encode()


def test_the_demo_student_submits_the_assignment_and_sees_a_grade_within_seconds(
    demo, platform, signed_in, db
):
    learner = demo_session(platform, signed_in, db, "student@coursehub.example", demo)
    listed = learner.get(f"{API}/assignments").json()["assignments"]
    (assignment,) = [a for a in listed if a["title"] == "Weather checks"]
    notebook = learner.get(f"{API}/assignments/{assignment['id']}/notebook")
    assert notebook.status_code == 200, notebook.text
    assert "answer == 9" not in notebook.text  # the hidden test stays hidden

    submitted_at = time.monotonic()
    sent = learner.call(
        "POST",
        f"{API}/assignments/{assignment['id']}/submissions",
        content=answered(notebook.json()),
        headers=IPYNB,
    )
    assert sent.status_code in (200, 201, 202), sent.text
    path = f"{API}/assignments/{assignment['id']}/submissions/{sent.json()['id']}"
    attempt = sent.json()
    while attempt["status"] in ("QUEUED", "GRADING") and time.monotonic() - submitted_at < 170:
        time.sleep(0.5)
        attempt = learner.get(path).json()
    waited = time.monotonic() - submitted_at
    assert attempt["status"] == "GRADED", attempt

    # Both autograded tasks pass, hidden tests included (the data file was there for the
    # grading job); the written answer waits for the instructor.
    grade = attempt["grade"]
    assert grade["score"] == 4 and grade["max_score"] == 6, grade
    assert grade["needs_manual"] is True
    assert "answer == 9" not in json.dumps(attempt)
    # About two seconds on a quiet machine; the bound leaves room for a loaded test machine.
    assert waited < 180, f"the grade took {waited:.1f} s"

    page = learner.get(f"/courses/{SLUG}/assignments")
    assert page.status_code == 200 and "Weather checks" in page.text


def test_the_demo_student_takes_the_demo_quiz(demo, platform, signed_in, db):
    learner = demo_session(platform, signed_in, db, "student@coursehub.example", demo)
    listed = learner.get(f"{API}/quizzes").json()["quizzes"]
    (quiz,) = [q for q in listed if q["title"] == "Check your understanding"]

    # The quiz lesson of the syllabus leads to it.
    lesson = learner.get(f"/courses/{SLUG}/quizzes/lesson/{quiz['lesson_id']}")
    assert lesson.url.path.endswith(f"/quizzes/{quiz['id']}")

    started = learner.call("POST", f"{API}/quizzes/{quiz['id']}/attempts")
    assert started.status_code in (200, 201), started.text
    attempt = started.json()
    path = f"{API}/quizzes/{quiz['id']}/attempts/{attempt['id']}"

    def choice(position: int, html: str) -> str:
        choices = attempt["answers"][position]["choices"]
        return next(c["id"] for c in choices if c["html"].strip() == html)

    answers = {
        "0": choice(0, "<p><code>float</code></p>"),
        "1": [
            choice(1, "<p><code>highs[-1]</code></p>"),
            choice(1, "<p><code>highs[len(highs) - 1]</code></p>"),
        ],
        "2": False,
        "3": "3",
        "4": "def",
        "5": "def warm_days(highs, limit):\n    return len([h for h in highs if h >= limit])\n",
    }
    submitted = learner.call("POST", f"{path}/submit", json={"answers": answers})
    assert submitted.status_code == 200, submitted.text
    result = submitted.json()
    assert [a["score"] for a in result["answers"][:5]] == [1, 2, 1, 1, 1], result["answers"]

    # The code question is run by the grading workers, hidden tests and all, within seconds.
    # (Seconds on a quiet machine; the bound leaves room for a loaded test machine.)
    deadline = time.monotonic() + 150
    while result["answers"][5]["state"] == "AWAITING_WORKER" and time.monotonic() < deadline:
        time.sleep(0.5)
        result = learner.get(path).json()
    code = result["answers"][5]
    assert code["score"] == 2, {key: code.get(key) for key in ("state", "score", "feedback")}
    assert result["score"] == result["max_score"] == 8


def test_the_demo_students_lesson_4_reads_its_data_file(demo, platform, signed_in, db):
    """The widget lesson's first cells open data/weather.csv in the lesson kernel's working
    directory: the page the student gets shows the rows, not a FileNotFoundError."""
    learner = demo_session(platform, signed_in, db, "student@coursehub.example", demo)
    with db() as session:
        # the demo course's own lesson (other tests may seed courses with lessons of that title)
        lesson_id = session.scalar(
            select(Lesson.id)
            .join(Module, Module.id == Lesson.module_id)
            .join(Course, Course.id == Module.course_id)
            .where(Course.slug == SLUG, Lesson.title == "Summarising data")
        )
    frame = learner.get(f"/learn/{SLUG}/{lesson_id}/frame", timeout=120)
    assert frame.status_code == 200, frame.text[:500]
    assert "FileNotFoundError" not in frame.text
    assert "30 rows" in frame.text, frame.text[-3000:]
    assert "2024-06-01,17.8,8.8,0.0,cloudy" in frame.text


@pytest.mark.browser
def test_the_demo_student_submits_on_the_page_and_watches_the_grade_arrive(
    demo, platform, page, signed_in, db, tmp_path
):
    """In Chromium, as a newcomer would: the demo student opens the course's assignments,
    submits their notebook with the page's form and sees the score without leaving it."""
    learner = demo_session(platform, signed_in, db, "student@coursehub.example", demo)
    listed = learner.get(f"{API}/assignments").json()["assignments"]
    (assignment,) = [a for a in listed if a["title"] == "Weather checks"]
    student_version = learner.get(f"{API}/assignments/{assignment['id']}/notebook").json()
    mine = tmp_path / "weather-checks.ipynb"
    # A reworded written answer: the same bytes as the attempt the API test sent moments ago
    # would be one submit sent twice (the double-submit window), and rightly add no row.
    mine.write_bytes(answered(student_version, written="Wet days keep nights warm: clouds."))

    sign_in(page, platform, "student@coursehub.example", demo.logins["student@coursehub.example"])
    page.goto(f"{platform.service_url}/courses/{SLUG}")
    page.locator("#assignments_link").click()
    # The page's script (deferred) is ready once the page has loaded; a click before it
    # would send the form without it.
    page.wait_for_url(f"**/courses/{SLUG}/assignments")
    attempts = page.locator("tr.attempt")
    before = attempts.count()
    earlier = {attempts.nth(i).get_attribute("data-submission-id") for i in range(before)}
    page.get_by_label("Your notebook for Weather checks").set_input_files(mine)
    page.get_by_role("button", name="Submit").click()
    expect(page.locator(".submit-status")).to_contain_text("received")  # a new attempt
    expect(attempts).to_have_count(before + 1)  # the attempt appears at once
    ids = {attempts.nth(i).get_attribute("data-submission-id") for i in range(before + 1)}
    (new_id,) = ids - earlier
    newest = page.locator(f'tr.attempt[data-submission-id="{new_id}"]')
    expect(newest.locator(".attempt-status")).to_have_text("graded", timeout=180_000)
    expect(newest.locator(".attempt-score")).to_contain_text("4 / 6")
    assert page.url.endswith(f"/courses/{SLUG}/assignments")


@pytest.mark.browser
def test_the_demo_student_takes_the_quiz_in_the_browser(demo, platform, page):
    """The demo quiz, from the course page to the results, answered with the page's inputs."""
    sign_in(page, platform, "student@coursehub.example", demo.logins["student@coursehub.example"])
    page.goto(f"{platform.service_url}/courses/{SLUG}")
    page.locator("#quizzes_link").click()
    page.get_by_role("link", name="Check your understanding").click()
    page.locator("#start_quiz").click()

    def question(position: int):  # type: ignore[no-untyped-def]
        return page.locator(f'fieldset.quiz-question[data-position="{position}"]')

    question(0).get_by_label("float", exact=True).check()
    question(1).get_by_label("highs[-1]", exact=True).check()
    question(1).get_by_label("highs[len(highs) - 1]", exact=True).check()
    question(2).get_by_label("False", exact=True).check()
    question(3).get_by_role("textbox").fill("3")
    question(4).get_by_role("textbox").fill("def")
    question(5).get_by_role("textbox").fill(
        "def warm_days(highs, threshold):\n    return sum(h >= threshold for h in highs)\n"
    )
    for position in range(6):  # each answer is saved as it is given
        expect(question(position).locator(".save-state")).to_have_text("Saved")
    page.locator("#submit_quiz").click()

    # The five objective questions are scored at once; the code question follows from the
    # grading workers (the page says so while it waits).
    expect(page.locator("#attempt_score")).to_contain_text(
        re.compile(r"Score: (8 / 8|waiting for grading \(6 of 8 points)"), timeout=30_000
    )
    verdicts = page.locator("#results article.quiz-question .verdict")
    expect(verdicts.nth(0)).to_have_text("Correct")
    expect(verdicts.nth(1)).to_have_text("Correct")
    expect(verdicts.nth(4)).to_have_text("Correct")
