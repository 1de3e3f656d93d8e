"""Settings: changing one's email through a link sent to the new address (the old one signs
in until it is opened; an address in use is refused), unlinking Google only while a password
exists, and the links to notification settings and API tokens."""

from __future__ import annotations

import email
import re
import secrets
from email import policy

import httpx
from sqlalchemy import func, select

from coursehub.services.models import Account, AccountLink
from tests.conftest import PASSWORD
from tests.platform import sign_in, xsrf_from


def settings_form(client: httpx.Client, service: str, **fields: str) -> httpx.Response:
    page = client.get(f"{service}/account/settings")
    return client.post(f"{service}/account/settings", data={"_xsrf": xsrf_from(page), **fields})


def link_in_mail_to(platform, address: str) -> str:
    for path in reversed(platform.outbox()):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"] == address:
            found = re.search(r"https?://\S+/account/email/[A-Za-z0-9_-]+", message.get_content())
            assert found, message.get_content()
            return found.group(0)
    raise AssertionError(f"no mail to {address}")


def signs_in(platform, login: str, password: str = PASSWORD) -> bool:
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        return "/hub/login" not in str(sign_in(browser, platform.url, login, password).url)


def test_a_new_email_counts_only_once_its_link_is_opened(platform, make_account, signed_in, db):
    student = make_account()
    client = signed_in(student)
    new = f"moved-{secrets.token_hex(4)}@coursehub.example"
    asked = settings_form(
        client, platform.service_url, action="email", new_email=new.upper(), password=PASSWORD
    )
    assert asked.status_code == 200 and "We sent a link to the new address" in asked.text
    assert f"Waiting for confirmation: {new}" in asked.text
    link = link_in_mail_to(platform, new)
    # Until the link is opened, the old address signs in and the new one does not.
    assert signs_in(platform, student.email) and not signs_in(platform, new)

    with httpx.Client(follow_redirects=True, timeout=30) as other_device:
        page = other_device.get(link)
        assert page.status_code == 200 and new in page.text
        done = other_device.post(link, data={"_xsrf": xsrf_from(page)})
        assert done.status_code == 200 and "Your email address has changed" in done.text
        again = other_device.post(link, data={"_xsrf": xsrf_from(page)})
        assert again.status_code == 410 and "already been used" in again.text
    assert signs_in(platform, new) and not signs_in(platform, student.email)
    with db() as session:
        assert session.get(Account, student.id).email == new


def test_an_email_in_use_or_a_wrong_password_changes_nothing(platform, make_account, signed_in, db):
    student, other = make_account(), make_account()
    client = signed_in(student)
    taken = settings_form(
        client, platform.service_url, action="email", new_email=other.email, password=PASSWORD
    )
    assert taken.status_code == 409
    assert "Another account already uses this email address" in taken.text
    wrong = settings_form(
        client, platform.service_url, action="email", new_email="x@coursehub.example", password="no"
    )
    assert wrong.status_code == 400 and "That is not your current password." in wrong.text
    invalid = settings_form(
        client, platform.service_url, action="email", new_email="not an address", password=PASSWORD
    )
    assert invalid.status_code == 400 and "not valid" in invalid.text
    with db() as session:
        assert session.get(Account, student.id).email == student.email
        links = select(func.count()).where(AccountLink.account_id == student.id)
        assert session.scalar(links) == 0


def test_an_address_taken_before_the_link_is_opened_is_refused_then(
    platform, make_account, signed_in, db
):
    student = make_account()
    new = f"race-{secrets.token_hex(4)}@coursehub.example"
    settings_form(
        signed_in(student), platform.service_url, action="email", new_email=new, password=PASSWORD
    )
    link = link_in_mail_to(platform, new)
    squatter = make_account()
    with db() as session:
        session.get(Account, squatter.id).email = new
        session.commit()
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        page = browser.get(link)
        refused = browser.post(link, data={"_xsrf": xsrf_from(page)})
    assert refused.status_code == 409 and "Another account already uses" in refused.text
    with db() as session:
        assert session.get(Account, student.id).email == student.email


def test_google_is_unlinked_only_while_a_password_exists(platform, make_account, signed_in, db):
    student = make_account()
    with db() as session:
        session.get(Account, student.id).google_subject = f"google-{secrets.token_hex(6)}"
        session.commit()
    client = signed_in(student)
    page = client.get(f"{platform.service_url}/account/settings")
    for link in ("/notifications/settings", "/hub/token", "/account/password", "/account/data"):
        assert link in page.text
    assert "A Google identity is linked" in page.text

    with db() as session:  # a Google-only account (no password) keeps its only way in
        saved_hash = session.get(Account, student.id).password_hash
        session.get(Account, student.id).password_hash = None
        session.commit()
    kept = settings_form(client, platform.service_url, action="unlink_google")
    assert kept.status_code == 409 and "Set a password first" in kept.text
    with db() as session:
        account = session.get(Account, student.id)
        assert account.google_subject is not None
        account.password_hash = saved_hash
        session.commit()
    unlinked = settings_form(client, platform.service_url, action="unlink_google")
    assert unlinked.status_code == 200 and "no longer linked" in unlinked.text
    with db() as session:
        assert session.get(Account, student.id).google_subject is None
