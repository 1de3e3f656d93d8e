"""In Chromium: the time zone a person chose in their profile is the one CourseHub's pages
show times in, whatever the browser's own zone is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, expect

from coursehub.services.models import Notification
from tests.test_browser_accounts import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True, scope="module")
def patient_expectations():  # type: ignore[no-untyped-def]
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=None)


def test_a_person_in_new_york_who_chose_tokyo_sees_tokyo_times(
    platform, browser: Browser, make_account, db
):
    student = make_account()
    with db() as session:
        session.add(
            Notification(
                account_id=student.id,
                kind="support_reply",
                payload={"title": "Your support request has an answer"},
                created_at=datetime(2026, 12, 7, 12, 0, tzinfo=UTC),
            )
        )
        session.commit()
    context = browser.new_context(timezone_id="America/New_York", locale="en-US")
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        sign_in(page, platform, student.email)
        page.goto(f"{platform.service_url}/notifications")
        # No zone chosen yet: the browser's own (12:00 UTC is 7 AM in New York).
        expect(page.locator("#notifications_list time")).to_have_text("Dec 7, 2026, 7:00 AM")

        page.goto(f"{platform.service_url}/account/profile")
        page.locator("#time_zone_input").select_option("Asia/Tokyo")
        page.locator("#profile_submit").click()
        expect(page.get_by_text("Your profile is saved.")).to_be_visible()

        page.goto(f"{platform.service_url}/notifications")
        expect(page.locator("body")).to_have_attribute("data-time-zone", "Asia/Tokyo")
        expect(page.locator("#notifications_list time")).to_have_text("Dec 7, 2026, 9:00 PM")
        # Date fields of forms (an assignment's due date) read and write the same zone.
        assert page.evaluate("CourseHub.toZonedInput('2026-12-07T12:00:00Z')") == (
            "2026-12-07T21:00"
        )
        assert page.evaluate("CourseHub.fromZonedInput('2026-12-07T21:00')") == (
            "2026-12-07T12:00:00.000Z"
        )
    finally:
        context.close()
