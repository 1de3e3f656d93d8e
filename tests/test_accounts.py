"""Accounts: registering, signing in, lockout and password resets, with every bad input refused
clearly and nothing changed in the database."""

from __future__ import annotations

import email
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from coursehub.hub.constants import Role
from coursehub.services.models import Account, LoginThrottle, PasswordReset
from tests.conftest import PASSWORD, account_named
from tests.platform import sign_in, xsrf_from


def count_accounts(db) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(Account))


def register_form(client: httpx.Client, platform, **fields: str) -> httpx.Response:
    page = client.get(f"{platform.service_url}/register")
    return client.post(
        f"{platform.service_url}/register", data={"_xsrf": xsrf_from(page), **fields}
    )


def test_a_visitor_registers_and_signs_in_with_email_and_password(platform, client, db):
    response = register_form(
        client,
        platform,
        name="Grace Learner",
        email="Grace@CourseHub.example",
        password="a long enough secret",
    )
    # Registered and signed in: the answer is My learning.
    assert response.status_code == 200 and response.url.path.endswith("/dashboard")
    account = account_named(db, "grace@coursehub.example")
    assert account is not None and account.role is Role.STUDENT
    assert account.password_hash.startswith("$argon2id$")
    me = client.get(f"{platform.service_url}/api/me").json()
    assert me["username"] == account.username and me["role"] == "STUDENT"

    with httpx.Client(follow_redirects=True, timeout=30) as later:
        signed = sign_in(later, platform.url, "grace@coursehub.example", "a long enough secret")
        assert signed.status_code == 200


def test_an_empty_registration_names_every_missing_field(platform, client, db):
    before = count_accounts(db)
    page = register_form(client, platform, name="", email="", password="")
    assert page.status_code == 400
    for sentence in ("Tell us your name.", "Enter your email address.", "Choose a password."):
        assert sentence in page.text
    form = client.get(f"{platform.service_url}/register")
    api = client.post(
        f"{platform.service_url}/api/accounts",
        json={"name": " ", "email": "not-an-email", "password": "short"},
        headers={"X-XSRFToken": xsrf_from(form)},
    )
    assert api.status_code == 400 and set(api.json()["errors"]) == {"name", "email", "password"}
    assert count_accounts(db) == before


def test_the_password_rules_are_stated_before_anything_fails(platform, client):
    page = client.get(f"{platform.service_url}/register")
    for rule in ("At least 10 characters", "4 different", "not a common password", "before the @"):
        assert rule in page.text


BAD_REGISTRATIONS = [
    pytest.param(
        {"name": "Dup", "email": "{existing}", "password": "another long secret"},
        409,
        "already exists",
        id="duplicate-email",
    ),
    pytest.param(
        {"name": "Bad", "email": "not-an-email", "password": "a long enough secret"},
        400,
        "not valid",
        id="malformed-email",
    ),
    pytest.param(
        {"name": "Weak", "email": "weak@coursehub.example", "password": "short"},
        400,
        "at least 10 characters",
        id="short-password",
    ),
    pytest.param(
        {"name": "Weak", "email": "weak@coursehub.example", "password": "password123"},
        400,
        "too easy to guess",
        id="common-password",
    ),
    pytest.param(
        {"name": "", "email": "nameless@coursehub.example", "password": "a long enough secret"},
        400,
        "your name",
        id="missing-name",
    ),
]


@pytest.mark.parametrize(("fields", "status", "message"), BAD_REGISTRATIONS)
def test_bad_registrations_are_refused_with_a_clear_message(
    platform, client, db, make_account, fields, status, message
):
    fields = {**fields, "email": fields["email"].replace("{existing}", make_account().email)}
    before = count_accounts(db)

    page = register_form(client, platform, **fields)
    form = client.get(f"{platform.service_url}/register")
    api = client.post(
        f"{platform.service_url}/api/accounts",
        json=fields,
        headers={"X-XSRFToken": xsrf_from(form)},
    )

    assert page.status_code == status and message in page.text.lower().replace("&#39;", "'")
    assert api.status_code == status and message in api.json()["error"].lower()
    assert count_accounts(db) == before


def test_a_form_without_its_xsrf_token_is_refused_and_creates_nothing(platform, client, db):
    before = count_accounts(db)
    client.get(f"{platform.service_url}/register")
    response = client.post(
        f"{platform.service_url}/register",
        data={
            "name": "Forged",
            "email": "forged@coursehub.example",
            "password": "a long enough secret",
        },
    )
    assert response.status_code == 403
    assert "Reload the page and try again" in response.text
    assert count_accounts(db) == before


