"""With no DATABASE_URL and no REDIS_URL, `coursehub up` runs on an embedded PostgreSQL and
an embedded Redis under its data directory, both asking for a password kept there, stops
cleanly on Ctrl-C and keeps its data."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import redis

from tests.platform import Platform, platform_env, sign_in, xsrf_from


def processes_using(data_dir) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(data_dir) in cmdline:
            found.append(cmdline)
    return found


def assert_only_coursehub_gets_in(data_dir: Path) -> None:
    """The embedded servers ask for the password kept in the data directory (owner-only):
    another local process that finds their sockets is refused."""
    credentials = data_dir / "embedded-credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert set(json.loads(credentials.read_text())) == {"postgres", "redis"}
    [pg_socket] = (data_dir / "pgdata").glob(".s.PGSQL.[0-9]*[0-9]")
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(user="postgres", dbname="coursehub", host=str(pg_socket.parent))
    settings = json.loads((data_dir / "redis" / "redis.db.settings").read_text())
    with pytest.raises(redis.exceptions.RedisError, match=r"authenticat|NOAUTH"):
        redis.Redis(unix_socket_path=settings["unixsocket"]).ping()


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
        assert_only_coursehub_gets_in(data_dir)
        with httpx.Client(follow_redirects=True, timeout=30) as client:
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
