"""The rules of ``coursehub up`` (``services.launcher``) that need nothing started: the shared
secrets made once per data directory and kept private, the hub's environment, the worker
settings read from the environment (refused when they are not whole numbers), the ports it
needs and the sentence when one is taken, and a grading worker's reconnection backoff."""

from __future__ import annotations

import http.server
import json
import os
import socket
import stat
import threading
from typing import ClassVar

import pytest

from coursehub.services import launcher
from coursehub.services.launcher import (
    health,
    listeners,
    load_secrets,
    port_problem,
    worker_count,
    worker_options,
)
from coursehub.services.worker import Backoff
from tests.platform import free_port


def test_secrets_are_made_once_per_data_directory_and_only_the_owner_reads_them(tmp_path):
    first = load_secrets(tmp_path)
    assert set(first) == {"service_token", "cookie_secret"}
    assert all(len(value) == 64 for value in first.values())
    assert load_secrets(tmp_path) == first
    mode = stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode)
    assert mode & 0o077 == 0


def test_a_missing_secret_is_added_and_the_others_are_kept(tmp_path):
    (tmp_path / "secrets.json").write_text(json.dumps({"service_token": "kept", "other": "x"}))
    values = load_secrets(tmp_path)
    assert values["service_token"] == "kept" and values["other"] == "x"
    assert len(values["cookie_secret"]) == 64
    assert json.loads((tmp_path / "secrets.json").read_text()) == values


def test_the_hub_gets_the_databases_and_the_shared_secrets(tmp_path, monkeypatch):
    # A proxy already installed (in a folder of the test's own): nothing runs npm.
    monkeypatch.setattr(launcher, "PROXY_DIR", tmp_path / "proxy")
    installed = tmp_path / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
    installed.parent.mkdir(parents=True)
    installed.touch()
    env = launcher.hub_environment(tmp_path, "postgresql://db", "redis://r")
    shared = load_secrets(tmp_path)
    assert env["DATABASE_URL"] == "postgresql://db" and env["REDIS_URL"] == "redis://r"
    assert env["COURSEHUB_DATA_DIR"] == str(tmp_path)
    assert env["COURSEHUB_SERVICE_TOKEN"] == shared["service_token"]
    assert env["COURSEHUB_COOKIE_SECRET"] == shared["cookie_secret"]
    assert env["COURSEHUB_PROXY_COMMAND"] == str(installed)
    assert env["PATH"] == os.environ["PATH"]  # the rest of the environment is passed on


@pytest.mark.parametrize(("value", "count"), [(None, 1), ("", 1), ("  ", 1), ("0", 0), (" 3 ", 3)])
def test_one_grading_worker_unless_told(value, count):
    env = {} if value is None else {"COURSEHUB_WORKERS": value}
    assert worker_count(env) == count


@pytest.mark.parametrize("value", ["two", "-1", "1.5"])
def test_a_worker_count_that_is_not_a_number_stops_the_launch(value):
    with pytest.raises(SystemExit, match="COURSEHUB_WORKERS must be a number"):
        worker_count({"COURSEHUB_WORKERS": value})


def test_worker_options_come_from_the_environment_in_order():
    assert worker_options({}) == []
    assert worker_options({"COURSEHUB_WARM_SANDBOXES": "2"}) == ["--warm-sandboxes", "2"]
    assert worker_options(
        {"COURSEHUB_WARM_SANDBOXES": " 2 ", "COURSEHUB_WORKER_CONCURRENCY": "4", "X": "y"}
    ) == ["--concurrency", "4", "--warm-sandboxes", "2"]


@pytest.mark.parametrize("variable", ["COURSEHUB_WORKER_CONCURRENCY", "COURSEHUB_WARM_SANDBOXES"])
def test_a_worker_option_that_is_not_a_whole_number_stops_the_launch(variable):
    with pytest.raises(SystemExit, match=f"{variable} must be a whole number, not '-2'"):
        worker_options({variable: "-2"})


