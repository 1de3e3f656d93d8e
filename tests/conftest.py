"""Fixtures: one real CourseHub per test session (hub, proxy, service) on the machine's
PostgreSQL and Redis, with a database and a Redis DB of its own, dropped afterwards."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.migrate import upgrade
from coursehub.services.models import Account
from coursehub.services.settings import sqlalchemy_url
from tests.platform import (
    Platform,
    claim_redis_db,
    create_database,
    drop_database,
    platform_env,
    release_redis_db,
    sign_in,
)

ADMIN_EMAIL = "first-admin@coursehub.example"
ADMIN_PASSWORD = "first admin passphrase"
PASSWORD = "correct horse battery"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """How many pytest-xdist workers ``-n auto`` (addopts) starts: two for the whole suite (the
    README's bare ``pytest``: the suite waits on servers, kernels and browsers as much as it
    computes, so two files at a time use a two-core machine), none for chosen tests, which run
    in this process as before. Each worker has its own platform, database and Redis DB; files
    are never split (``--dist loadfile``), so module fixtures start once.
    ``COURSEHUB_TEST_WORKERS`` chooses the number (0: no workers)."""
    chosen = os.environ.get("COURSEHUB_TEST_WORKERS", "").strip()
    if chosen:
        return int(chosen)
    if config.args_source is not pytest.Config.ArgsSource.TESTPATHS:
        return 0
    cores = os.cpu_count() or 1
    return 2 if cores >= 2 else 0


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = create_database()
    upgrade(sqlalchemy_url(url))
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = claim_redis_db()
    yield url
    release_redis_db(url)


@pytest.fixture(scope="session")
def platform(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str
) -> Iterator[Platform]:
    data_dir = tmp_path_factory.mktemp("coursehub-data")
    env = platform_env(
        data_dir,
        database_url,
        redis_url,
        COURSEHUB_ADMIN_EMAIL=ADMIN_EMAIL,
        COURSEHUB_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    running = Platform(url=env["COURSEHUB_BIND_URL"], data_dir=data_dir, env=env)
    # Readiness, not speed: each xdist worker starts its platform at the same moment, on a
    # machine that may be busy.
    running.start(timeout=240)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Callable[[], Session]]:
    """Sessions on the test database, for arranging data and checking what changed."""
    engine = create_engine(sqlalchemy_url(database_url))
    yield lambda: Session(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Asynchronous sessions on the test database, as the course service's code gets them."""
    engine = make_engine(sqlalchemy_url(database_url), pool_size=2)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def make_account(
    db: Callable[[], Session], request: pytest.FixtureRequest
) -> Callable[..., Account]:
    """Create an account with a known password: make_account(Role.INSTRUCTOR)."""

    def make(role: Role = Role.STUDENT, *, password: str = PASSWORD) -> Account:
        words = request.node.originalname.removeprefix("test_").split("_")[:3]
        stem = f"{'-'.join(words)}-{secrets.token_hex(3)}".lower()
        account = Account(
            username=stem,
            email=f"{stem}@coursehub.example",
            name=stem.title(),
            password_hash=hash_password(password),
            role=role,
        )
        with db() as session:
            session.add(account)
            session.commit()
        return account

    return make


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=True, timeout=30) as session:
        yield session


@pytest.fixture
def signed_in(platform: Platform) -> Iterator[Callable[[Account], httpx.Client]]:
    """An HTTP client signed in as the given account, like a browser after the login form."""
    clients: list[httpx.Client] = []

    def open_as(account: Account, password: str = PASSWORD) -> httpx.Client:
        http = httpx.Client(follow_redirects=True, timeout=30)
        clients.append(http)
        response = sign_in(http, platform.url, account.email or account.username, password)
        assert response.status_code == 200, response.text[:500]
        courses = http.get(f"{platform.service_url}/courses")
        assert courses.status_code == 200, courses.text[:500]
        return http

    yield open_as
    for http in clients:
        http.close()


def account_named(db: Callable[[], Session], email: str) -> Account | None:
    with db() as session:
        return session.scalar(select(Account).where(Account.email == email))


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium driven by Playwright (Playwright cannot download browsers here).

    One per test module: Playwright's sync API keeps an event loop running in the main
    thread while it is open, and asyncio tests in later modules need that thread's loop."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    """A fresh browser context (no cookies) and page, desktop-sized."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()
