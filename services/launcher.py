"""``coursehub up``: everything CourseHub needs on one machine, started in order, stopped on Ctrl-C.

Steps: the proxy's npm package, PostgreSQL (``DATABASE_URL`` or embedded), Redis
(``REDIS_URL`` or embedded), migrations, demo data, the grading workers (``COURSEHUB_WORKERS``,
default 1), then JupyterHub, which starts the proxy and the course service itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from coursehub.hub.sandbox import check_sandbox
from coursehub.services import migrate
from coursehub.services.bootstrap import bootstrap_admin_from_env, seed_and_print
from coursehub.services.embedded import EmbeddedUnavailable, embedded_postgres, embedded_redis
from coursehub.services.settings import sqlalchemy_url

log = logging.getLogger("coursehub.up")
REPO = Path(__file__).resolve().parent.parent
PROXY_DIR = REPO / "hub" / "proxy"
HUB_CONFIG = REPO / "jupyterhub_config.py"


def ensure_proxy() -> Path:
    """configurable-http-proxy from npm, installed once from the pinned lock file."""
    binary = PROXY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
    if not binary.exists():
        log.info("Installing configurable-http-proxy from npm (once)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PROXY_DIR, check=True)
    return binary


def load_secrets(data_dir: Path) -> dict[str, str]:
    """Tokens the hub and service share, made once per data directory (mode 0600)."""
    path = data_dir / "secrets.json"
    values = json.loads(path.read_text()) if path.exists() else {}
    missing = {name for name in ("service_token", "cookie_secret") if name not in values}
    if missing:
        values.update({name: secrets.token_hex(32) for name in missing})
        path.touch(mode=0o600)
        path.write_text(json.dumps(values))
    return values


def hub_environment(data_dir: Path, database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    shared = load_secrets(data_dir)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        COURSEHUB_DATA_DIR=str(data_dir),
        COURSEHUB_SERVICE_TOKEN=shared["service_token"],
        COURSEHUB_COOKIE_SECRET=shared["cookie_secret"],
        COURSEHUB_PROXY_COMMAND=str(ensure_proxy()),
    )
    return env


def prepare_database(database_url: str, data_dir: Path, demo: bool) -> None:
    migrate.upgrade(sqlalchemy_url(database_url))
    if demo:
        asyncio.run(seed_and_print(sqlalchemy_url(database_url), data_dir))
    asyncio.run(bootstrap_admin_from_env(sqlalchemy_url(database_url)))


def worker_count(env: dict[str, str]) -> int:
    raw = env.get("COURSEHUB_WORKERS", "1").strip() or "1"
    if not raw.isdigit():
        raise SystemExit(f"COURSEHUB_WORKERS must be a number of grading workers, not {raw!r}.")
    return int(raw)


def worker_options(env: dict[str, str]) -> list[str]:
    """``coursehub worker`` options from COURSEHUB_WORKER_CONCURRENCY (jobs per worker at
    once) and COURSEHUB_WARM_SANDBOXES (sandboxes each keeps started ahead of jobs)."""
    options = []
    for variable, option in (
        ("COURSEHUB_WORKER_CONCURRENCY", "--concurrency"),
        ("COURSEHUB_WARM_SANDBOXES", "--warm-sandboxes"),
    ):
        raw = env.get(variable, "").strip()
        if raw:
            if not raw.isdigit():
                raise SystemExit(f"{variable} must be a whole number, not {raw!r}.")
            options += [option, raw]
    return options


def start_workers(env: dict[str, str]) -> list[subprocess.Popen]:
    """Grading workers (``coursehub worker``); more can run on other machines."""
    count = worker_count(env)
    if count:
        log.info("Starting %d grading worker(s)", count)
    return [
        subprocess.Popen(
            [sys.executable, "-m", "coursehub.services.cli", "worker", *worker_options(env)],
            env=env,
            cwd=env["COURSEHUB_DATA_DIR"],
        )
        for _ in range(count)
    ]


def stop_workers(workers: list[subprocess.Popen], timeout: float = 30) -> None:
    """SIGTERM: a worker finishes its current jobs (procrastinate's graceful stop)."""
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def run_hub(env: dict[str, str], workers: list[subprocess.Popen]) -> int:
    hub = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(HUB_CONFIG)],
        env=env,
        cwd=env["COURSEHUB_DATA_DIR"],
    )

    def forward(signum: int, _frame: object) -> None:
        hub.send_signal(signum)
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    return hub.wait()


def sandbox_problem() -> str | None:
    """Why people's code could not run sandboxed here (None when it can, or when CourseHub
    does not run as root and so runs it unsandboxed, with a warning where it starts)."""
    if os.geteuid() != 0:
        return None
    return check_sandbox()


def up(data_dir: Path, demo: bool = True) -> int:
    problem = sandbox_problem()
    if problem:
        # Lessons would spin forever and every grading job would fail: say so once, now.
        log.error("CourseHub cannot start: %s", problem)
        return 1
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            database_url = os.environ.get("DATABASE_URL") or stack.enter_context(
                embedded_postgres(data_dir)
            )
        except EmbeddedUnavailable as error:
            log.error("CourseHub cannot start: %s", error)
            return 1
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(embedded_redis(data_dir))
        prepare_database(database_url, data_dir, demo)
        env = hub_environment(data_dir, database_url, redis_url)
        workers = start_workers(env)
        try:
            code = run_hub(env, workers)
        finally:
            stop_workers(workers)
        log.info("CourseHub stopped")
        return code
