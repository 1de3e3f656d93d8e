"""In Chromium: a student asks for support from the help pages with a screenshot; the request
reaches the administrators' queue; an administrator answers; the answer reaches the student
through the notification bell."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from coursehub.hub.constants import Role
from tests.conftest import PASSWORD
from tests.test_browser_accounts import sign_in
from tests.test_profile import tiny_png

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True, scope="module")
def patient_expectations():  # type: ignore[no-untyped-def]
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=None)


def test_a_support_request_reaches_the_queue_and_the_answer_reaches_the_person(
    platform, page: Page, browser: Browser, make_account, tmp_path
):
    student, admin = make_account(), make_account(Role.ADMIN)
    screenshot = tmp_path / "screen.png"
    screenshot.write_bytes(tiny_png())
    sign_in(page, platform, student.email)
    page.locator("#nav_help").click()
    page.locator("#help_query").fill("screenshot")
    page.locator("#help_search").click()
    expect(page.locator("#help_results")).to_contain_text("Getting support")
    page.locator("#support_link").click()
    page.locator("#subject_input").fill("My quiz timer froze")
    page.locator("#message_input").fill("The countdown stopped at 3:12.")
    page.locator("#page_link_input").fill(f"{platform.url}/services/coursehub/courses")
    page.locator("#screenshot_input").set_input_files(str(screenshot))
    page.locator("#support_submit").click()
    expect(page.locator("#ticket_sent")).to_be_visible()
    expect(page.locator("#ticket_status")).to_have_text("open")

    staff_context = browser.new_context(viewport={"width": 1280, "height": 800})
    staff = staff_context.new_page()
    sign_in(staff, platform, admin.email, PASSWORD)
    staff.goto(f"{platform.service_url}/admin/support?status=open")
    staff.get_by_role("link", name="My quiz timer froze").click()
    expect(staff.locator("#ticket_message")).to_have_text("The countdown stopped at 3:12.")
    expect(staff.locator("#ticket_screenshot")).to_be_visible()
    staff.locator("#reply_input").fill("Thanks! Reload the page: the timer is kept on the server.")
    staff.locator("#reply_submit").click()
    expect(staff.locator("#ticket_status")).to_have_text("answered")
    staff_context.close()

    page.goto(f"{platform.service_url}/dashboard")
    expect(page.locator("#notification_count")).to_be_visible()
    page.locator("#notification_bell_button").click()
    item = page.locator("#notification_items").get_by_text(re.compile("Support answered"))
    expect(item).to_be_visible()
    item.click()
    expect(page.locator("#ticket_replies")).to_contain_text("the timer is kept on the server")
    expect(page.locator("#ticket_status")).to_have_text("answered")
