"""A local OpenID Connect provider standing in for Google, and a CourseHub that signs in with it.

The provider is oidc-provider from npm (tests/oidc), a standards-complete implementation, so
CourseHub goes through the same discovery, authorization code + PKCE, token and userinfo steps
as with Google. ``google_hub`` runs a CourseHub of its own, configured with the provider's
issuer and CourseHub's client id and secret, on the session's database and Redis DB.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coursehub.services.models import Account
from tests.platform import Platform, free_port, platform_env

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "coursehub-test-client"
CLIENT_SECRET = secrets.token_urlsafe(24)


@dataclass(frozen=True)
class GoogleAccount:
    """A person's account at the identity provider: what they type and what it vouches for."""

    sub: str
    email: str
    name: str
    password: str
    email_verified: bool = True

    def provider_record(self) -> dict[str, object]:
        """How the provider is told about this person (PROVIDER_ACCOUNTS)."""
        return {
            "sub": self.sub,
            "email": self.email,
            "email_verified": self.email_verified,
            "name": self.name,
            "password": self.password,
        }


# -- the identity provider ------------------------------------------------------------------


def install_provider() -> None:
    """npm ci from the lock file, once per machine; a lock keeps parallel runs from racing."""
    installed = OIDC_DIR / "node_modules" / "oidc-provider" / "package.json"
    if installed.exists():
        return
    if shutil.which("npm") is None:
        pytest.fail("Node.js and npm are needed to run the test identity provider.")
    with (OIDC_DIR / "package-lock.json").open() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"], cwd=OIDC_DIR, check=True, timeout=300
            )


@dataclass
class IdentityProvider:
    issuer: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_provider(
    issuer: str, redirect_uri: str, people: list[GoogleAccount], log_path: Path
) -> IdentityProvider:
    env = {
        **os.environ,
        "PROVIDER_PORT": str(urlsplit(issuer).port),
        "PROVIDER_ISSUER": issuer,
        "PROVIDER_CLIENT_ID": CLIENT_ID,
        "PROVIDER_CLIENT_SECRET": CLIENT_SECRET,
        "PROVIDER_REDIRECT_URI": redirect_uri,
        "PROVIDER_ACCOUNTS": json.dumps([person.provider_record() for person in people]),
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            ["node", "provider.mjs"],
            cwd=OIDC_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    provider = IdentityProvider(issuer, process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if f"oidc provider ready at {issuer}" in provider.log():
            return provider
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stop_provider(provider)
    raise RuntimeError(f"The identity provider did not start:\n{provider.log()[-4000:]}")


def stop_provider(provider: IdentityProvider) -> None:
    provider.process.terminate()
    try:
        provider.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        provider.process.kill()
        provider.process.wait()


# -- a CourseHub with Google sign-in ----------------------------------------------------------


@dataclass
class GoogleHub:
    platform: Platform
    provider: IdentityProvider

    @property
    def url(self) -> str:
        return self.platform.url

    @property
    def service_url(self) -> str:
        return self.platform.service_url


@contextmanager
def google_hub(
    tmp_path_factory: pytest.TempPathFactory,
    database_url: str,
    redis_url: str,
    people: list[GoogleAccount],
) -> Iterator[GoogleHub]:
    """A running CourseHub whose Google sign-in goes to a provider that knows ``people``."""
    install_provider()
    data_dir = tmp_path_factory.mktemp("coursehub-google")
    issuer = f"http://127.0.0.1:{free_port()}"
    env = platform_env(
        data_dir,
        database_url,
        redis_url,
        GOOGLE_CLIENT_ID=CLIENT_ID,
        GOOGLE_CLIENT_SECRET=CLIENT_SECRET,
        COURSEHUB_OIDC_ISSUER=issuer,
    )
    redirect_uri = f"{env['COURSEHUB_PUBLIC_URL']}/hub/oauth_callback"
    provider = start_provider(issuer, redirect_uri, people, data_dir / "provider.log")
    platform = Platform(url=env["COURSEHUB_BIND_URL"], data_dir=data_dir, env=env)
    try:
        platform.start(timeout=240)  # readiness, on a machine others are busy on
        yield GoogleHub(platform, provider)
    finally:
        platform.stop()
        stop_provider(provider)


@contextmanager
def kept_on_this_machine(page: Page) -> Iterator[Page]:
    """The browser, kept on this machine: any request elsewhere is refused and fails the test."""
    outside: list[str] = []

    def only_loopback(route, request) -> None:  # type: ignore[no-untyped-def]
        if urlsplit(request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    page.context.route("**/*", only_loopback)
    yield page
    assert not outside, f"the pages asked for resources off this machine: {outside}"


def accounts_with_email(db: Callable[[], Session], email: str) -> list[Account]:
    with db() as session:
        return list(session.scalars(select(Account).where(Account.email == email)))


def count_accounts(db: Callable[[], Session]) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(Account))


def sign_in_at_google(page: Page, hub: GoogleHub, person: GoogleAccount) -> None:
    """At the provider's pages: their Google email and password, then Allow."""
    expect(page).to_have_url(re.compile(rf"^{re.escape(hub.provider.issuer)}/interaction/"))
    expect(page.locator("h1")).to_have_text("Sign in")
    page.fill("#email", person.email)
    page.fill("#password", person.password)
    page.click("#next")
    expect(page.locator("#account_email")).to_have_text(person.email)
    page.click("#allow")


def sign_in_with_google(page: Page, hub: GoogleHub, person: GoogleAccount) -> None:
    """What a person does: the Google button, their Google email and password, then Allow."""
    page.goto(f"{hub.url}/hub/login")
    page.click("#google_login")
    sign_in_at_google(page, hub, person)


def who_am_i(page: Page, hub: GoogleHub) -> dict[str, object]:
    response = page.request.get(f"{hub.service_url}/api/me")
    assert response.status == 200, response.text()[:500]
    return response.json()
