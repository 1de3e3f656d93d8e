"""Operators' endpoints: health when things break, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from coursehub.hub.constants import Role
from tests.conftest import PASSWORD
from tests.platform import Platform, free_port, platform_env, sign_in


def test_metrics_count_the_service_requests(platform, client, make_account, signed_in):
    client.get(f"{platform.service_url}/health")
    # Metrics are for administrators (or a read:metrics token; see test_headers).
    metrics = signed_in(make_account(Role.ADMIN)).get(f"{platform.service_url}/metrics")
    assert metrics.status_code == 200
    assert 'coursehub_http_requests_total{method="GET",status="200"}' in metrics.text
    assert "coursehub_http_request_duration_seconds_bucket" in metrics.text


def test_the_openapi_document_describes_the_json_api(platform, client):
    document = client.get(f"{platform.service_url}/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for path in ("/api/me", "/api/me/courses", "/api/courses", "/api/users/{username}"):
        assert path in document["paths"]


@pytest.fixture
def redis_we_can_stop(tmp_path):
    """A Redis server of this test's own, so stopping it harms nobody else."""
    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    yield server, f"redis://127.0.0.1:{port}/0"
    server.kill()
    server.wait()


def test_health_says_which_part_is_down_and_sign_in_still_works(
    tmp_path, database_url, redis_we_can_stop, make_account
):
    server, redis_url = redis_we_can_stop
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = platform_env(data_dir, database_url, redis_url)
    running = Platform(url=env["COURSEHUB_BIND_URL"], data_dir=data_dir, env=env)
    running.start()
    try:
        server.kill()
        server.wait()
        for url in (f"{running.url}/hub/health", f"{running.service_url}/health"):
            response = httpx.get(url, timeout=10)
            assert response.status_code == 503
            report = response.json()
            assert report["database"] == "ok" and report["redis"].startswith("error")
        # Redis carries notifications, not sign-ins: people can still work.

        account = make_account()
        with httpx.Client(follow_redirects=True, timeout=30) as client:
            assert sign_in(client, running.url, account.email, PASSWORD).status_code == 200
    finally:
        running.stop()
