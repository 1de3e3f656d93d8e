"""The course player: who may open which lesson, what each kind of lesson shows, the syllabus,
the lesson server behind it (a notebook rendered by Voilà in a sandboxed frame), and a student
using a live notebook lesson in Chromium, on a desktop and on a phone."""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import CourseStatus, Enrollment, LessonKind, LessonProgress
from tests.conftest import PASSWORD
from tests.player_data import (
    BuiltCourse,
    LessonSpec,
    build_course,
    enroll,
    give_course_files,
    new_account,
    notebook,
    sign_in,
    slider_notebook,
)

NOTEBOOK_LESSON = notebook("print('rendered by the lesson server')", markdown="# A live lesson")


@pytest.fixture(scope="module")
def lesson_server(platform) -> None:
    """Wait until the lesson server answers through the course service (it starts with the
    platform, a little after the course service)."""
    response = httpx.get(f"{platform.service_url}/voila/voila/static/voila.js", timeout=60)
    assert response.status_code == 200, response.text[:300]


# -- who may open which lesson ------------------------------------------------------------


@dataclass
class World:
    courses: dict[CourseStatus, BuiltCourse]
    people: dict[str, object]


@pytest.fixture(scope="module")
def world(db) -> World:
    instructor = new_account(db, Role.INSTRUCTOR, "owner", PASSWORD)
    lessons = [
        LessonSpec("Welcome", preview=True, text="Welcome to the course."),
        LessonSpec("Members only", text="Only for students."),
    ]
    courses = {status: build_course(db, instructor, lessons, status) for status in CourseStatus}
    enrolled = new_account(db, Role.STUDENT, "enrolled", PASSWORD)
    for course in courses.values():
        enroll(db, enrolled, course)
    people = {
        "enrolled student": enrolled,
        "other student": new_account(db, Role.STUDENT, "visitor", PASSWORD),
        "the course's instructor": instructor,
        "another instructor": new_account(db, Role.INSTRUCTOR, "colleague", PASSWORD),
        "administrator": new_account(db, Role.ADMIN, "admin", PASSWORD),
    }
    return World(courses, people)


P, A, D = CourseStatus.PUBLISHED, CourseStatus.ARCHIVED, CourseStatus.DRAFT
ACCESS_CASES = [
    ("enrolled student", P, "Members only", 200),
    ("enrolled student", A, "Members only", 200),
    ("enrolled student", D, "Members only", 404),
    ("other student", P, "Members only", 403),
    ("other student", P, "Welcome", 200),
    ("other student", A, "Welcome", 403),
    ("other student", D, "Welcome", 404),
    ("the course's instructor", D, "Members only", 200),
    ("another instructor", D, "Welcome", 404),
    ("another instructor", P, "Members only", 403),
    ("administrator", D, "Members only", 200),
]


@pytest.mark.parametrize(
    ("who", "status", "lesson", "expected"),
    ACCESS_CASES,
    ids=[f"{who}-{status.value.lower()}-{lesson}" for who, status, lesson, _ in ACCESS_CASES],
)
def test_who_may_open_a_lesson(platform, world, signed_in, who, status, lesson, expected):
    course = world.courses[status]
    http = signed_in(world.people[who])
    page = http.get(course.url(platform.service_url, lesson))
    assert page.status_code == expected, page.text[:500]
    if expected == 200:
        assert f'<h1 class="h3 mb-1" id="lesson_title">{lesson}</h1>' in page.text
    if expected == 403:
        assert "Enroll" in page.text or "archived" in page.text
        assert f'href="/services/coursehub/courses/{course.slug}"' in page.text
    if expected == 404:
        assert course.title not in page.text


def test_a_signed_out_visitor_reads_a_preview_and_is_sent_to_sign_in_for_the_rest(
    platform, world, client
):
    course = world.courses[P]
    preview = client.get(course.url(platform.service_url, "Welcome"))
    assert preview.status_code == 200 and "/hub/login" not in str(preview.url)
    assert "Welcome to the course." in preview.text
    response = client.get(course.url(platform.service_url, "Members only"))
    assert "/hub/login" in str(response.url)
    archived = client.get(world.courses[A].url(platform.service_url, "Welcome"))
    assert "/hub/login" in str(archived.url)


def test_unknown_lessons_and_lessons_of_another_course_are_not_found(platform, world, signed_in):
    published, archived = world.courses[P], world.courses[A]
    http = signed_in(world.people["enrolled student"])
    foreign = archived.lessons["Members only"]
    for url in (
        f"{platform.service_url}/learn/{published.slug}/999999",
        f"{platform.service_url}/learn/{published.slug}/{foreign}",
        f"{platform.service_url}/learn/no-such-course-{secrets.token_hex(3)}/{foreign}",
    ):
        response = http.get(url)
        assert response.status_code == 404, url
        assert "There is no such" in response.text
    api = http.get(f"{platform.service_url}/api/learn/{published.slug}/{foreign}/progress")
    assert api.status_code == 404
    assert api.json()["status"] == 404


