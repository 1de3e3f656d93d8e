"""Each signed-in person starts their own JupyterLab from the hub, in a home of their own under
the data directory."""

from __future__ import annotations

import time

from tests.platform import xsrf_from


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

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        lab = http.get(f"{platform.url}/user/{student.username}/lab")
        if lab.status_code == 200 and "JupyterLab" in lab.text:
            break
        time.sleep(1)
    else:
        raise AssertionError(f"JupyterLab did not open: {lab.status_code} {lab.text[:300]}")

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