def test_the_ports_coursehub_needs_come_from_the_environment():
    env = {
        "COURSEHUB_BIND_URL": "http://0.0.0.0:9000",
        "COURSEHUB_PROXY_API_URL": "http://127.0.0.1:9001",
        "COURSEHUB_HUB_PORT": "9081",
        "COURSEHUB_SERVICE_PORT": "9101",
        "COURSEHUB_LESSON_PORT": "9102",
    }
    found = [(listener.host, listener.port, listener.variable) for listener in listeners(env)]
    assert found == [
        ("0.0.0.0", 9000, "COURSEHUB_BIND_URL"),  # noqa: S104 - read, not bound
        ("127.0.0.1", 9001, "COURSEHUB_PROXY_API_URL"),
        ("127.0.0.1", 9081, "COURSEHUB_HUB_PORT"),
        ("127.0.0.1", 9101, "COURSEHUB_SERVICE_PORT"),
        ("127.0.0.1", 9102, "COURSEHUB_LESSON_PORT"),
    ]
    assert [listener.port for listener in listeners({})] == [8000, 8001, 8081, 10101, 10102]


def test_a_taken_port_is_named_with_the_variable_that_moves_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = {name: str(free_port()) for name in ("HUB", "SERVICE", "LESSON")}
        env = {
            "COURSEHUB_BIND_URL": f"http://127.0.0.1:{free_port()}",
            "COURSEHUB_PROXY_API_URL": f"http://127.0.0.1:{free_port()}",
            "COURSEHUB_HUB_PORT": free["HUB"],
            "COURSEHUB_SERVICE_PORT": str(port),
            "COURSEHUB_LESSON_PORT": free["LESSON"],
        }
        assert port_problem(env) == (
            f"port {port} (the course service) is already in use; is CourseHub already "
            "running? Stop it, or set COURSEHUB_SERVICE_PORT to a free port."
        )
    assert port_problem(env) is None


def test_a_grading_workers_backoff_doubles_to_its_ceiling_and_starts_over_after_a_good_run():
    backoff = Backoff(ceiling=8, healthy_after=60)
    assert [backoff.next(ran_for=1) for _ in range(5)] == [1, 2, 4, 8, 8]
    assert backoff.next(ran_for=120) == 1


class _Health(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, dict[str, str]]]] = []

    def do_GET(self) -> None:
        status, body = self.answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *_: object) -> None:
        """Quiet."""


def test_a_component_is_ready_when_its_health_is_ok_or_reported_with_its_problem():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/health"
    degraded = {"status": "degraded", "database": "ok", "workers": "error: 2 job(s) wait"}
    _Health.answers[:] = [
        (503, {"status": "starting"}),  # the hub answering for a service not up yet
        (503, degraded),
        (503, degraded),
        (200, {"status": "ok"}),
    ]
    try:
        check = health(url, grace=0)
        assert check() is None
        assert check() == "running, but workers error: 2 job(s) wait"
        patient = health(url, grace=60)
        assert patient() is None, "a problem gets its grace first"
        assert patient() == "ready"
    finally:
        server.shutdown()


def test_with_per_user_subdomains_the_launcher_asks_the_platforms_host_whether_it_is_ready():
    """The proxy routes by host name when people's servers have subdomains: a readiness check
    sent to 127.0.0.1 under the bind address's name would reach the hub, never the service."""
    hosts: list[str] = []

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.handle_request, daemon=True).start()
    try:
        bind = f"http://127.0.0.1:{server.server_port}"
        env = {
            "COURSEHUB_BIND_URL": bind,
            "COURSEHUB_SUBDOMAIN_HOST": "https://courses.example.org",
        }
        course_service = dict(launcher.readiness(env).checks)["Course service"]
        assert course_service() == "ready"
    finally:
        server.server_close()
    assert hosts == ["courses.example.org"]
