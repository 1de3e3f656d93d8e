"""A student's share of lesson kernels in Chromium: the same lesson opened in a second tab runs
on the same kernel, its widgets live; a third lesson while two run says so in the player, with
"Try again" that works once a lesson is closed."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from coursehub.hub.constants import Role
from coursehub.services.models import LessonKind
from tests.player_data import (
    LessonSpec,
    build_course,
    enroll,
    give_course_files,
    notebook,
    sign_in,
    slider_notebook,
)


@pytest.fixture(scope="module")
def lesson_server(platform) -> None:
    response = httpx.get(f"{platform.service_url}/voila/voila/static/voila.js", timeout=60)
    assert response.status_code == 200, response.text[:300]


def kernel_in(page) -> str:
    config = page.frame_locator("#lesson_frame").locator("#jupyter-config-data")
    return json.loads(config.text_content())["kernelId"]


@pytest.mark.browser
def test_a_student_reopens_a_lesson_in_a_second_tab_and_a_third_lesson_waits_its_turn(
    platform, lesson_server, db, make_account, page
):
    instructor, student = make_account(Role.INSTRUCTOR), make_account()
    course = build_course(
        db,
        instructor,
        [
            LessonSpec("Summarising data", LessonKind.NOTEBOOK, notebook=slider_notebook()),
            LessonSpec("Counting", LessonKind.NOTEBOOK, notebook=notebook("print('counted')")),
            LessonSpec("Plotting", LessonKind.NOTEBOOK, notebook=notebook("print('plotted')")),
        ],
    )
    give_course_files(platform.data_dir, course)
    enroll(db, student, course)
    sign_in(page, platform, student.email)
    report = re.compile(r"Days reaching 20\.0°C: \d+ of 30")

    page.goto(course.url(platform.service_url, "Summarising data"))
    expect(page.frame_locator("#lesson_frame").get_by_text(report)).to_be_visible(timeout=90_000)
    second = page.context.new_page()
    second.goto(course.url(platform.service_url, "Summarising data"))
    frame = second.frame_locator("#lesson_frame")
    expect(frame.get_by_text(report)).to_be_visible(timeout=60_000)
    assert kernel_in(second) == kernel_in(page)  # the same kernel, not one more
    handle = frame.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(6):
        handle.press("ArrowRight")
    expect(frame.get_by_text(re.compile(r"Days reaching 23\.0°C: \d+ of 30"))).to_be_visible(
        timeout=30_000
    )

    # Leaving the lesson in the second tab keeps the kernel the first tab still uses.
    second.goto(course.url(platform.service_url, "Counting"))
    expect(second.frame_locator("#lesson_frame").get_by_text("counted")).to_be_visible(
        timeout=90_000
    )
    shared = f"{platform.service_url}/voila/api/kernels/{kernel_in(page)}"
    assert httpx.get(shared).status_code == 200

    # Two lessons run: a third waits, and says so.
    third = page.context.new_page()
    third.goto(course.url(platform.service_url, "Plotting"))
    problem = third.locator("#lesson_problem")
    expect(problem).to_be_visible(timeout=30_000)
    expect(problem).to_contain_text("as many notebook lessons running as one person may")

    page.goto(f"{platform.service_url}/courses")  # the first tab leaves its lesson
    deadline = time.monotonic() + 20
    while httpx.get(shared).status_code != 404:
        assert time.monotonic() < deadline, "the kernel nobody uses was not stopped"
        time.sleep(0.5)
    third.locator("#lesson_retry").click()
    expect(third.frame_locator("#lesson_frame").get_by_text("plotted")).to_be_visible(
        timeout=90_000
    )
    expect(problem).to_be_hidden()
    for tab in (third, second):
        tab.goto(f"{platform.service_url}/courses")
