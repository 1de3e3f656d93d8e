"""A student's dashboard: their courses with progress, a link to continue where they left off,
and the lessons they completed most recently; and, in a real browser, the whole way from a
search in the catalog to a course on the dashboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from coursehub.hub.constants import Role
from coursehub.services import seed
from coursehub.services.models import Account, LessonKind
from coursehub.services.settings import sqlalchemy_url
from tests.conftest import PASSWORD
from tests.course_builder import (
    LessonPlan,
    change_course,
    complete_lessons,
    enroll,
    make_course,
    run_async,
)


def dashboard_of(http, platform) -> dict:
    response = http.get(f"{platform.service_url}/api/me/dashboard")
    assert response.status_code == 200, response.text
    return response.json()


def test_the_dashboard_shows_progress_and_where_to_continue(
    platform, make_account, signed_in, db, database_url
):
    instructor, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    started = make_course(
        database_url,
        instructor,
        title="Started course",
        modules={
            "One": [LessonPlan("Lesson A"), LessonPlan("Lesson B"), LessonPlan("Lesson C")],
            "Two": [
                LessonPlan("Lesson D"),
                LessonPlan("Bonus quiz", kind=LessonKind.QUIZ, required=False),
            ],
        },
    )
    fresh = make_course(database_url, instructor, title="Fresh course")
    a, b, c, _d, bonus = started.lesson_ids
    now = datetime.now(UTC)
    enroll(db, student, fresh, enrolled_at=now - timedelta(days=3))
    enroll(
        db,
        student,
        started,
        enrolled_at=now - timedelta(days=5),
        last_lesson_id=c,
        last_active_at=now - timedelta(hours=1),
    )
    # Two of four required lessons and the optional quiz: 50 % (optional lessons don't count).
    complete_lessons(db, student, [a, bonus, b], start=now - timedelta(days=2))

    mine = dashboard_of(signed_in(student), platform)
    assert [course["slug"] for course in mine["courses"]] == [started.slug, fresh.slug]
    first, second = mine["courses"]
    assert (first["progress_percent"], first["lessons_completed"], first["lessons"]) == (50, 3, 5)
    assert first["continue"] == {
        "lesson_id": c,
        "title": "Lesson C",
        "url": f"/services/coursehub/learn/{started.slug}/{c}",
        "resumes": True,
    }
    assert second["progress_percent"] == 0
    assert second["continue"]["lesson_id"] == fresh.lesson_ids[0]  # not started: the first
    assert second["continue"]["resumes"] is False
    assert [lesson["lesson_id"] for lesson in mine["recently_completed"]] == [b, bonus, a]
    assert mine["recently_completed"][0]["course"] == {
        "slug": started.slug,
        "title": "Started course",
    }

    page = signed_in(student).get(f"{platform.service_url}/dashboard")
    assert page.status_code == 200
    assert "50% done · 3 of 5 lessons completed" in page.text
    assert f'href="/services/coursehub/learn/{started.slug}/{c}"' in page.text
    assert "Continue where you left off" in page.text and "Start the course" in page.text
    assert page.text.index("Lesson B") < page.text.index("Bonus quiz")  # newest first


def test_recently_completed_keeps_the_five_newest(
    platform, make_account, signed_in, db, database_url
):
    student = make_account(Role.STUDENT)
    course = make_course(
        database_url,
        make_account(Role.INSTRUCTOR),
        title="Many lessons",
        modules={"All": [LessonPlan(f"Step {n}") for n in range(7)]},
    )
    enroll(db, student, course)
    complete_lessons(db, student, course.lesson_ids)

    recent = dashboard_of(signed_in(student), platform)["recently_completed"]
    assert [lesson["title"] for lesson in recent] == [f"Step {n}" for n in (6, 5, 4, 3, 2)]


def test_a_course_put_back_into_draft_leaves_the_dashboard(
    platform, make_account, signed_in, db, database_url
):
    instructor, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    course = make_course(database_url, instructor, title="Withdrawn course")
    enroll(db, student, course)
    complete_lessons(db, student, course.lesson_ids[:1])
    http = signed_in(student)
    assert [c["slug"] for c in dashboard_of(http, platform)["courses"]] == [course.slug]

    change_course(database_url, instructor, course, status="DRAFT")
    mine = dashboard_of(http, platform)
    assert mine == {"courses": [], "recently_completed": []}
    assert 'id="no_courses"' in http.get(f"{platform.service_url}/dashboard").text


def test_the_dashboard_is_for_signed_in_people(platform, client):
    api = client.get(f"{platform.service_url}/api/me/dashboard")
    assert api.status_code == 401
    page = client.get(f"{platform.service_url}/dashboard")
    assert page.url.path == "/hub/login"


async def _seed_demo_course(database_url: str, instructor_id: int) -> None:
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with AsyncSession(engine) as session:
            instructor = await session.get_one(Account, instructor_id)
            await seed.seed_course(session, seed.CONTENT_DIR / "python-for-data", instructor)
            await session.commit()
    finally:
        await engine.dispose()


@pytest.fixture
def patient_expectations():  # type: ignore[no-untyped-def]
    """Wait as long as the pages' own timeout: sign-in hashes passwords on a shared machine."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=None)


@pytest.mark.browser
def test_a_student_finds_a_course_by_a_lesson_word_enrolls_and_sees_it_on_the_dashboard(
    platform, page, make_account, database_url, patient_expectations
):
    run_async(_seed_demo_course(database_url, make_account(Role.INSTRUCTOR).id))
    student = make_account(Role.STUDENT)

    page.goto(f"{platform.url}/hub/login")
    page.locator("#username_input").fill(student.email)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    expect(page).to_have_url(re.compile(r"/services/coursehub/dashboard$"))
    expect(page.locator("#no_courses")).to_be_visible()

    page.locator("#thenavbar").get_by_role("link", name="Courses", exact=True).click()
    page.get_by_label("Search courses").fill("zettabyte")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/services/coursehub/courses\?q=zettabyte"))
    page.get_by_role("link", name="Python for Data Analysis").click()

    expect(page.get_by_role("heading", name="Python for Data Analysis")).to_be_visible()
    expect(page.get_by_role("heading", name="Syllabus")).to_be_visible()
    expect(page.get_by_text("Lists and loops")).to_be_visible()
    page.get_by_role("button", name="Enroll for free").click()
    expect(page.locator("#course_notice")).to_have_text("You are enrolled. Enjoy the course!")

    page.locator("#thenavbar").get_by_role("link", name="My learning").click()
    expect(page).to_have_url(re.compile(r"/services/coursehub/dashboard$"))
    course = page.locator('.my-course[data-slug="python-for-data"]')
    expect(course.get_by_role("link", name="Python for Data Analysis", exact=True)).to_be_visible()
    expect(course.locator(".course-progress")).to_contain_text("0% done")
    expect(course.get_by_role("link", name=re.compile("Start the course"))).to_have_attribute(
        "href", re.compile(r"/services/coursehub/learn/python-for-data/\d+$")
    )