@pytest.mark.parametrize("who", ["known-account", "unknown-account"])
def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    platform, client, make_account, db, who
):
    account = make_account()
    login = account.email if who == "known-account" else "nobody-here@coursehub.example"
    response = sign_in(client, platform.url, login, "not the password")
    assert response.status_code == 403
    assert "Invalid email or password" in response.text
    with db() as session:
        unchanged = session.get(Account, account.id)
    assert unchanged.password_hash == account.password_hash
    assert unchanged.last_login_at is None


@pytest.mark.parametrize("who", ["known-account", "unknown-account"])
def test_repeated_failures_lock_the_login_for_known_and_unknown_names_alike(
    platform, client, make_account, who
):
    account = make_account()
    login = (
        account.email if who == "known-account" else f"ghost-{account.username}@coursehub.example"
    )
    for _ in range(5):
        assert sign_in(client, platform.url, login, "guessing again").status_code == 403
    locked = sign_in(client, platform.url, login, PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text


def test_a_successful_sign_in_clears_earlier_failures(platform, client, make_account, db):
    account = make_account()
    for _ in range(3):
        sign_in(client, platform.url, account.email, "guessing")
    assert sign_in(client, platform.url, account.email, PASSWORD).status_code == 200
    with db() as session:
        assert session.get(LoginThrottle, f"account:{account.id}") is None
        assert session.get(LoginThrottle, account.email) is None


def reset_link_from_outbox(platform, address: str) -> str:
    for path in reversed(platform.outbox()):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == address:
            body = message.get_payload(decode=True).decode()
            return next(line for line in body.splitlines() if "/reset/" in line).strip()
    raise AssertionError(f"no mail to {address} in the outbox")


def ask_for_reset(client: httpx.Client, platform, address: str) -> httpx.Response:
    page = client.get(f"{platform.service_url}/forgot-password")
    return client.post(
        f"{platform.service_url}/forgot-password",
        data={"_xsrf": xsrf_from(page), "email": address},
    )


def wait_for_reset_link(platform, address: str) -> str:
    import time

    deadline = time.monotonic() + 10
    while True:
        try:
            return reset_link_from_outbox(platform, address)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_forgotten_password_is_reset_once_through_the_mailed_link(
    platform, client, make_account, db
):
    account = make_account()
    answer = ask_for_reset(client, platform, account.email)
    assert "If an account uses that address" in answer.text
    link = wait_for_reset_link(platform, account.email)
    assert link.startswith(platform.service_url)
    assert link.split("/reset/")[1] not in platform.log(), "reset tokens must never be logged"

    form = client.get(link)
    changed = client.post(link, data={"_xsrf": xsrf_from(form), "password": "a brand new secret"})
    assert changed.status_code == 200 and changed.url.path.endswith("/dashboard")
    with httpx.Client(follow_redirects=True, timeout=30) as later:
        signed = sign_in(later, platform.url, account.email, "a brand new secret")
        assert signed.status_code == 200

    with db() as session:
        hash_after_reset = session.get(Account, account.id).password_hash

    again = client.get(link)
    assert again.status_code == 410 and "already been used" in again.text
    fresh_form = client.get(f"{platform.service_url}/forgot-password")
    replay = client.post(
        link, data={"_xsrf": xsrf_from(fresh_form), "password": "yet another secret"}
    )
    assert replay.status_code == 410 and "already been used" in replay.text
    with db() as session:
        assert session.get(Account, account.id).password_hash == hash_after_reset


def test_an_expired_reset_link_is_refused_and_the_password_stays(
    platform, client, make_account, db
):
    account = make_account()
    ask_for_reset(client, platform, account.email)
    link = wait_for_reset_link(platform, account.email)
    with db() as session:
        session.execute(
            update(PasswordReset)
            .where(PasswordReset.account_id == account.id)
            .values(expires_at=func.now() - timedelta(minutes=1))
        )
        session.commit()
    page = client.get(link)
    assert page.status_code == 410 and "expired" in page.text
    with db() as session:
        assert session.get(Account, account.id).password_hash == account.password_hash


def test_asking_for_a_reset_of_an_unknown_address_looks_the_same_and_sends_nothing(
    platform, client
):
    before = len(platform.outbox())
    answer = ask_for_reset(client, platform, "nobody-at-all@coursehub.example")
    assert answer.status_code == 200 and "If an account uses that address" in answer.text
    assert len(platform.outbox()) == before


def test_a_made_up_reset_link_is_not_found(platform, client):
    response = client.get(f"{platform.service_url}/reset/{'x' * 43}")
    assert response.status_code == 404 and "not valid" in response.text
