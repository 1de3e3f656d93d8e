"""`coursehub up` on a machine where people's code cannot be sandboxed refuses to start with
one sentence saying what to install, instead of serving lessons that spin forever."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes start only as root")


def test_up_without_setpriv_or_bubblewrap_refuses_with_what_to_install(tmp_path):
    venv_bin = Path(sys.executable).parent
    only_python = tmp_path / "bin"
    only_python.mkdir()
    for name in ("python", "python3", "coursehub"):
        (only_python / name).symlink_to(venv_bin / name)
    environment = {
        "PATH": str(only_python),  # no /usr/bin: neither setpriv nor the system's bwrap
        "HOME": str(tmp_path),
        "COURSEHUB_DATA_DIR": str(tmp_path / "data"),
    }
    started = subprocess.run(
        [str(only_python / "coursehub"), "up", "--no-demo"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 1
    assert "CourseHub cannot start" in started.stderr
    assert "install the Debian packages bubblewrap and util-linux" in started.stderr
    assert not (tmp_path / "data").exists(), "nothing was started or written"


def test_the_running_platform_reports_that_its_sandbox_starts(platform, client):
    report = client.get(f"{platform.service_url}/health").json()
    assert report["sandbox"] == "ok"


def test_up_with_its_data_in_a_path_with_a_space_says_how_to_run_instead(tmp_path):
    data_dir = tmp_path / "course data"
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "COURSEHUB_DATA_DIR": str(data_dir),
    }
    started = subprocess.run(
        [str(Path(sys.executable).parent / "coursehub"), "up", "--no-demo"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 1
    assert "CourseHub cannot start" in started.stderr
    assert "Set COURSEHUB_DATA_DIR to a folder whose path has no spaces" in started.stderr
    assert not (data_dir / "pgdata").exists()
