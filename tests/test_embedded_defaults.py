"""With no DATABASE_URL and no REDIS_URL, `coursehub up` runs on an embedded PostgreSQL and
an embedded Redis under its data directory, stops cleanly on Ctrl-C and keeps its data."""

from __future__ import annotations

import json

import httpx
import psutil

from tests.platform import Platform, platform_env, sign_in, xsrf_from


def processes_using(data_dir) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(data_dir) in cmdline:
            found.append(cmdline)
    return found


def test_embedded_servers_start_stop_and_keep_the_data(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = platform_env(data_dir, None, None)
    platform = Platform(url=env["COURSEHUB_BIND_URL"], data_dir=data_dir, env=env)

    platform.start(timeout=180)
    try:
        with httpx.Client(follow_redirects=True, timeout=30) as client:
            report = client.get(f"{platform.service_url}/health").json()
            assert report == {
                "status": "ok",
                "database": "ok",
                "redis": "ok",
                "sandbox": "ok",
                "disk": "ok",
                "workers": "ok",
            }
            form = client.get(f"{platform.service_url}/register")
            created = client.post(
                f"{platform.service_url}/register",
                data={
                    "_xsrf": xsrf_from(form),
                    "name": "Kept Learner",
                    "email": "kept@coursehub.example",
                    "password": "still here tomorrow",
                },
            )
            assert created.url.path.endswith("/dashboard"), "registering signs the person in"
        secrets_before = json.loads((data_dir / "secrets.json").read_text())
    finally:
        assert platform.stop() == 0
    assert (data_dir / "pgdata").is_dir() and (data_dir / "redis").is_dir()
    assert processes_using(data_dir) == [], "something kept running after Ctrl-C"

    platform.start(timeout=180)
    try:
        with httpx.Client(follow_redirects=True, timeout=30) as client:
            signed = sign_in(client, platform.url, "kept@coursehub.example", "still here tomorrow")
            assert signed.status_code == 200
            me = client.get(f"{platform.service_url}/api/me").json()
            assert me["email"] == "kept@coursehub.example"
        assert json.loads((data_dir / "secrets.json").read_text()) == secrets_before
    finally:
        assert platform.stop() == 0
    assert processes_using(data_dir) == []
