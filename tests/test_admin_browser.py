"""The admin area in Chromium, each a whole story: a course review (the instructor submits, the
admin returns it with a comment, the instructor fixes it and submits again, the admin
approves), suspending a student (their open page is signed out, their server stops), a CSV
import of students, and a renamed platform showing on the pages."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from coursehub.hub.constants import Role
from coursehub.services.models import CourseStatus
from tests.admin_helpers import site_settings
from tests.course_builder import change_course, make_course, unique_word
from tests.player_data import sign_in
from tests.test_notebook_servers import wait_for_lab

pytestmark = pytest.mark.browser


def second_page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    return context, context.new_page()


def hub_servers(platform, username: str) -> dict:
    token = json.loads((platform.data_dir / "secrets.json").read_text())["service_token"]
    answer = httpx.get(
        f"{platform.url}/hub/api/users/{username}", headers={"Authorization": f"token {token}"}
    )
    return answer.json().get("servers", {}) if answer.status_code == 200 else {}


def test_an_instructor_and_an_admin_take_a_course_through_review(
    platform, make_account, signed_in, page, browser, database_url
):
    teacher, admin = make_account(Role.INSTRUCTOR), make_account(Role.ADMIN)
    title = f"Reviewed {unique_word()}"
    course = make_course(database_url, teacher, title=title, status=CourseStatus.DRAFT)
    with site_settings(signed_in(admin), platform.service_url, course_approval=True):
        sign_in(page, platform, teacher.email)
        page.goto(f"{platform.service_url}/teach/courses/{course.id}/review")
        page.locator("#review_note").fill("First course of mine.")
        page.locator("#submit_review").click()
        expect(page.locator("#review_done")).to_contain_text("Submitted")

        context, boss = second_page(browser)
        sign_in(boss, platform, admin.email)
        boss.goto(f"{platform.service_url}/admin")
        boss.locator("#admin_courses_link").click()
        boss.locator("#review_queue a", has_text=title).click()
        expect(boss.locator("#review_history")).to_contain_text("First course of mine.")
        boss.locator("#return_comment").fill("Please write a summary for the catalog.")
        boss.locator("#return_button").click()
        expect(boss.locator("#review_done")).to_contain_text("went back to its instructor")

        review = f"{platform.service_url}/teach/courses/{course.id}/review"
        page.goto(review)
        expect(page.locator("#review_state")).to_contain_text("Returned with comments")
        expect(page.locator("#review_history")).to_contain_text("Please write a summary")
        change_course(database_url, teacher, course, summary="Numbers, plots and patience.")
        page.locator("#submit_review").click()
        expect(page.locator("#review_state")).to_contain_text("Waiting")

        boss.goto(f"{platform.service_url}/admin/courses/{course.id}")
        expect(boss.locator("#review_summary")).to_have_text("Numbers, plots and patience.")
        boss.locator("#approve_button").click()
        expect(boss.locator("#review_done")).to_contain_text("approved and published")
        expect(boss.locator("#course_status")).to_have_text("Published")
        context.close()

        page.goto(review)
        expect(page.locator("#course_status")).to_have_text("Published")
        page.goto(f"{platform.service_url}/notifications")
        expect(page.locator("main")).to_contain_text(f"{title} was approved")


def test_a_suspended_student_is_signed_out_and_their_server_stops(
    platform, make_account, signed_in, page, browser
):
    admin, student = make_account(Role.ADMIN), make_account()
    lab = signed_in(student)
    started = lab.post(
        f"{platform.url}/hub/api/users/{student.username}/server",
        headers={"X-XSRFToken": lab.cookies.get("_xsrf", path="/hub/")},
    )
    assert started.status_code in (201, 202), started.text
    wait_for_lab(lab, platform, student.username)
    assert hub_servers(platform, student.username)

    sign_in(page, platform, student.email)
    page.goto(f"{platform.service_url}/courses")
    expect(page.locator("#signed_in_as")).to_be_visible()

    context, boss = second_page(browser)
    sign_in(boss, platform, admin.email)
    boss.goto(f"{platform.service_url}/admin/people?q={student.username}")
    boss.locator(f'tr[data-username="{student.username}"] a').click()
    boss.locator("#suspend_reason").fill("Posting other people's answers")
    boss.locator("#suspend_button").click()
    expect(boss.locator("#person_done")).to_contain_text("is suspended")
    expect(boss.locator("#person_suspended")).to_be_visible()
    context.close()

    page.reload()
    expect(page.locator("main")).to_contain_text("suspended")
    expect(page.locator("#signed_in_as")).to_have_count(0)
    deadline = time.monotonic() + 60
    while hub_servers(platform, student.username) and time.monotonic() < deadline:
        time.sleep(1)
    assert hub_servers(platform, student.username) == {}


def test_an_admin_imports_students_from_a_csv_file(
    platform, make_account, page, database_url, tmp_path: Path
):
    admin = make_account(Role.ADMIN)
    course = make_course(
        database_url, make_account(Role.INSTRUCTOR), title=f"Cohort {unique_word()}"
    )
    first, second = (f"{unique_word()}@coursehub.example" for _ in range(2))
    roster = tmp_path / "roster.csv"
    roster.write_text(f"name,email\nAda Byron,{first}\nAlan Turing,{second}\nNo One,nobody\n")

    sign_in(page, platform, admin.email)
    page.goto(f"{platform.service_url}/admin/courses/{course.id}/import")
    page.locator("#import_file").set_input_files(str(roster))
    page.locator("#import_preview_button").click()
    expect(page.locator("#import_summary")).to_contain_text("2 new accounts")
    expect(page.locator('#import_preview tr[data-action="malformed"]')).to_contain_text("nobody")
    expect(page.locator("#import_apply")).to_have_count(0)  # nothing while a row is refused

    page.locator("#import_text").fill(f"name,email\nAda Byron,{first}\nAlan Turing,{second}\n")
    page.locator("#import_preview_button").click()
    expect(page.locator("#import_summary")).to_contain_text("0 rows refused")
    page.locator("#import_apply").click()
    expect(page.locator("#import_done")).to_contain_text("2 new accounts")
    page.goto(f"{platform.service_url}/admin/people?course={course.id}")
    expect(page.locator("#people_total")).to_have_text("2")


def test_a_renamed_platform_shows_on_an_open_page(platform, make_account, signed_in, page, browser):
    admin, student = make_account(Role.ADMIN), make_account()
    sign_in(page, platform, student.email)
    expect(page.locator("#platform_name")).to_have_text("CourseHub")
    name = f"Quasar Academy {unique_word()}"

    context, boss = second_page(browser)
    sign_in(boss, platform, admin.email)
    try:
        boss.goto(f"{platform.service_url}/admin/settings")
        boss.locator("#setting_platform_name").fill(name)
        boss.locator("#settings_save").click()
        expect(boss.locator("#settings_saved")).to_contain_text("Platform name")
        expect(boss.locator("#platform_name")).to_have_text(name)

        page.reload()
        expect(page.locator("#platform_name")).to_have_text(name)
    finally:
        context.close()
        with site_settings(signed_in(admin), platform.service_url):
            pass
    page.reload()
    expect(page.locator("#platform_name")).to_have_text("CourseHub")
