"""Linking a Google identity from Settings, end to end in Chromium, against the local OpenID
Connect provider standing in for Google (tests/google_provider.py).

A person signed in with their password links a Google account whose address is not their
CourseHub address (so only Google's ``sub`` can tie them), then signs in with Google into the
same account; unlinking needs a password; an identity that is another account's is refused;
a link request that was forged, expired or made without signing in is refused, and every
refusal links and creates nothing.
"""

from __future__ import annotations

import base64
import binascii
import email
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from email import policy

import httpx
import pytest
from alembic import command
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from tornado.web import create_signed_value, decode_signed_value

from coursehub.hub.google_link import LINK_COOKIE, LINK_MINUTES
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.migrate import alembic_config
from coursehub.services.models import Account
from coursehub.services.models.audit import AuditEntry
from coursehub.services.settings import sqlalchemy_url
from tests.conftest import PASSWORD
from tests.google_provider import (
    GoogleAccount,
    GoogleHub,
    accounts_with_email,
    count_accounts,
    google_hub,
    kept_on_this_machine,
    sign_in_at_google,
    sign_in_with_google,
    who_am_i,
)
from tests.platform import create_database, drop_database, sign_in

# Lena's Google account has her personal address; her CourseHub account has her school's.
LENA = GoogleAccount(
    "208204417523301117601", "lena.lindqvist@gmail.example", "Lena Lindqvist", "lena g pass"
)
# Omar's Google identity already signs in to his CourseHub account.
OMAR = GoogleAccount(
    "208204417523301117602", "omar.haddad@gmail.example", "Omar Haddad", "omar g pass"
)
# Gus is new to CourseHub: his first Google sign-in makes him an account without a password.
GUS = GoogleAccount(
    "208204417523301117603", "gus.google@coursehub.example", "Gus Google", "gus g pass"
)
# Ruth has no CourseHub account: a refused link must not make her one.
RUTH = GoogleAccount("208204417523301117604", "ruth.roe@gmail.example", "Ruth Roe", "ruth g pass")
PEOPLE = [LENA, OMAR, GUS, RUTH]


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


@pytest.fixture
def password_account(db: Callable[[], Session]) -> Callable[[str], Account]:
    """A person who registered with an email address and a password (PASSWORD)."""

    def make(stem: str) -> Account:
        account = Account(
            username=f"{stem}-{secrets.token_hex(3)}",
            email=f"{stem}.{secrets.token_hex(3)}@school.coursehub.example",
            name=stem.title(),
            password_hash=hash_password(PASSWORD),
        )
        with db() as session:
            session.add(account)
            session.commit()
        return account

    return make


def sign_in_with_password(page: Page, hub: GoogleHub, account: Account) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.locator("#username_input").fill(account.email or "")
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    expect(page.locator("#signed_in_as")).to_have_text(account.username)


def start_linking(page: Page, hub: GoogleHub) -> None:
    """From Settings: "Link Google account", then "Continue to Google" on the hub's page."""
    page.goto(f"{hub.service_url}/account/settings")
    expect(page.locator("#google_status")).to_contain_text("No Google identity is linked")
    page.locator("#link_google").click()
    expect(page.locator("#link_for")).to_be_visible()
    page.locator("#continue_to_google").click()


def account(db: Callable[[], Session], account_id: int) -> Account:
    with db() as session:
        return session.get_one(Account, account_id)


def audit_actions(db: Callable[[], Session], account_id: int) -> list[str]:
    with db() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target_kind == "account")
                .where(AuditEntry.target_id == str(account_id))
                .order_by(AuditEntry.id)
            )
        )


