"""Each signed-in person starts their own JupyterLab from the hub, in a home of their own under
the data directory."""

from __future__ import annotations

import time
from pathlib import Path

from tests.platform import xsrf_from


def wait_for_lab(http, platform, username: str) -> None:
    """Open JupyterLab as a browser would (this also signs in to the server)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        lab = http.get(f"{platform.url}/user/{username}/lab")
        if lab.status_code == 200 and "JupyterLab" in lab.text:
            return
        time.sleep(1)
    raise AssertionError(f"JupyterLab did not open: {lab.status_code} {lab.text[:300]}")


def test_a_student_starts_jupyterlab_in_their_own_home(platform, make_account, signed_in):
    student = make_account()
    http = signed_in(student)
    home = http.get(f"{platform.url}/hub/home")
    xsrf = xsrf_from(home) if 'name="_xsrf"' in home.text else home.cookies.get("_xsrf", "")
    started = http.post(
        f"{platform.url}/hub/api/users/{student.username}/server",
        headers={"X-XSRFToken": http.cookies.get("_xsrf", path="/hub/") or xsrf},
    )
    assert started.status_code in (201, 202), started.text

    wait_for_lab(http, platform, student.username)

    status = http.get(f"{platform.url}/user/{student.username}/api/status")
    assert status.status_code == 200
    contents = http.get(f"{platform.url}/user/{student.username}/api/contents")
    assert contents.status_code == 200
    assert (platform.data_dir / "homes" / student.username).is_dir()

    stopped = http.delete(
        f"{platform.url}/hub/api/users/{student.username}/server",
        headers={"X-XSRFToken": http.cookies.get("_xsrf", path="/hub/")},
    )
    assert stopped.status_code in (202, 204)


def test_one_student_cannot_open_another_students_server(platform, make_account, signed_in):
    owner, other = make_account(), make_account()
    http = signed_in(other)
    response = http.get(f"{platform.url}/user/{owner.username}/lab")
    assert response.status_code in (403, 404) or f"/user/{owner.username}" not in str(response.url)


def test_a_students_server_runs_sandboxed_without_sight_of_the_platform_data(
    platform, make_account, signed_in
):
    import psutil

    student = make_account()
    http = signed_in(student)
    started = http.post(
        f"{platform.url}/hub/api/users/{student.username}/server",
        headers={"X-XSRFToken": http.cookies.get("_xsrf", path="/hub/")},
    )
    assert started.status_code in (201, 202), started.text
    wait_for_lab(http, platform, student.username)

    servers = [
        process
        for process in psutil.process_iter(["cmdline", "uids"])
        if "jupyterhub.singleuser" in (command := " ".join(process.info["cmdline"] or []))
        # its network's bridge (coursehub.hub.netbridge) names the server's command too
        and "coursehub.hub.netbridge" not in command
        and process.info["uids"].real != 0
        and f"JUPYTERHUB_USER={student.username}".encode() in _environ_of(process)
    ]
    assert len(servers) == 1, "the server should run once, as an unprivileged uid"
    server = servers[0]
    seen_from_inside = Path(f"/proc/{server.pid}/root")
    assert not (seen_from_inside / platform.data_dir.relative_to("/") / "secrets.json").exists()
    assert (
        seen_from_inside / platform.data_dir.relative_to("/") / "homes" / student.username
    ).is_dir()
    # Built from an allow-list (coursehub.hub.sandbox): no other home, no host sockets.
    homes = seen_from_inside / platform.data_dir.relative_to("/") / "homes"
    assert [home.name for home in homes.iterdir()] == [student.username]
    for absent in ("run", "var", "home", "srv", "etc/shadow"):
        assert not (seen_from_inside / absent).exists(), absent

    http.delete(
        f"{platform.url}/hub/api/users/{student.username}/server",
        headers={"X-XSRFToken": http.cookies.get("_xsrf", path="/hub/")},
    )


def _environ_of(process) -> bytes:
    try:
        return Path(f"/proc/{process.pid}/environ").read_bytes()
    except OSError:
        return b""
