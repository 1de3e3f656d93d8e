"""Observability: a request id follows a request from the proxy to the course service to the
job it queued and into that job's log lines; the service's /metrics (behind its token)
gives the grading queue, lesson kernels, notebook servers and notifications delivered; the
Grafana dashboard in the repository charts only metrics that exist; with
COURSEHUB_LOG_FORMAT=json every log line is one JSON object."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from coursehub.hub.constants import Role
from coursehub.services import structured_logs
from coursehub.services.analytics.rollups import REFRESH_TASK
from tests.teaching_client import hub_token, new_course, open_session

DASHBOARD = (
    Path(__file__).resolve().parent.parent
    / "services"
    / "operations"
    / "deploy"
    / "grafana-dashboard.json"
)


def wait_for(condition, what: str, seconds: float = 120):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {seconds} s")


def test_a_request_id_follows_a_request_from_the_proxy_to_the_service_to_its_job(
    platform, signed_in, make_account, db
) -> None:
    teacher = open_session(platform, signed_in, make_account(Role.INSTRUCTOR))
    course = new_course(teacher, f"Tracing {secrets.token_hex(3)}")
    trace = f"trace-{secrets.token_hex(8)}"

    # The instructor's analytics page finds the figures stale and queues their refresh.
    answer = teacher.get(
        f"/api/teach/courses/{course['id']}/analytics", headers={"X-Request-Id": trace}
    )
    assert answer.status_code == 200
    assert answer.headers["X-Request-Id"] == trace  # through the proxy and back

    def job():  # type: ignore[no-untyped-def]
        with db() as session:
            return session.execute(
                text(
                    "SELECT id, args, status FROM procrastinate_jobs "
                    "WHERE task_name = :task AND args->>'_request_id' = :trace"
                ),
                {"task": REFRESH_TASK, "trace": trace},
            ).one_or_none()

    queued = wait_for(job, "the refresh job")
    assert queued.args["course_id"] == course["id"]
    wait_for(lambda: job().status == "succeeded", "the refresh job's run")  # the task ran
    # The worker's log line for the job names the request that queued it.
    line = wait_for(
        lambda: [row for row in platform.log().splitlines() if f"[request {trace}]" in row],
        "the job's log line",
    )
    assert any(f"Job {queued.id} (analytics.refresh_course) runs" in row for row in line)

    fresh = teacher.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Request-Id"])
    forged = teacher.get("/health", headers={"X-Request-Id": "two words; <script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-Id"])  # replaced


def samples(exposition: str) -> set[str]:
    return {
        line.split("{")[0].split(" ")[0]
        for line in exposition.splitlines()
        if line and not line.startswith("#")
    }


def test_metrics_behind_the_token_give_the_platform_figures_the_dashboard_charts(
    platform, signed_in, make_account, client
) -> None:
    metrics_url = f"{platform.service_url}/metrics"
    assert client.get(metrics_url).status_code in (401, 403)  # not for anyone
    student = make_account(Role.STUDENT)
    assert signed_in(student).get(metrics_url).status_code == 403

    admin = make_account(Role.ADMIN)
    session = signed_in(admin)
    answer = session.get(metrics_url)
    assert answer.status_code == 200
    exposed = samples(answer.text)
    for name in (
        'coursehub_grading_queue_jobs{state="waiting"}',
        'coursehub_grading_queue_jobs{state="running"}',
        "coursehub_grading_oldest_wait_seconds",
        "coursehub_lesson_kernels",
        "coursehub_notebook_servers",
        'coursehub_notifications_delivered_total{channel="bell"}',
        'coursehub_notifications_delivered_total{channel="email"}',
        'coursehub_grading_runs_total{result="failed"}',
    ):
        assert name in answer.text, name

    # A hub token with read:metrics (a Prometheus scraper's) reads the same.
    token = hub_token(platform, admin.username)
    scraped = client.get(metrics_url, headers={"Authorization": f"token {token}"})
    assert scraped.status_code == 200

    # Every metric a dashboard query names is one the service exports.
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    named = {n for q in queries for n in re.findall(r"\b(coursehub_[a-z_]+)\b", q)}
    assert len(named) >= 10
    missing = sorted(name for name in named if name not in exposed)
    assert not missing, f"the dashboard charts metrics nobody exports: {missing}"


def test_json_logs_are_one_object_per_line_with_the_request_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("coursehub.test-json")
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setenv("COURSEHUB_LOG_FORMAT", "json")
    structured_logs.configure("course-service")
    logger.setLevel(logging.INFO)
    token = structured_logs.REQUEST_ID.set("req-42")
    try:
        logger.info("Graded %d submissions\nin one go", 3, extra={"course_id": 7})
        try:
            raise ValueError("a broken notebook")
        except ValueError:
            logger.exception("Grading failed")
    finally:
        structured_logs.REQUEST_ID.reset(token)
    logger.warning("Outside any request")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # the newline in the message and the traceback stay inside
    first, failed, outside = (json.loads(line) for line in lines)
    assert first["message"] == "Graded 3 submissions\nin one go"
    assert first["request_id"] == "req-42" and first["course_id"] == 7
    assert first["level"] == "INFO" and first["process"] == "course-service"
    assert (
        failed["request_id"] == "req-42" and "ValueError: a broken notebook" in failed["exception"]
    )
    assert outside["request_id"] is None and outside["level"] == "WARNING"

    monkeypatch.setenv("COURSEHUB_LOG_FORMAT", "yaml")
    with pytest.raises(SystemExit, match="must be text or json, not 'yaml'"):
        structured_logs.configure("course-service")


def test_the_coursehub_command_logs_json_lines_when_asked(database_url: str) -> None:
    """The command that runs ``coursehub up`` and the workers sets its logging the same
    way: here ``coursehub migrate`` (alembic's lines) with COURSEHUB_LOG_FORMAT=json."""
    env = {**os.environ, "DATABASE_URL": database_url, "COURSEHUB_LOG_FORMAT": "json"}
    done = subprocess.run(
        [sys.executable, "-m", "coursehub.services.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    # Every log line is JSON (a Python warning, printed by the interpreter, would not be).
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert not [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert lines and {line["process"] for line in lines} == {"coursehub-migrate"}
    assert any(line["logger"].startswith("alembic") for line in lines)
