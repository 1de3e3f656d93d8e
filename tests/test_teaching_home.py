"""An instructor's teaching home: they land on *Teaching* after signing in, and a course's
Manage page reaches every tool of the course (content, assignments, quizzes, grading queue,
gradebook, announcements, forums, staff, students), each one click away with the way back.
Quiz and assignment lessons are chosen from lists of the course's quizzes and assignments
(or a new quiz is made from there), in the lesson editor and in the quiz builder: nobody
types an id."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import Assignment, LessonKind, Quiz
from tests.assignment_data import source_bytes
from tests.course_builder import LessonPlan, make_course, unique_word
from tests.player_data import sign_in
from tests.teaching_client import open_session

pytestmark = pytest.mark.browser

IPYNB = {"Content-Type": "application/x-ipynb+json"}

# Each tool of the Manage page's navigation and the page it opens, by its heading.
TOOLS = [
    ("Assignments", "/courses/{slug}/assignments"),
    ("Quizzes", "/courses/{slug}/quizzes"),
    ("Grading queue", "/courses/{slug}/grading"),
    ("Gradebook", "/courses/{slug}/gradebook"),
    ("Announcements", "/courses/{slug}/announcements"),
    ("Forums", "/courses/{slug}/forums"),
    ("Staff", "/courses/{slug}/staff"),
    ("Students", "/teach/courses/{id}/students"),
    ("Course page", "/courses/{slug}"),
]


def test_an_instructor_lands_on_teaching_and_reaches_every_tool_from_the_manage_page(
    platform, page, make_account, database_url
):
    instructor = make_account(Role.INSTRUCTOR)
    title = f"Toolbox {unique_word()}"
    course = make_course(database_url, instructor, title=title)

    sign_in(page, platform, instructor.email)
    expect(page).to_have_url(re.compile(r"/services/coursehub/teach$"))
    page.locator(f'article[data-course-id="{course.id}"]').get_by_role(
        "link", name="Manage"
    ).click()
    manage = re.compile(rf"/services/coursehub/teach/courses/{course.id}$")
    expect(page).to_have_url(manage)
    tools = page.get_by_role("navigation", name=f"Teaching tools for {title}")
    expect(tools.get_by_role("link", name="Content")).to_have_attribute("aria-current", "page")

    for label, path in TOOLS:
        target = path.format(slug=course.slug, id=course.id)
        with page.expect_navigation() as opened:
            tools.get_by_role("link", name=label, exact=True).click()
        assert opened.value is not None and opened.value.status == 200, (label, opened.value)
        expect(page).to_have_url(re.compile(re.escape(f"/services/coursehub{target}") + "$"))
        expect(page.locator("h1").first).to_be_visible()
        page.go_back()
        expect(page).to_have_url(manage)

    # The course page leads back to the teaching home.
    tools.get_by_role("link", name="Course page", exact=True).click()
    page.get_by_role("link", name="Manage this course").click()
    expect(page).to_have_url(manage)

    # The teaching pages say where they are: Teaching, the course, the page.
    tools.get_by_role("link", name="Students", exact=True).click()
    crumbs = page.get_by_role("navigation", name="breadcrumb")
    expect(crumbs).to_contain_text("Teaching")
    expect(crumbs).to_contain_text(title)
    crumbs.get_by_role("link", name="Teaching").click()
    expect(page).to_have_url(re.compile(r"/services/coursehub/teach$"))


def test_students_still_land_on_my_learning(platform, page, make_account):
    student = make_account(Role.STUDENT)
    sign_in(page, platform, student.email)
    expect(page).to_have_url(re.compile(r"/services/coursehub/dashboard$"))


def test_quiz_and_assignment_lessons_are_chosen_from_lists_not_typed_ids(
    platform, page, signed_in, make_account, database_url, db
):
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url,
        instructor,
        title=f"Pickers {unique_word()}",
        modules={
            "Week 1": [
                LessonPlan("Check yourself", kind=LessonKind.QUIZ),
                LessonPlan("Homework one", kind=LessonKind.ASSIGNMENT),
            ]
        },
    )
    quiz_lesson, homework_lesson = course.lesson_ids
    teacher = open_session(platform, signed_in, instructor)
    api = f"/api/courses/{course.slug}"
    made = teacher.call("POST", f"{api}/quizzes", json={"title": "Week 1 quiz"})
    assert made.status_code == 201, made.text
    quiz_id = made.json()["id"]
    uploaded = teacher.call(
        "POST",
        f"{api}/assignments",
        params={"title": "Adding numbers"},
        content=source_bytes(),
        headers=IPYNB,
    )
    assert uploaded.status_code == 201, uploaded.text
    assignment_id = uploaded.json()["id"]

    sign_in(page, platform, instructor.email)
    prefix = platform.service_url

    # The quiz lesson's editor lists the course's quizzes; choosing one links the lesson.
    page.goto(f"{prefix}/teach/lessons/{quiz_lesson}")
    picker = page.get_by_label("Quiz this lesson leads to")
    expect(picker.locator("option")).to_have_text(
        ["None yet", "Week 1 quiz (not published)", "A new quiz titled “Check yourself”"]
    )
    picker.select_option(label="Week 1 quiz (not published)")
    page.get_by_role("button", name="Save choice").click()
    expect(page.locator("#done_note")).to_contain_text("students who open this lesson go to")
    expect(page.get_by_role("link", name="Edit “Week 1 quiz” in the quiz builder")).to_be_visible()
    with db() as session:
        assert session.get_one(Quiz, quiz_id).lesson_id == quiz_lesson

    # The syllabus on the Manage page says what each assessment lesson leads to.
    page.get_by_role("link", name=course.title).first.click()
    lesson_row = page.locator(f'.teach-lesson[data-id="{quiz_lesson}"]')
    expect(lesson_row.locator("[data-leads-to]")).to_have_text("quiz: Week 1 quiz")
    homework_row = page.locator(f'.teach-lesson[data-id="{homework_lesson}"]')
    expect(homework_row.locator("[data-leads-to]")).to_have_text("no assignment chosen yet")

    # The assignment lesson's editor lists the course's assignments, with the way to make one.
    homework_row.get_by_role("link", name="Homework one").click()
    picker = page.get_by_label("Assignment this lesson leads to")
    expect(page.get_by_role("link", name=re.compile("All assignments"))).to_have_attribute(
        "href", f"/services/coursehub/courses/{course.slug}/assignments"
    )
    picker.select_option(label="Adding numbers (not released)")
    page.get_by_role("button", name="Save choice").click()
    expect(page.locator("#done_note")).to_be_visible()
    with db() as session:
        assert session.get_one(Assignment, assignment_id).lesson_id == homework_lesson

    # A new quiz made from the picker takes the lesson over and opens in the quiz builder.
    page.goto(f"{prefix}/teach/lessons/{quiz_lesson}")
    page.get_by_label("Quiz this lesson leads to").select_option(
        label="A new quiz titled “Check yourself”"
    )
    page.get_by_role("button", name="Save choice").click()
    expect(page).to_have_url(re.compile(rf"/courses/{course.slug}/quizzes/\d+/edit$"))
    with db() as session:
        linked = session.scalars(select(Quiz).where(Quiz.lesson_id == quiz_lesson)).all()
        assert [quiz.title for quiz in linked] == ["Check yourself"]
        assert session.get_one(Quiz, quiz_id).lesson_id is None

    # The quiz builder picks the quiz's lesson from the course's quiz lessons.
    page.goto(f"{prefix}/courses/{course.slug}/quizzes/{quiz_id}/edit")
    lesson_picker = page.get_by_label("Quiz lesson in the syllabus")
    expect(lesson_picker.locator("option")).to_have_text(
        ["Not in the syllabus", "Week 1: Check yourself"]
    )
    expect(page.get_by_role("link", name="Add a quiz lesson to the syllabus")).to_have_attribute(
        "href", f"/services/coursehub/teach/courses/{course.id}"
    )
    lesson_picker.select_option(label="Week 1: Check yourself")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#builder_status")).to_have_text("Settings saved.")
    with db() as session:
        assert session.get_one(Quiz, quiz_id).lesson_id == quiz_lesson
    page.reload()
    expect(page.get_by_label("Quiz lesson in the syllabus")).to_have_value(str(quiz_lesson))

    # Another course's quiz cannot be chosen (a hand-made form is refused, nothing changes).
    refused = teacher.form(f"/teach/lessons/{quiz_lesson}/assessment", {"quiz_id": "999999999"})
    assert refused.status_code == 400 and "not one of this course" in refused.text