def test_opening_a_lesson_records_it_for_enrolled_students_only(
    platform, db, make_account, signed_in
):
    instructor, student, visitor = make_account(Role.INSTRUCTOR), make_account(), make_account()
    course = build_course(
        db, instructor, [LessonSpec("One", preview=True), LessonSpec("Two", preview=True)]
    )
    enroll(db, student, course)
    for person in (student, visitor, instructor):
        assert signed_in(person).get(course.url(platform.service_url, "Two")).status_code == 200
    with db() as session:
        rows = session.scalars(
            select(LessonProgress).where(LessonProgress.lesson_id == course.lessons["Two"])
        ).all()
        enrollment = session.scalar(select(Enrollment).where(Enrollment.account_id == student.id))
    assert [row.account_id for row in rows] == [student.id]
    assert rows[0].completed_at is None
    assert enrollment.last_lesson_id == course.lessons["Two"]
    assert enrollment.last_active_at is not None


# -- what the player shows ------------------------------------------------------------------


def test_the_player_shows_each_kind_of_lesson_in_syllabus_order(
    platform, db, make_account, signed_in
):
    instructor, student = make_account(Role.INSTRUCTOR), make_account()
    course = build_course(
        db,
        instructor,
        [
            LessonSpec("Reading", text="# Title\n\nSome **bold** text <script>alert(1)</script>"),
            LessonSpec("Watching", kind=LessonKind.VIDEO, video=True, module="Module two"),
            LessonSpec("Checking", kind=LessonKind.QUIZ, module="Module two"),
            LessonSpec("Computing", kind=LessonKind.NOTEBOOK, notebook=NOTEBOOK_LESSON),
            LessonSpec("Unpublished", kind=LessonKind.NOTEBOOK, module="Module two"),
        ],
    )
    enroll(db, student, course)
    http = signed_in(student)

    reading = http.get(course.url(platform.service_url, "Reading")).text
    assert "<strong>bold</strong>" in reading and "<script>alert" not in reading
    # Modules in order, then their lessons in order.
    titles = re.findall(r'<li class="syllabus-lesson[^"]*"\s+data-lesson-id="(\d+)"', reading)
    order = ["Reading", "Computing", "Watching", "Checking", "Unpublished"]
    assert titles == [str(course.lessons[title]) for title in order]
    assert 'id="next_lesson"' in reading and 'id="previous_lesson"' not in reading

    watching = http.get(course.url(platform.service_url, "Watching")).text
    video_id = re.search(r'<video id="lesson_video"[^>]*src="([^"]+)"', watching)
    assert video_id and re.fullmatch(r"/services/coursehub/media/\d+", video_id.group(1))
    assert 'id="playback_speed"' in watching and 'id="bookmark_moment"' in watching
    assert 'rel="prev"' in watching and 'rel="next"' in watching

    assert "comes with assessments" in http.get(course.url(platform.service_url, "Checking")).text
    assert (
        "no published version yet" in http.get(course.url(platform.service_url, "Unpublished")).text
    )

    computing = http.get(course.url(platform.service_url, "Computing")).text
    frame = re.search(r'<iframe id="lesson_frame"[^>]*>', computing, re.S).group(0)
    assert (
        f'src="/services/coursehub/learn/{course.slug}/{course.lessons["Computing"]}/frame"'
        in frame
    )
    assert 'sandbox="allow-scripts' in frame and "allow-same-origin" not in frame
    assert 'id="lesson_end"' in computing and 'id="mark_complete"' in computing


def test_a_preview_visitor_sees_the_syllabus_but_only_preview_lessons_open(
    platform, db, make_account, signed_in
):
    instructor = make_account(Role.INSTRUCTOR)
    course = build_course(
        db, instructor, [LessonSpec("Free", preview=True), LessonSpec("Paid part")]
    )
    page = signed_in(make_account()).get(course.url(platform.service_url, "Free")).text
    assert "Paid part" in page
    assert f'/learn/{course.slug}/{course.lessons["Paid part"]}"' not in page
    assert "enroll to keep your progress" in page.lower()
    assert 'id="mark_complete"' not in page


# -- the lesson server behind the course service ------------------------------------------


def progress_rows(db, lesson_id: int) -> list[int]:
    with db() as session:
        return list(
            session.scalars(
                select(LessonProgress.account_id).where(LessonProgress.lesson_id == lesson_id)
            )
        )


