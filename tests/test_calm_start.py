"""``coursehub up`` as a person sees it in their terminal: one line per component when it is
ready, then the address, the demo sign-ins and how to stop, with the details in a log file;
the course service's health says "starting" (503) until it answers; Ctrl-C, whether the
terminal sends it to the whole process group or it reaches the parent alone, ends everything
within 10 s without a traceback and leaves nothing running; a port already taken stops it
with one sentence before anything starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from coursehub.services.processes import descendants
from tests.platform import (
    REPO,
    SERVICE,
    claim_redis_db,
    create_database,
    drop_database,
    platform_env,
    release_redis_db,
    sign_in,
)

DEMO_COURSE = "python-for-data"
STUDENT = "student@coursehub.example"


@dataclass
class Terminal:
    """``coursehub up`` started as from a terminal: its own process group, its two streams."""

    process: subprocess.Popen
    data_dir: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.env["COURSEHUB_BIND_URL"]

    def shown(self) -> str:
        return (self.data_dir / "terminal.out").read_text() + (
            self.data_dir / "terminal.err"
        ).read_text()


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    database, redis_db = create_database(), claim_redis_db()
    yield database, redis_db
    drop_database(database)
    release_redis_db(redis_db)


def coursehub_up(data_dir: Path, env: dict[str, str]) -> Terminal:
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "coursehub.services.cli", "up"],
        env=env,
        cwd=REPO,
        stdout=(data_dir / "terminal.out").open("w"),
        stderr=(data_dir / "terminal.err").open("w"),
        start_new_session=True,  # as a shell runs a command: a process group of its own
    )
    return Terminal(process, data_dir, env)


def wait_until_running(terminal: Terminal, timeout: float = 240) -> list[int]:
    """Until the terminal says how to stop; the course service's health statuses seen."""
    statuses: list[int] = []
    deadline = time.monotonic() + timeout
    with httpx.Client(follow_redirects=True, timeout=3) as client:
        while time.monotonic() < deadline:
            assert terminal.process.poll() is None, terminal.shown()
            try:
                health = client.get(f"{terminal.url}{SERVICE}/health")
                statuses.append(health.status_code)
                if health.status_code == 503 and "json" in health.headers.get("content-type", ""):
                    assert health.json()["status"] in ("starting", "degraded"), health.text
                # (a plain 503 before that: the proxy is up, the hub not yet)
            except httpx.TransportError:
                pass  # the proxy is not listening yet
            if "Stop it with Ctrl-C" in terminal.shown():
                return statuses
            time.sleep(0.3)
    raise AssertionError(f"coursehub up did not get running:\n{terminal.shown()}")


