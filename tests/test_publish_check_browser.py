"""The publish check in Chromium: an instructor publishes a notebook lesson whose cell fails
from the lesson page, sees the failing cell named with its traceback and nothing published,
then publishes it anyway and finds the warning on the course's teaching page."""

from __future__ import annotations

import os

import nbformat
import pytest
from playwright.sync_api import Page, expect

from coursehub.hub.constants import Role
from tests.course_builder import LessonPlan, make_course, unique_word
from tests.player_data import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root"),
]
CHECK_TIMEOUT_MS = 240_000  # a kernel in a sandbox on a shared, busy test machine


def person(browser, platform, account) -> Page:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
    context.set_default_timeout(20_000)
    page = context.new_page()
    sign_in(page, platform, account.email)
    return page


def test_a_failing_lesson_is_shown_to_its_author_and_published_only_anyway(
    platform, browser, make_account, database_url, tmp_path
):
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url,
        instructor,
        title=f"Rainfall {unique_word()}",
        modules={"Week 1": [LessonPlan("Monthly rainfall", publish=False)]},
    )
    book = nbformat.v4.new_notebook()
    book.cells = [
        nbformat.v4.new_markdown_cell("# Monthly rainfall"),
        nbformat.v4.new_code_cell("months = 12"),
        nbformat.v4.new_code_cell("print(months / 0)"),
    ]
    path = tmp_path / "rainfall.ipynb"
    path.write_text(nbformat.writes(book))
    page = person(browser, platform, instructor)
    page.goto(f"{platform.service_url}/teach/lessons/{course.lesson_ids[0]}")

    page.get_by_label("Notebook file").set_input_files(path)
    with page.expect_navigation(timeout=CHECK_TIMEOUT_MS):
        page.get_by_role("button", name="Publish notebook").click()
    report = page.locator("#publish_check")
    expect(report.locator("[data-role=problem]")).to_contain_text(
        "Cell 3 (`print(months / 0)`) raised ZeroDivisionError."
    )
    expect(report.locator("tr[data-cell='3'] [data-role=traceback]")).to_contain_text(
        "division by zero"
    )
    expect(report.locator("tr[data-cell='2']")).to_contain_text("ran")
    expect(page.locator("#no_versions")).to_be_visible()

    page.get_by_label("Notebook file").set_input_files(path)
    page.get_by_label("Publish anyway if the check fails").check()
    with page.expect_navigation(timeout=CHECK_TIMEOUT_MS):
        page.get_by_role("button", name="Publish notebook").click()
    expect(page.locator("#done_note")).to_contain_text("Version 1 is published")
    expect(page.locator("#versions tr[data-version='1'] [data-role=check]")).to_contain_text(
        "failed, published anyway"
    )

    page.locator("#back_to_course").click()
    expect(page.locator("#failing_checks")).to_contain_text("Monthly rainfall")
    expect(page.locator("#failing_checks")).to_contain_text("ZeroDivisionError")