def test_a_notebook_lesson_is_rendered_by_the_lesson_server_in_a_sandboxed_page(
    platform, lesson_server, db, make_account, signed_in, client
):
    instructor, student, outsider = make_account(Role.INSTRUCTOR), make_account(), make_account()
    course = build_course(
        db, instructor, [LessonSpec("Live", kind=LessonKind.NOTEBOOK, notebook=NOTEBOOK_LESSON)]
    )
    enroll(db, student, course)
    frame_url = course.url(platform.service_url, "Live", "/frame")

    http = signed_in(student)
    assert http.get(course.url(platform.service_url, "Live")).status_code == 200
    assert progress_rows(db, course.lessons["Live"]) == []  # the frame opens a notebook lesson
    frame = http.get(frame_url, timeout=120)
    assert frame.status_code == 200, frame.text[:500]
    assert progress_rows(db, course.lessons["Live"]) == [student.id]
    assert "rendered by the lesson server" in frame.text
    policy = frame.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox allow-scripts") and "allow-same-origin" not in policy
    assert "set-cookie" not in frame.headers
    kernel_id = re.search(r'"kernelId": "([0-9a-f-]{36})"', frame.text).group(1)

    # The page's assets are public; nothing else of Voilà is reachable through the service.
    assert client.get(f"{platform.service_url}/voila/voila/static/voila.js").status_code == 200
    for path in ("voila/render/", "voila/tree", "api/kernels", "coursehub/pools"):
        assert client.get(f"{platform.service_url}/voila/{path}").status_code == 404, path
    # Neither the frame nor the kernels are open to those who may not open the lesson.
    assert signed_in(outsider).get(frame_url).status_code == 403
    assert "/hub/login" in str(client.get(frame_url).url)
    # The kernel handed to the student's page answers; a made-up kernel does not.
    model = client.get(f"{platform.service_url}/voila/api/kernels/{kernel_id}")
    assert model.status_code == 200 and model.json()["id"] == kernel_id
    made_up = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"{platform.service_url}/voila/api/kernels/{made_up}").status_code == 404
    shutdown = client.post(f"{platform.service_url}/voila/voila/api/shutdown/{made_up}")
    assert shutdown.status_code == 404
    # Closing the page stops its kernel and ends its ticket.
    assert (
        client.post(f"{platform.service_url}/voila/voila/api/shutdown/{kernel_id}").status_code
        == 204
    )
    assert client.get(f"{platform.service_url}/voila/api/kernels/{kernel_id}").status_code == 404


def test_the_lesson_server_refuses_requests_without_its_token(platform, lesson_server):
    port = platform.env["COURSEHUB_LESSON_PORT"]
    for path in ("voila/render/1/1/v1.ipynb", "coursehub/pools", "api/kernels"):
        response = httpx.get(f"http://127.0.0.1:{port}/{path}", follow_redirects=False)
        assert response.status_code in (302, 403, 404), path
        assert "kernelId" not in response.text


# -- in a browser ---------------------------------------------------------------------------


@pytest.mark.browser
def test_a_notebook_lesson_frame_sizes_itself_once_and_stays_put(
    platform, lesson_server, db, make_account, page
):
    """Watched for 30 s as a student would, nothing touched: once the lesson has rendered,
    the frame keeps its height and the buttons below it stay where they are."""
    instructor, student = make_account(Role.INSTRUCTOR), make_account()
    course = build_course(
        db,
        instructor,
        [
            LessonSpec("Summarising data", kind=LessonKind.NOTEBOOK, notebook=slider_notebook()),
            LessonSpec("Afterwards", text="The next lesson."),
        ],
    )
    give_course_files(platform.data_dir, course)
    enroll(db, student, course)
    sign_in(page, platform, student.email)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(course.url(platform.service_url, "Summarising data"), wait_until="domcontentloaded")
    report = page.frame_locator("#lesson_frame").get_by_text(
        re.compile(r"Days reaching 20\.0°C: \d+ of 30")
    )
    expect(report).to_be_visible(timeout=90_000)
    time.sleep(1)  # the widget's own first layout

    def measured() -> tuple[float, float]:
        frame = page.locator("#lesson_frame").bounding_box()
        button = page.locator("#next_lesson").bounding_box()
        assert frame is not None and button is not None
        return frame["height"], button["y"]

    first = measured()
    assert first[0] > 300, f"the frame is {first[0]}px tall: the lesson is cut off"
    seen = {first}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen.add(measured())
        time.sleep(0.25)
    assert seen == {first}, f"the frame or the buttons moved after rendering: {sorted(seen)}"


def failing_notebook() -> dict:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Reading the data"},
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "open('data/missing.csv').read()",
        },
        {"cell_type": "markdown", "metadata": {}, "source": "The end of the lesson."},
    ]
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


