"""Starting a real CourseHub for tests and benchmarks: `coursehub up` on free ports.

The platform runs exactly as a user runs it, against a database and a Redis DB of its own on
the machine's servers (or embedded ones when no URLs are given).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis

REPO = Path(__file__).resolve().parent.parent
POSTGRES_SERVER = os.environ.get("COURSEHUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS_SERVER = os.environ.get("COURSEHUB_TEST_REDIS", "redis://127.0.0.1:6379")
SERVICE = "/services/coursehub"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def create_database(prefix: str = "coursehub_test") -> str:
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{POSTGRES_SERVER}/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def claim_redis_db() -> str:
    """A Redis DB number nobody is using on the machine's server, as a URL."""
    for number in range(15, 0, -1):
        client = redis.Redis.from_url(f"{REDIS_SERVER}/{number}")
        # SET NX marks the DB as ours, so concurrent runs do not pick the same one.
        if client.dbsize() == 0 and client.set("coursehub:test-claim", "1", nx=True):
            return f"{REDIS_SERVER}/{number}"
    raise RuntimeError("Every Redis DB 1-15 holds data; flush one for the tests.")


def release_redis_db(url: str) -> None:
    redis.Redis.from_url(url).flushdb()


@dataclass
class Platform:
    """A running CourseHub: its public URL and what the tests need to look inside."""

    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen | None = field(default=None, repr=False)
    log_path: Path | None = None

    @property
    def service_url(self) -> str:
        return f"{self.url}{SERVICE}"

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def outbox(self) -> list[Path]:
        return sorted((self.data_dir / "outbox").glob("*.eml"))

    def start(self, timeout: float = 90) -> None:
        assert self.process is None
        self.log_path = self.data_dir / "platform.log"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            # --verbose: every component's log in platform.log, for a failing test to show.
            [sys.executable, "-m", "coursehub.services.cli", "up", "--no-demo", "--verbose"],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"CourseHub exited during start-up:\n{self.log()[-4000:]}")
            try:
                hub = httpx.get(f"{self.url}/hub/health", timeout=2)
                service = httpx.get(f"{self.service_url}/health", timeout=2)
                if hub.status_code == service.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"CourseHub did not become healthy:\n{self.log()[-4000:]}")

    def stop(self) -> int | None:
        """Ctrl-C, as a person would; the whole process group must be gone afterwards."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
        return code


def platform_env(
    data_dir: Path, database_url: str | None, redis_url: str | None, **extra: str
) -> dict[str, str]:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COURSEHUB_", "JUPYTERHUB_", "GOOGLE_"))
        and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        COURSEHUB_DATA_DIR=str(data_dir),
        COURSEHUB_BIND_URL=f"http://127.0.0.1:{port}",
        COURSEHUB_PUBLIC_URL=f"http://127.0.0.1:{port}",
        COURSEHUB_HUB_PORT=str(free_port()),
        COURSEHUB_PROXY_API_URL=f"http://127.0.0.1:{free_port()}",
        COURSEHUB_SERVICE_PORT=str(free_port()),
        COURSEHUB_LESSON_PORT=str(free_port()),
        **extra,
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def sign_in(client: httpx.Client, base_url: str, login: str, password: str) -> httpx.Response:
    """Sign in through the hub's form, as a browser does, and open the course pages."""
    page = client.get(f"{base_url}/hub/login")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert xsrf, "the sign-in page has no XSRF field"
    response = client.post(
        f"{base_url}/hub/login",
        data={"username": login, "password": password, "_xsrf": xsrf.group(1)},
    )
    return response


def xsrf_from(page: httpx.Response) -> str:
    match = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert match, f"no XSRF field on {page.url}"
    return match.group(1)
