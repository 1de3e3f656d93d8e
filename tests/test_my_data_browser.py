"""In Chromium: a person changes their email (confirming the link sent to the new address),
then their password, and downloads everything CourseHub holds about them."""

from __future__ import annotations

import io
import json
import re
import secrets
import zipfile

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.platform import sign_in as sign_in_over_http
from tests.test_browser_accounts import newest_mail_to, sign_in

pytestmark = pytest.mark.browser
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(autouse=True, scope="module")
def patient_expectations():  # type: ignore[no-untyped-def]
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=None)


def test_a_person_changes_email_and_password_and_downloads_their_data(
    platform, page: Page, make_account
):
    student = make_account()
    new_email = f"renamed-{secrets.token_hex(4)}@coursehub.example"
    sign_in(page, platform, student.email)

    page.locator("#nav_settings").click()
    page.locator("#new_email_input").fill(new_email)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#email_submit").click()
    expect(page.locator("#email_notice")).to_contain_text("We sent a link to the new address")
    expect(page.locator("#pending_email")).to_contain_text(new_email)
    mail = newest_mail_to(platform, new_email)
    link = re.search(r"https?://\S+/account/email/\S+", mail.get_content()).group(0)
    page.goto(link)
    expect(page.locator("#confirm_new_email")).to_have_text(new_email)
    page.locator("#confirm_email_submit").click()
    expect(page.locator("#done_heading")).to_have_text("Your email address has changed")

    page.locator("#nav_settings").click()
    expect(page.locator("#current_email")).to_have_text(new_email)
    page.locator("#change_password_link").click()
    page.locator("#current_password_input").fill(PASSWORD)
    page.locator("#password_input").fill(NEW_PASSWORD)
    page.locator("#password_submit").click()
    expect(page).to_have_url(re.compile(r"/services/coursehub/dashboard$"))

    page.locator("#nav_settings").click()
    page.locator("#my_data_link").click()
    page.locator("#export_submit").click()
    expect(page.locator("#export_notice")).to_contain_text("preparing your data")
    download_link = page.locator("a.export-download").first
    for _ in range(120):  # the worker builds it; the page shows it once it is ready
        if download_link.count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    with page.expect_download() as arriving:
        download_link.click()
    archive = zipfile.ZipFile(io.BytesIO(open(arriving.value.path(), "rb").read()))
    data = json.loads(archive.read("my-data.json"))
    assert data["account"]["email"] == new_email
    assert "password_hash" not in data["account"]

    # Only the new address and the new password sign in now.
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        assert "/hub/login" in str(
            sign_in_over_http(browser, platform.url, new_email, PASSWORD).url
        )
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        signed = sign_in_over_http(browser, platform.url, new_email, NEW_PASSWORD)
        assert "/hub/login" not in str(signed.url)
