"""Sign in with Google, end to end, against a real OpenID Connect provider run on this machine
(tests/google_provider.py: oidc-provider from npm standing in for Google), with a CourseHub of
this module's own configured with the provider's issuer and CourseHub's client id and secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.models import Account
from tests.google_provider import (
    GoogleAccount,
    GoogleHub,
    accounts_with_email,
    count_accounts,
    google_hub,
    kept_on_this_machine,
    sign_in_with_google,
    who_am_i,
)

# An instructor who registered with a password and now tries the Google button.
INES = GoogleAccount(
    "108204417523301117501",
    "ines.okafor@coursehub.example",
    "Ines Okafor",
    "ines google passphrase",
)
# Someone new to CourseHub, whose Google account vouches for their email.
NOAH = GoogleAccount(
    "108204417523301117502",
    "noah.newcomer@coursehub.example",
    "Noah Newcomer",
    "noah google passphrase",
)
# Someone whose Google account has an email address Google has not verified.
UMA = GoogleAccount(
    "108204417523301117503",
    "uma.unverified@coursehub.example",
    "Uma Unverified",
    "uma google passphrase",
    email_verified=False,
)
PEOPLE = [INES, NOAH, UMA]


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str
) -> Iterator[GoogleHub]:
    with google_hub(tmp_path_factory, database_url, redis_url, PEOPLE) as running:
        yield running


@pytest.fixture
def browser_page(page: Page, hub: GoogleHub) -> Iterator[Page]:
    with kept_on_this_machine(page) as kept:
        yield kept


# -- the stories -------------------------------------------------------------------------------


@pytest.mark.browser
def test_an_instructor_with_a_password_account_signs_in_with_google_as_the_same_person(
    hub, browser_page, db
):
    with db() as session:
        ines = Account(
            username="instructor-ines",
            email=INES.email,
            name=INES.name,
            password_hash=hash_password("ines coursehub passphrase"),
            role=Role.INSTRUCTOR,
        )
        session.add(ines)
        session.commit()
    people_before = count_accounts(db)

    sign_in_with_google(browser_page, hub, INES)

    # An instructor lands on Teaching.
    expect(browser_page).to_have_url(re.compile(rf"^{re.escape(hub.service_url)}/teach"))
    expect(browser_page.locator("h1")).to_have_text("My courses")
    expect(browser_page.locator("#signed_in_as")).to_have_text("instructor-ines")
    me = who_am_i(browser_page, hub)
    assert me["username"] == "instructor-ines"
    assert me["role"] == "INSTRUCTOR"
    [linked] = accounts_with_email(db, INES.email)
    assert linked.id == ines.id
    assert linked.google_subject == INES.sub
    assert linked.google_email == INES.email
    assert linked.last_login_at is not None
    assert count_accounts(db) == people_before


@pytest.mark.browser
def test_a_newcomer_with_a_verified_google_email_gets_a_new_student_account(hub, browser_page, db):
    assert accounts_with_email(db, NOAH.email) == []
    people_before = count_accounts(db)

    sign_in_with_google(browser_page, hub, NOAH)

    expect(browser_page).to_have_url(re.compile(rf"^{re.escape(hub.service_url)}/dashboard"))
    expect(browser_page.locator("#no_courses")).to_be_visible()
    [noah] = accounts_with_email(db, NOAH.email)
    assert noah.role is Role.STUDENT
    assert noah.google_subject == NOAH.sub
    assert noah.google_email == NOAH.email
    assert noah.name == NOAH.name
    assert noah.password_hash is None
    assert count_accounts(db) == people_before + 1
    me = who_am_i(browser_page, hub)
    assert me["username"] == noah.username
    assert me["role"] == "STUDENT"
    expect(browser_page.locator("#signed_in_as")).to_have_text(noah.username)


@pytest.mark.browser
def test_a_google_account_with_an_unverified_email_is_refused_and_nothing_is_created(
    hub, browser_page, db
):
    people_before = count_accounts(db)

    sign_in_with_google(browser_page, hub, UMA)

    expect(browser_page).to_have_url(re.compile(rf"^{re.escape(hub.url)}/hub/oauth_callback"))
    expect(browser_page.locator("body")).to_contain_text(
        "Your Google account's email address is not verified"
    )
    expect(browser_page.locator("body")).to_contain_text("sign in with your password")
    assert accounts_with_email(db, UMA.email) == []
    with db() as session:
        assert session.scalar(select(Account).where(Account.google_subject == UMA.sub)) is None
    assert count_accounts(db) == people_before
    # And they are not signed in: CourseHub's pages send them to the sign-in page.
    browser_page.goto(f"{hub.service_url}/dashboard")
    expect(browser_page).to_have_url(re.compile(rf"^{re.escape(hub.url)}/hub/login"))


def test_without_google_configured_the_sign_in_page_offers_no_google_button(platform):
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        page = client.get(f"{platform.url}/hub/login")
    assert page.status_code == 200
    assert 'id="login_submit"' in page.text
    assert 'id="google_login"' not in page.text


def test_without_google_configured_settings_offers_no_google_link(
    platform, make_account, signed_in
):
    client = signed_in(make_account())
    settings = client.get(f"{platform.service_url}/account/settings")
    assert settings.status_code == 200
    assert "No Google identity is linked" in settings.text
    assert 'id="link_google"' not in settings.text
    assert client.get(f"{platform.url}/hub/coursehub/link-google").status_code == 404
