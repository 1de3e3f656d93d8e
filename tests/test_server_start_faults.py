"""A person's JupyterLab that dies while starting is reported within seconds, with what it said,
instead of "Open in JupyterLab" waiting out the hub's two minutes."""

from __future__ import annotations

import json
import time

BROKEN_CONFIG = """
import os, sys
print("a setting in this person's own Jupyter configuration stops the server", file=sys.stderr)
os._exit(3)
"""


def test_a_server_that_dies_at_start_is_reported_at_once(platform, make_account, signed_in):
    student = make_account()
    # The student broke their own Jupyter configuration, in their home.
    config = platform.data_dir / "homes" / student.username / ".jupyter"
    config.mkdir(parents=True)
    (config / "jupyter_server_config.py").write_text(BROKEN_CONFIG)
    http = signed_in(student)
    xsrf = {"X-XSRFToken": http.cookies.get("_xsrf", path="/hub/") or ""}

    began = time.monotonic()
    started = http.post(f"{platform.url}/hub/api/users/{student.username}/server", headers=xsrf)
    assert started.status_code in (202, 500), started.text
    failure = started.json().get("message", "") if started.status_code == 500 else ""
    if started.status_code == 202:
        progress = f"{platform.url}/hub/api/users/{student.username}/server/progress"
        with http.stream("GET", progress, headers=xsrf, timeout=60) as events:
            for line in events.iter_lines():
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    if event.get("failed"):
                        failure = event["message"]
                        break
    elapsed = time.monotonic() - began

    assert elapsed < 20, f"the failure took {elapsed:.0f} s to be reported"
    assert "Your server stopped while starting (it ended with status 3)" in failure
    assert "own Jupyter configuration stops the server" in failure
    # What CourseHub's "Open in JupyterLab" reads after a failed start: the same sentence.
    progress = f"{platform.url}/hub/api/users/{student.username}/server/progress"
    events = http.get(progress, headers=xsrf, timeout=30).text
    assert "Your server stopped while starting" in events
    user = http.get(f"{platform.url}/hub/api/users/{student.username}", headers=xsrf).json()
    assert not user["servers"], "nothing is left running or pending"