def running_with(data_dir: Path) -> list[str]:
    """Processes whose command line or environment names the data directory."""
    found = []
    marker = str(data_dir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (marker in cmdline or marker in environ):
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace")[:200])
    return found


def busy_as_in_class(terminal: Terminal, database: str) -> None:
    """The demo student opens a notebook lesson (a kernel starts) and their JupyterLab."""
    password = json.loads((terminal.data_dir / "demo-logins.json").read_text())[STUDENT]
    with psycopg.connect(database) as connection:
        [lesson_id] = connection.execute(
            "SELECT lessons.id FROM lessons JOIN modules ON modules.id = lessons.module_id "
            "JOIN courses ON courses.id = modules.course_id "
            "WHERE courses.slug = %s AND lessons.kind = 'NOTEBOOK' ORDER BY lessons.id LIMIT 1",
            (DEMO_COURSE,),
        ).fetchone()
        [username] = connection.execute(
            "SELECT username FROM accounts WHERE email = %s", (STUDENT,)
        ).fetchone()
    with httpx.Client(follow_redirects=True, timeout=120) as http:
        assert sign_in(http, terminal.url, STUDENT, password).status_code == 200
        frame = http.get(f"{terminal.url}{SERVICE}/learn/{DEMO_COURSE}/{lesson_id}/frame")
        assert frame.status_code == 200, frame.text[:300]
        started = http.post(
            f"{terminal.url}/hub/api/users/{username}/server",
            headers={"X-XSRFToken": http.cookies.get("_xsrf", path="/hub/") or ""},
        )
        assert started.status_code in (201, 202), started.text


def kill_a_grading_worker(terminal: Terminal) -> None:
    workers = [
        pid
        for pid in descendants(terminal.process.pid)
        if b"coursehub.services.cli\0worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert len(workers) == 1
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while "started it again" not in terminal.shown() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "Grading worker 1 ended (exit status -9); started it again" in terminal.shown()


def stopped_within(terminal: Terminal, send: str, seconds: float) -> float:
    began = time.monotonic()
    if send == "group":
        os.killpg(terminal.process.pid, signal.SIGINT)  # what the terminal's Ctrl-C does
    else:
        terminal.process.send_signal(signal.SIGINT)
    try:
        terminal.process.wait(timeout=seconds + 20)
    except subprocess.TimeoutExpired:
        os.killpg(terminal.process.pid, signal.SIGKILL)
        raise
    return time.monotonic() - began


@pytest.fixture
def started() -> Iterator[list[Terminal]]:
    """Whatever a failing test left running is stopped (Ctrl-C, then killed)."""
    terminals: list[Terminal] = []
    yield terminals
    for terminal in terminals:
        if terminal.process.poll() is None:
            terminal.process.send_signal(signal.SIGINT)
            try:
                terminal.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(terminal.process.pid, signal.SIGKILL)
                terminal.process.wait()


@pytest.mark.parametrize("send", ["group", "parent"], ids=["ctrl-c", "sigint-to-the-parent"])
def test_a_calm_start_and_a_quick_stop(tmp_path: Path, databases, send: str, started):
    database, redis_db = databases
    data_dir = tmp_path / "data"
    terminal = coursehub_up(data_dir, platform_env(data_dir, database, redis_db))
    started.append(terminal)
    statuses = wait_until_running(terminal)

    shown = terminal.shown()
    lines = [line for line in shown.splitlines() if line.strip()]
    for component in ("Hub and proxy: ready", "Course service: ready", "Lesson server: ready"):
        assert component in shown
    assert f"CourseHub is running at {terminal.url}/" in shown
    assert "STUDENT    student@coursehub.example" in shown
    assert lines[-1].startswith("Stop it with Ctrl-C."), "the sign-ins stay in sight at the end"
    assert len(lines) < 20, shown
    assert "Traceback" not in shown and "EBADENGINE" not in shown
    assert (data_dir / "coursehub.log").stat().st_size > 0, "the details went to the log"
    assert 404 not in statuses, "the health URL answered 404 while starting"
    assert set(statuses) <= {200, 503}

    # Something to stop: a lesson kernel, the demo student's JupyterLab, and a grading worker
    # that ends (coursehub up starts it again and says so).
    busy_as_in_class(terminal, database)
    kill_a_grading_worker(terminal)

    elapsed = stopped_within(terminal, send, 10)
    assert elapsed < 10, f"Ctrl-C took {elapsed:.1f} s"
    assert terminal.process.returncode == 0
    shown = terminal.shown()
    assert "Traceback" not in shown, shown
    assert (data_dir / "terminal.out").read_text().rstrip().endswith("CourseHub stopped.")
    time.sleep(1)
    assert running_with(data_dir) == [], "something kept running after Ctrl-C"


def test_up_with_its_port_taken_says_so_and_leaves_nothing_running(
    tmp_path: Path, databases, started
):
    database, redis_db = databases
    data_dir = tmp_path / "data"
    env = platform_env(data_dir, database, redis_db)
    with socket.socket() as other_program:
        port = int(env["COURSEHUB_BIND_URL"].rsplit(":", 1)[1])
        other_program.bind(("127.0.0.1", port))
        other_program.listen()
        terminal = coursehub_up(data_dir, env)
        started.append(terminal)
        assert terminal.process.wait(timeout=120) == 1
    shown = terminal.shown().strip()
    assert shown == (
        f"CourseHub cannot start: port {port} (the proxy's public address) is already in use; "
        "is CourseHub already running? Stop it, or set COURSEHUB_BIND_URL to a free port."
    )
    assert running_with(data_dir) == []