@pytest.mark.browser
def test_a_lesson_whose_cell_raises_says_so_and_is_never_marked_read(
    platform, lesson_server, db, make_account, page
):
    instructor, student = make_account(Role.INSTRUCTOR), make_account()
    course = build_course(
        db,
        instructor,
        [LessonSpec("Reading data", kind=LessonKind.NOTEBOOK, notebook=failing_notebook())],
    )
    enroll(db, student, course)
    lesson_id = course.lessons["Reading data"]
    sign_in(page, platform, student.email)
    page.goto(course.url(platform.service_url, "Reading data"), wait_until="domcontentloaded")

    problem = page.locator("#lesson_problem")
    expect(problem).to_be_visible(timeout=90_000)
    expect(problem).to_contain_text("could not run")
    expect(problem.get_by_role("button", name="Try again")).to_be_visible()
    page.locator("#lesson_end").scroll_into_view_if_needed()
    time.sleep(4)  # longer than the dwell that marks a lesson read
    mark = page.locator(f'.syllabus-lesson[data-lesson-id="{lesson_id}"] .lesson-mark')
    expect(mark).to_have_text("")
    expect(page.locator("#lesson_state")).to_be_hidden()
    with db() as session:
        row = session.scalar(
            select(LessonProgress).where(
                LessonProgress.account_id == student.id, LessonProgress.lesson_id == lesson_id
            )
        )
        assert row is None or row.completed_at is None


@pytest.mark.browser
def test_a_student_uses_a_live_notebook_lesson_and_reads_it_to_the_end(
    platform, lesson_server, db, make_account, page, browser, tmp_path
):
    instructor, student = make_account(Role.INSTRUCTOR), make_account()
    course = build_course(
        db,
        instructor,
        [
            LessonSpec("Summarising data", kind=LessonKind.NOTEBOOK, notebook=slider_notebook()),
            LessonSpec("Afterwards", text="The next lesson."),
        ],
    )
    give_course_files(platform.data_dir, course)
    enroll(db, student, course)
    lesson_id = course.lessons["Summarising data"]
    sign_in(page, platform, student.email)
    page.goto(course.url(platform.service_url, "Summarising data"), wait_until="domcontentloaded")

    frame = page.frame_locator("#lesson_frame")
    report = frame.get_by_text(re.compile(r"Days reaching 20\.0°C: \d+ of 30"))
    expect(report).to_be_visible(timeout=90_000)
    before = report.inner_text()
    handle = frame.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(6):  # five degrees warmer: fewer days reach it
        handle.press("ArrowRight")
    changed = frame.get_by_text(re.compile(r"Days reaching 23\.0°C: \d+ of 30"))
    expect(changed).to_be_visible(timeout=30_000)
    assert changed.inner_text() != before

    mark = page.locator(f'.syllabus-lesson[data-lesson-id="{lesson_id}"] .lesson-mark')
    expect(mark).to_have_text("")
    page.locator("#lesson_end").scroll_into_view_if_needed()
    expect(mark).to_have_text("✓", timeout=20_000)
    expect(page.locator("#lesson_state")).to_be_visible()
    with db() as session:
        row = session.scalar(
            select(LessonProgress).where(
                LessonProgress.account_id == student.id, LessonProgress.lesson_id == lesson_id
            )
        )
        assert row is not None and row.completed_at is not None

    # Leaving the lesson stops its kernel (the player's beacon, with the kernel's ticket).
    config = page.frame_locator("#lesson_frame").locator("#jupyter-config-data")
    kernel_id = json.loads(config.text_content())["kernelId"]
    kernel_url = f"{platform.service_url}/voila/api/kernels/{kernel_id}"
    assert httpx.get(kernel_url).status_code == 200
    page.locator("#next_lesson").click()
    page.wait_for_url(re.compile(rf"/learn/{course.slug}/{course.lessons['Afterwards']}$"))
    deadline = time.monotonic() + 20
    while httpx.get(kernel_url).status_code != 404:
        assert time.monotonic() < deadline, "the kernel was not stopped when the student left"
        time.sleep(0.5)

    phone = browser.new_context(
        viewport={"width": 375, "height": 740}, storage_state=page.context.storage_state()
    )
    try:
        small = phone.new_page()
        small.goto(
            course.url(platform.service_url, "Summarising data"), wait_until="domcontentloaded"
        )
        expect(small.locator("#syllabus")).to_be_hidden()
        expect(small.locator("#syllabus_toggle")).to_be_visible()
        expect(
            small.frame_locator("#lesson_frame").get_by_text("Lesson 4 · Summarising data")
        ).to_be_visible(timeout=90_000)
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page is {width}px wide at 375px"
        small.screenshot(path=str(tmp_path / "player-375px.png"))
        small.locator("#syllabus_toggle").click()
        expect(small.locator("#syllabus")).to_be_visible()
        expect(small.locator("#syllabus").get_by_role("link", name="Afterwards")).to_be_visible()
    finally:
        phone.close()
