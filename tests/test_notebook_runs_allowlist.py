"""A notebook CourseHub runs for an instructor (a lesson's publish check, a report, an
assignment source, a quiz generator: all of them through ``papermill_runs.run_notebook``)
runs on the grading sandbox's allow-list: from its cells, the host's PostgreSQL (socket and
TCP), Redis, the course service's and the hub's ports do not answer, and neither another
course's files nor the platform's data directory nor another run's folder can be read."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

from coursehub.services.notebook_runs.papermill_runs import RUNS_DIR, run_notebook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes need root")
POSTGRES_SOCKETS = ("/var/run/postgresql/.s.PGSQL.5432", "/run/postgresql/.s.PGSQL.5432")

PROBE = """
import json, os, socket
seen = {}
def attempt(name, action):
    try:
        result = action()
        seen[name] = "OPEN" if result is None else result
    except OSError as error:
        seen[name] = type(error).__name__
def unix(path):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
def tcp(port):
    socket.create_connection(("127.0.0.1", port), 2).close()
def read(path):
    with open(path, "rb") as handle:
        return "READ " + handle.read(40).decode(errors="replace")
def listing(path):
    return sorted(os.listdir(path))
for path in sockets:
    attempt(path, lambda: unix(path))
for name, port in ports.items():
    attempt(name, lambda: tcp(port))
for name, path in files.items():
    attempt(name, lambda: read(path))
for name, path in folders.items():
    attempt(name, lambda: listing(path))
attempt("own data file", lambda: read("data/mine.csv"))
print(json.dumps(seen))
"""


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 2).close()
        return True
    except OSError:
        return False


def probe_notebook() -> nbformat.NotebookNode:
    book = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("sockets, ports, files, folders = [], {}, {}, {}")
    parameters.metadata["tags"] = ["parameters"]
    book.cells = [parameters, nbformat.v4.new_code_cell(PROBE)]
    return book


@pytest.fixture
def other_course_file(platform):  # type: ignore[no-untyped-def]
    """A data file of another course, where the platform keeps courses' files."""
    folder = platform.data_dir / "course-files" / f"99{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "answers.csv"
    secret.write_text("student,answer\nada,42\n")
    yield secret
    shutil.rmtree(folder, ignore_errors=True)


def test_a_notebook_run_reaches_no_host_service_and_reads_only_its_own_files(
    platform, other_course_file
):
    ports = {
        "postgresql tcp": 5432,
        "redis tcp": 6379,
        "course service": int(platform.env["COURSEHUB_SERVICE_PORT"]),
        "hub (public address)": urlsplit(platform.env["COURSEHUB_BIND_URL"]).port,
    }
    # The suite needs them running: absent, there would be nothing to be unreachable.
    assert all(answers(port) for port in ports.values()), ports
    assert any(Path(path).exists() for path in POSTGRES_SOCKETS)
    RUNS_DIR.mkdir(mode=0o711, parents=True, exist_ok=True)
    files = {
        "another course's file": str(other_course_file),
        "embedded credentials": str(platform.data_dir / "embedded-credentials.json"),
        "demo sign-ins": str(platform.data_dir / "demo-logins.json"),
    }
    folders = {
        "data dir": str(platform.data_dir),
        "courses' files": str(platform.data_dir / "course-files"),
        "other runs": str(RUNS_DIR),
    }

    run = asyncio.run(
        run_notebook(
            probe_notebook(),
            parameters={
                "sockets": list(POSTGRES_SOCKETS),
                "ports": ports,
                "files": files,
                "folders": folders,
            },
            files={"data/mine.csv": b"city,temp\nLisbon,21\n"},
            timeout_seconds=120,
            cell_timeout_seconds=60,
        )
    )

    assert run.ok, run.problem
    printed = "".join(o.get("text", "") for o in run.notebook.cells[-1].get("outputs", []))
    seen = json.loads(printed.strip().splitlines()[-1])
    assert seen["own data file"].startswith("READ city,temp"), seen
    refused = {"FileNotFoundError", "PermissionError", "ConnectionRefusedError", "OSError"}
    for name in [*POSTGRES_SOCKETS, *ports, *files, "data dir", "courses' files"]:
        assert seen[name] in refused, (name, seen[name])
    # The runs' parent shows this run's own folder at most, never another run's.
    others = seen["other runs"]
    assert others in refused if isinstance(others, str) else len(others) <= 1, others
    assert "ada,42" not in printed