def mail_to(hub: GoogleHub, address: str, subject: str) -> str:
    """The text of the mail with ``subject`` sent to ``address`` (sent in the background)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for path in hub.platform.outbox():
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if message["To"] == address and message["Subject"] == subject:
                return message.get_content()
        time.sleep(0.2)
    raise AssertionError(f"no mail {subject!r} to {address}")


def google_again(page: Page, hub: GoogleHub, person: GoogleAccount) -> None:
    """The Google button once more: the provider may remember the person (as Google does)."""
    page.goto(f"{hub.url}/hub/login")
    page.click("#google_login")
    page.wait_for_load_state()
    if page.url.startswith(f"{hub.provider.issuer}/interaction/"):
        if page.locator("#email").count():
            sign_in_at_google(page, hub, person)
        else:
            page.click("#allow")


def hub_secret(hub: GoogleHub) -> bytes:
    text = (hub.platform.data_dir / "jupyterhub_cookie_secret").read_text().strip()
    return binascii.a2b_hex(text)


def replace_link_request(page: Page, hub: GoogleHub, value: str) -> None:
    page.context.clear_cookies(name=LINK_COOKIE)
    page.context.add_cookies(
        [{"name": LINK_COOKIE, "value": value, "domain": "127.0.0.1", "path": "/hub/"}]
    )


# -- the stories -------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_person_links_google_from_settings_then_signs_in_with_it(
    hub, browser_page, db, password_account
):
    lena = password_account("lena")
    people_before = count_accounts(db)
    page = browser_page
    sign_in_with_password(page, hub, lena)

    start_linking(page, hub)
    sign_in_at_google(page, hub, LENA)

    # Back on Settings, still Lena, with her Google account named.
    expect(page).to_have_url(re.compile(rf"^{re.escape(hub.service_url)}/account/settings"))
    expect(page.locator("#google_notice")).to_contain_text("Your Google account is linked")
    expect(page.locator("#google_email")).to_have_text(LENA.email)
    expect(page.locator("#unlink_google")).to_be_visible()
    expect(page.locator("#signed_in_as")).to_have_text(lena.username)
    linked = account(db, lena.id)
    assert linked.google_subject == LENA.sub
    assert linked.google_email == LENA.email
    assert linked.email == lena.email  # her CourseHub address is hers still
    assert audit_actions(db, lena.id) == ["account.google_link"]
    assert LENA.email in mail_to(
        hub, lena.email, "A Google account was linked to your CourseHub account"
    )
    assert count_accounts(db) == people_before

    # Signed out, "Sign in with Google" opens Lena's account: the identity, not the address.
    page.locator("#logout").click()
    page.wait_for_load_state()
    assert page.request.get(f"{hub.url}/hub/api/user").status == 403
    google_again(page, hub, LENA)
    expect(page).to_have_url(re.compile(rf"^{re.escape(hub.service_url)}/dashboard"))
    assert page.request.get(f"{hub.url}/hub/api/user").json()["name"] == lena.username
    assert who_am_i(page, hub)["username"] == lena.username
    assert accounts_with_email(db, LENA.email) == []
    assert count_accounts(db) == people_before


@pytest.mark.browser
def test_unlinking_needs_a_password_and_is_told_and_audited(hub, browser_page, db):
    page = browser_page
    sign_in_with_google(page, hub, GUS)  # a new account, made by Google, without a password
    [gus] = accounts_with_email(db, GUS.email)
    assert gus.password_hash is None and gus.google_subject == GUS.sub

    page.goto(f"{hub.service_url}/account/settings")
    expect(page.locator("#google_email")).to_have_text(GUS.email)
    expect(page.locator("#unlink_google")).to_have_count(0)
    expect(page.locator("#unlink_needs_password")).to_contain_text("set a password")
    # Sent anyway (a stale page, a script): refused, and Google still signs him in.
    xsrf = page.locator("input[name=_xsrf]").first.get_attribute("value")
    refused = page.request.post(
        f"{hub.service_url}/account/settings",
        form={"_xsrf": xsrf or "", "action": "unlink_google"},
    )
    assert refused.status == 409
    assert "Set a password first" in refused.text()
    assert account(db, gus.id).google_subject == GUS.sub
    assert audit_actions(db, gus.id) == []

    with db() as session:  # Gus sets a password (the emailed link does this)
        session.get_one(Account, gus.id).password_hash = hash_password(PASSWORD)
        session.commit()
    page.reload()
    page.locator("#unlink_google").click()
    expect(page.locator("#google_notice")).to_contain_text("no longer linked")
    expect(page.locator("#google_status")).to_contain_text("No Google identity is linked")
    expect(page.locator("#link_google")).to_be_visible()
    unlinked = account(db, gus.id)
    assert unlinked.google_subject is None and unlinked.google_email is None
    assert audit_actions(db, gus.id) == ["account.google_unlink"]
    assert GUS.email in mail_to(
        hub, GUS.email, "A Google account was unlinked from your CourseHub account"
    )

    # Unlinked stays unlinked: his Google account, whose address is his CourseHub address,
    # no longer opens (and re-links) his account; his password does.
    page.locator("#logout").click()
    page.wait_for_load_state()
    google_again(page, hub, GUS)
    expect(page.locator("body")).to_contain_text("has Google sign-in unlinked")
    assert account(db, gus.id).google_subject is None
    assert [person.id for person in accounts_with_email(db, GUS.email)] == [gus.id]
    page.goto(f"{hub.service_url}/dashboard")
    expect(page).to_have_url(re.compile(rf"^{re.escape(hub.url)}/hub/login"))


@pytest.mark.browser
def test_a_google_identity_of_another_account_is_refused_and_nothing_changes(
    hub, browser_page, db, password_account
):
    omar = password_account("omar")
    with db() as session:
        session.get_one(Account, omar.id).google_subject = OMAR.sub
        session.commit()
    pia = password_account("pia")
    people_before = count_accounts(db)
    page = browser_page
    sign_in_with_password(page, hub, pia)

    start_linking(page, hub)
    sign_in_at_google(page, hub, OMAR)

    expect(page.locator("#error_message")).to_contain_text(
        "already linked to another CourseHub account"
    )
    page.locator("#back_to_settings").click()
    expect(page.locator("#google_status")).to_contain_text("No Google identity is linked")
    assert who_am_i(page, hub)["username"] == pia.username  # still Pia, signed in
    assert account(db, pia.id).google_subject is None
    assert account(db, omar.id).google_subject == OMAR.sub
    assert audit_actions(db, pia.id) == []
    assert count_accounts(db) == people_before


@pytest.mark.browser
def test_a_forged_link_request_is_refused_and_creates_nothing(hub, browser_page, db):
    people_before = count_accounts(db)
    page = browser_page
    page.goto(f"{hub.url}/hub/login")
    page.click("#google_login")
    # Planted on the way to Google by someone who is not signed in: no hub signature.
    replace_link_request(page, hub, json.dumps({"name": "admin", "state": "x"}))
    sign_in_at_google(page, hub, RUTH)

    expect(page.locator("#error_message")).to_contain_text("not valid or has expired")
    assert accounts_with_email(db, RUTH.email) == []
    with db() as session:
        assert session.scalar(select(Account).where(Account.google_subject == RUTH.sub)) is None
    assert count_accounts(db) == people_before
    page.goto(f"{hub.service_url}/dashboard")  # and nobody is signed in
    expect(page).to_have_url(re.compile(rf"^{re.escape(hub.url)}/hub/login"))


@pytest.mark.browser
def test_an_expired_link_request_is_refused(hub, browser_page, db, password_account):
    pia = password_account("pia")
    page = browser_page
    sign_in_with_password(page, hub, pia)
    start_linking(page, hub)
    # Everything right (the hub's signature, Pia, this flow) except its age.
    secret = hub_secret(hub)
    state_cookie = next(c for c in page.context.cookies() if c["name"] == "oauthenticator-state")
    # (Quoted in the browser: the signed value has base64 padding.)
    signed_state = state_cookie["value"].strip('"')
    state = decode_signed_value(secret, "oauthenticator-state", signed_state)
    assert state is not None
    state_id = json.loads(base64.urlsafe_b64decode(state))["state_id"]
    stale = create_signed_value(
        secret,
        LINK_COOKIE,
        json.dumps({"name": pia.username, "state": state_id}),
        clock=lambda: time.time() - (LINK_MINUTES + 1) * 60,
    )
    replace_link_request(page, hub, stale.decode())
    sign_in_at_google(page, hub, RUTH)

    expect(page.locator("#error_message")).to_contain_text("not valid or has expired")
    assert account(db, pia.id).google_subject is None
    assert accounts_with_email(db, RUTH.email) == []
    assert who_am_i(page, hub)["username"] == pia.username


def test_linking_starts_only_signed_in_and_with_the_hubs_xsrf_token(hub, password_account):
    with httpx.Client(timeout=30) as visitor:
        page = visitor.get(f"{hub.url}/hub/coursehub/link-google")
        assert page.status_code == 302 and "/hub/login" in page.headers["location"]
        assert visitor.post(f"{hub.url}/hub/coursehub/link-google").status_code == 403
    lena = password_account("lena")
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        sign_in(browser, hub.url, lena.email or "", PASSWORD)
        page = browser.get(f"{hub.url}/hub/coursehub/link-google")
        assert page.status_code == 200 and lena.username in page.text
        forged = browser.post(f"{hub.url}/hub/coursehub/link-google", follow_redirects=False)
        assert forged.status_code == 403
        assert LINK_COOKIE not in browser.cookies
        token = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        assert token
        started = browser.post(
            f"{hub.url}/hub/coursehub/link-google",
            data={"_xsrf": token.group(1)},
            follow_redirects=False,
        )
        assert started.status_code == 302
        assert started.headers["location"].startswith(hub.provider.issuer)
        assert LINK_COOKIE in started.headers.get("set-cookie", "")


def test_migration_0038_is_reversible_and_matches_the_models() -> None:
    """Going back before 0038 drops the linked Google address and coming back restores it,
    as the model has it."""
    url = create_database("coursehub_google_email_migration")

    def account_columns() -> set[str]:
        engine = create_engine(sqlalchemy_url(url))
        with engine.connect() as connection:
            found = set(
                connection.scalars(
                    text(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_name = 'accounts'"
                    )
                )
            )
        engine.dispose()
        return found

    try:
        config = alembic_config(sqlalchemy_url(url))
        command.upgrade(config, "0038")
        assert {"google_subject", "google_email"} <= account_columns()
        command.downgrade(config, "0037")
        assert "google_email" not in account_columns() and "google_subject" in account_columns()
        command.upgrade(config, "head")
        assert "google_email" in account_columns()
        command.check(config)
    finally:
        drop_database(url)
