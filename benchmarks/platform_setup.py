"""A real CourseHub for the benchmarks: fresh database and Redis DB, a student with courses,
the platform started with ``coursehub up --no-demo``, and hub API tokens; all undone on exit.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from benchmarks.course_data import Student, add_enrolled_student
from benchmarks.cpu_usage import platform_processes
from benchmarks.proxy_routes import ProxyRoutes
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

ADMIN_EMAIL = "bench-admin@coursehub.example"
TOKEN_LIFETIME_SECONDS = 4 * 3600


@dataclass(frozen=True)
class BenchPlatform:
    platform: Platform
    database_url: str
    student: Student
    student_token: str  # the student's hub API token, as a person makes one on /hub/token
    metrics_token: str  # an admin token limited to read:metrics
    proxy: ProxyRoutes
    processes: dict[str, psutil.Process]

    @property
    def url(self) -> str:
        return self.platform.url

    @property
    def log_path(self) -> Path:
        """The platform's combined log (hub, proxy and service write to it)."""
        assert self.platform.log_path is not None, "the platform has not started"
        return self.platform.log_path


def _hub_xsrf(client: httpx.Client) -> str:
    for cookie in client.cookies.jar:
        if cookie.name == "_xsrf" and cookie.path.startswith("/hub"):
            return cookie.value or ""
    raise RuntimeError("The hub set no _xsrf cookie at sign-in")


def _signed_in(base_url: str, login: str, password: str) -> httpx.Client:
    client = httpx.Client(follow_redirects=True, timeout=30)
    response = sign_in(client, base_url, login, password)
    if response.status_code != 200 or "/hub/login" in str(response.url):
        client.close()
        raise RuntimeError(f"Signing in as {login} failed ({response.status_code} {response.url})")
    return client


def _new_token(client: httpx.Client, base_url: str, username: str, **body: object) -> str:
    """A hub API token for ``username``, requested with ``client``'s hub session."""
    response = client.post(
        f"{base_url}/hub/api/users/{username}/tokens",
        json={"note": "CourseHub benchmark", "expires_in": TOKEN_LIFETIME_SECONDS, **body},
        headers={"X-XSRFToken": _hub_xsrf(client)},
    )
    if response.status_code != 201:
        raise RuntimeError(
            f"Creating a token for {username} failed: {response.status_code} {response.text}"
        )
    return str(response.json()["token"])


def _username_of(database_url: str, email: str) -> str:
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with Session(engine) as session:
            username = session.scalar(select(Account.username).where(Account.email == email))
    finally:
        engine.dispose()
    if username is None:
        raise RuntimeError(f"No account has the email {email}")
    return str(username)


@contextmanager
def running_coursehub(
    courses: int = 4, keep_data: bool = False, extra_env: dict[str, str] | None = None
) -> Iterator[BenchPlatform]:
    """The platform; ``extra_env`` adds variables (COURSEHUB_...) a scenario needs set."""
    with ExitStack() as cleanup:
        database_url = create_database("coursehub_bench")
        cleanup.callback(drop_database, database_url)
        upgrade(sqlalchemy_url(database_url))
        redis_url = claim_redis_db()
        cleanup.callback(release_redis_db, redis_url)
        student = add_enrolled_student(database_url, courses)

        data_dir = Path(tempfile.mkdtemp(prefix="coursehub-bench-"))
        if not keep_data:
            cleanup.callback(shutil.rmtree, data_dir, ignore_errors=True)
        admin_password = f"bench admin {secrets.token_hex(8)}"
        proxy_token = secrets.token_hex(32)
        env = platform_env(
            data_dir,
            database_url,
            redis_url,
            COURSEHUB_ADMIN_EMAIL=ADMIN_EMAIL,
            COURSEHUB_ADMIN_PASSWORD=admin_password,
            # The hub hands its proxy this token (jupyterhub reads it from the environment),
            # so the benchmark can add its own route through the proxy's REST API.
            CONFIGPROXY_AUTH_TOKEN=proxy_token,
            **(extra_env or {}),
        )
        platform = Platform(url=env["COURSEHUB_BIND_URL"], data_dir=data_dir, env=env)
        platform.start()
        cleanup.callback(platform.stop)
        assert platform.process is not None

        student_client = _signed_in(platform.url, student.email, student.password)
        cleanup.callback(student_client.close)
        admin_client = _signed_in(platform.url, ADMIN_EMAIL, admin_password)
        cleanup.callback(admin_client.close)
        admin_name = _username_of(database_url, ADMIN_EMAIL)
        yield BenchPlatform(
            platform=platform,
            database_url=database_url,
            student=student,
            student_token=_new_token(student_client, platform.url, student.username),
            metrics_token=_new_token(
                admin_client, platform.url, admin_name, scopes=["read:metrics"]
            ),
            proxy=ProxyRoutes(env["COURSEHUB_PROXY_API_URL"], proxy_token),
            processes=platform_processes(platform.process.pid),
        )
