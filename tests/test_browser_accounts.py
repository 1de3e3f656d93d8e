"""Accounts in a real browser: people register, sign in and out, reset a forgotten password,
administer roles, are refused pages above their role, and use CourseHub on a phone."""

from __future__ import annotations

import email
import email.policy
import re
import secrets
import time
from email.message import EmailMessage

import pytest
from playwright.sync_api import Page, expect

from coursehub.hub.constants import Role
from coursehub.services.models import Account
from tests.conftest import PASSWORD, account_named

pytestmark = pytest.mark.browser

COURSES_URL = re.compile(r"/services/coursehub/courses$")
DASHBOARD_URL = re.compile(r"/services/coursehub/dashboard$")
LOGIN_URL = re.compile(r"/hub/login(\?.*)?$")


@pytest.fixture(autouse=True, scope="module")
def patient_expectations():  # type: ignore[no-untyped-def]
    """Wait as long as the pages' own timeout: sign-in hashes passwords on a shared machine."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=None)


def sign_in(page: Page, platform, login: str, password: str = PASSWORD) -> None:
    """Fill the hub's sign-in form and land on My learning (the hub's default page)."""
    page.goto(f"{platform.url}/hub/login")
    page.locator("#username_input").fill(login)
    page.locator("#password_input").fill(password)
    page.locator("#login_submit").click()
    expect(page).to_have_url(DASHBOARD_URL)
    expect(page.get_by_role("heading", name="My learning", exact=True)).to_be_visible()


def newest_mail_to(platform, address: str, timeout: float = 15) -> EmailMessage:
    """The newest mail to ``address`` in the outbox; mail is written in the background."""
    deadline = time.monotonic() + timeout
    while True:
        for path in reversed(platform.outbox()):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == address:
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail to {address} in the outbox")
        time.sleep(0.2)


def test_a_visitor_registers_and_lands_signed_in_then_signs_out(platform, page, db):
    page.goto(f"{platform.url}/hub/login")
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/services/coursehub/register$"))
    # Every password rule is said before anything fails.
    rules = page.locator("#password_rules")
    expect(rules).to_contain_text("At least 10 characters")
    expect(rules).to_contain_text("not a common password")
    expect(rules).to_contain_text("part of your email before the @")

    # An empty form names every field that is missing, not only the first.
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#name_error")).to_have_text("Tell us your name.")
    expect(page.locator("#email_error")).to_have_text("Enter your email address.")
    expect(page.locator("#password_error")).to_have_text("Choose a password.")

    address = f"ada-{secrets.token_hex(3)}@coursehub.example"
    page.get_by_label("Your name").fill("Ada Visitor")
    page.get_by_label("Email").fill(address)
    page.get_by_label("Password").fill("a long enough secret")
    page.get_by_role("button", name="Create account").click()

    # Signed in at once, on My learning: nothing to type again.
    expect(page).to_have_url(DASHBOARD_URL)
    expect(page.get_by_role("heading", name="My learning", exact=True)).to_be_visible()
    account = account_named(db, address)
    assert account is not None and account.role is Role.STUDENT
    expect(page.locator("#signed_in_as")).to_have_text(account.username)
    # The ticket that signed this browser in is gone with its cookie.
    assert not [c for c in page.context.cookies() if c["name"] == "coursehub-welcome"]

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_role("heading", name="Sign in to CourseHub")).to_be_visible()

    page.goto(f"{platform.service_url}/dashboard")
    expect(page).to_have_url(LOGIN_URL)
    expect(page.locator("#login_submit")).to_be_visible()
    # The catalog is public: signed out, it offers to sign in instead of showing a name.
    page.goto(f"{platform.service_url}/courses")
    expect(page).to_have_url(COURSES_URL)
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#signed_in_as")).to_have_count(0)


def role_of(db, account: Account) -> Role:
    with db() as session:
        return session.get(Account, account.id).role


def test_an_admin_opens_the_hub_admin_panel_and_promotes_a_student(
    platform, page, make_account, signed_in, db
):
    admin, student = make_account(Role.ADMIN), make_account(Role.STUDENT)
    signed_in(student)  # the student has signed in once, so the hub knows them too
    sign_in(page, platform, admin.email)

    navigation = page.locator("#thenavbar")
    navigation.get_by_role("link", name="Hub admin").click()
    expect(page).to_have_url(re.compile(r"/hub/admin"))
    users = page.get_by_role("table")
    expect(users.get_by_role("columnheader", name="User")).to_be_visible()
    page.get_by_placeholder("Search Users").fill(student.username)
    expect(users.get_by_test_id(f"user-name-div-{student.username}")).to_be_visible()

    page.goto(f"{platform.service_url}/courses")
    navigation.get_by_role("link", name="Users & roles").click()
    expect(page).to_have_url(re.compile(r"/services/coursehub/admin/users$"))
    expect(page.get_by_role("heading", name="Users and roles")).to_be_visible()

    row = page.locator(f'#users_table tr[data-username="{student.username}"]')
    expect(row.get_by_role("combobox")).to_have_value("STUDENT")
    row.get_by_role("combobox").select_option("INSTRUCTOR")
    row.get_by_role("button", name="Save").click()

    expect(page.locator("#role_changed")).to_have_text(f"{student.name} is now instructor.")
    expect(row.get_by_role("combobox")).to_have_value("INSTRUCTOR")
    assert role_of(db, student) is Role.INSTRUCTOR


def test_a_student_is_refused_the_admin_pages_and_told_why(platform, page, make_account):
    student = make_account(Role.STUDENT)
    sign_in(page, platform, student.email)
    expect(page.locator("#thenavbar").get_by_role("link", name="Users & roles")).to_have_count(0)
    expect(page.locator("#thenavbar").get_by_role("link", name="Hub admin")).to_have_count(0)

    refused = page.goto(f"{platform.service_url}/admin/users")
    assert refused is not None and refused.status == 403
    expect(page.get_by_role("heading", name="You cannot open this page")).to_be_visible()
    message = page.locator("#error_message")
    expect(message).to_contain_text("for administrators only")
    expect(message).to_contain_text("your account is a student account")
    expect(page.locator("#users_table")).to_have_count(0)

    hub_admin = page.goto(f"{platform.url}/hub/admin")
    assert hub_admin is not None and hub_admin.status == 403
    expect(page.get_by_role("heading", name=re.compile(r"^403\b"))).to_be_visible()
    expect(page.get_by_text("Start All")).to_have_count(0)


def test_a_student_resets_a_forgotten_password_through_the_mailed_link(
    platform, page, make_account
):
    student = make_account(Role.STUDENT)
    page.goto(f"{platform.url}/hub/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(re.compile(r"/services/coursehub/forgot-password$"))
    page.get_by_label("Email").fill(student.email)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.locator("#reset_sent")).to_contain_text("If an account uses that address")

    mail = newest_mail_to(platform, student.email)
    assert mail["Subject"] == "Reset your CourseHub password"
    body = mail.get_content()
    link = next(word for word in body.split() if "/reset/" in word)
    assert link.startswith(f"{platform.service_url}/reset/")

    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    expect(page.locator("#password_rules")).to_contain_text("At least 10 characters")
    page.get_by_label("New password").fill("a brand new passphrase")
    page.get_by_role("button", name="Save the new password").click()
    # Signed in with the new password at once.
    expect(page).to_have_url(DASHBOARD_URL)
    expect(page.locator("#signed_in_as")).to_have_text(student.username)

    page.get_by_role("button", name="Sign out").click()
    page.locator("#username_input").fill(student.email)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    expect(page.get_by_text("Invalid email or password")).to_be_visible()
    sign_in(page, platform, student.email, "a brand new passphrase")

    used = page.goto(link)
    assert used is not None and used.status >= 400
    expect(page.locator("#reset_error")).to_contain_text("already been used")
    expect(page.get_by_role("button", name="Save the new password")).to_have_count(0)
    expect(page.get_by_role("link", name="Ask for a new link")).to_be_visible()


@pytest.fixture
def phone(browser):  # type: ignore[no-untyped-def]
    """A fresh browser context the size of a phone held upright."""
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def test_a_student_uses_the_courses_page_on_a_phone(platform, phone, make_account, tmp_path):
    student = make_account(Role.STUDENT)
    sign_in(phone, platform, student.email)

    toggler = phone.get_by_role("button", name="Toggle navigation")
    courses_link = phone.locator("#thenavbar").get_by_role("link", name="Courses", exact=True)
    expect(toggler).to_be_visible()
    expect(courses_link).to_be_hidden()
    expect(phone.locator("#logout")).to_be_hidden()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375, "no sideways scrolling"

    toggler.tap()
    expect(toggler).to_have_attribute("aria-expanded", "true")
    expect(phone.locator("#thenavbar")).to_have_class(re.compile(r"\bshow\b"))  # opened fully
    expect(courses_link).to_be_visible()
    expect(phone.locator("#logout")).to_be_visible()
    phone.screenshot(path=tmp_path / "courses-phone.png", full_page=True)

    courses_link.tap()
    expect(phone).to_have_url(COURSES_URL)
    expect(phone.get_by_role("heading", name="Courses", exact=True)).to_be_visible()
    expect(phone.get_by_label("Search courses")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375, "no sideways scrolling"
    assert (tmp_path / "courses-phone.png").stat().st_size > 0


def test_hub_and_course_pages_share_the_theme_toggle_bell_and_sign_out(
    platform, page, make_account, db
):
    from coursehub.services.models import Notification

    student = make_account(Role.STUDENT)
    with db() as session:
        session.add(Notification(account_id=student.id, kind="announcement", payload={}))
        session.commit()
    sign_in(page, platform, student.email)

    page.goto(f"{platform.service_url}/courses")
    html = page.locator("html")
    before = html.get_attribute("data-bs-theme")
    page.locator("#dark-theme-toggle").click()
    after = "light" if before == "dark" else "dark"
    expect(html).to_have_attribute("data-bs-theme", after)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("#thenavbar").get_by_role("link", name="API tokens")).to_have_count(0)

    page.goto(f"{platform.url}/hub/home")
    expect(html).to_have_attribute("data-bs-theme", after)  # the choice is remembered
    expect(page.locator("#dark-theme-toggle")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_text("Logout")).to_have_count(0)
    expect(page.locator("#notification_count")).to_have_text("1")
    page.locator("#notification_bell_link").click()
    expect(page).to_have_url(re.compile(r"/services/coursehub/notifications$"))
