"""``services.processes``: the course service as several processes on one socket. One
process runs in place; several are forked and supervised: when all end well the parent ends
well, one that dies is replaced at once, one that keeps dying stops the others and the parent
reports the failure, so JupyterHub restarts the service whole; and a parent killed outright
takes its workers with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coursehub.services import processes


@pytest.fixture
def restored_signals() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_one_process_runs_in_place():
    ran: list[int] = []
    assert processes.run_workers(1, [], lambda: ran.append(os.getpid())) == 0
    assert ran == [os.getpid()]


def test_forked_workers_that_end_well_end_the_parent_well(tmp_path: Path, restored_signals):
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))

    def work() -> None:
        (tmp_path / str(os.getpid())).touch()

    assert processes.run_workers(3, [listening], work) == 0
    assert len(list(tmp_path.iterdir())) == 3
    assert listening.fileno() == -1  # closed once every worker has ended


def test_a_killed_worker_is_replaced_at_once(tmp_path: Path, restored_signals):
    """One process of two is killed; another takes its place within a second, and the
    parent ends well when the workers do."""

    def work() -> None:
        (tmp_path / f"started-{os.getpid()}").touch()
        try:
            (tmp_path / "killed").touch(exist_ok=False)
        except FileExistsError:
            time.sleep(1)
            return
        os.kill(os.getpid(), signal.SIGKILL)  # one process is killed outright

    began = time.monotonic()
    assert processes.run_workers(2, [], work) == 0
    assert len(list(tmp_path.glob("started-*"))) == 3, "the killed process was replaced"
    assert time.monotonic() - began < 5


def test_a_worker_that_keeps_dying_stops_the_others_and_fails_the_parent(
    tmp_path: Path, restored_signals
):
    started = time.monotonic()

    def work() -> None:
        marker = tmp_path / "first"
        try:
            marker.touch(exist_ok=False)
        except FileExistsError:
            os._exit(3)  # every later process dies at once
        time.sleep(60)  # a healthy worker serving requests, until it is stopped

    assert processes.run_workers(2, [], work, restarts=3, window=30) == 1
    assert time.monotonic() - started < 30  # the sleeping worker was stopped, not awaited


SERVICE_LIKE = """
import os, sys, time
from coursehub.services import processes
def work():
    open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
    time.sleep(120)
processes.run_workers(2, [], work)
"""


def test_workers_die_with_a_parent_killed_outright(tmp_path: Path):
    """A course-service parent killed with SIGKILL leaves no worker behind (13.13)."""
    parent = subprocess.Popen([sys.executable, "-c", SERVICE_LIKE, str(tmp_path)])
    deadline = time.monotonic() + 30
    while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = [int(path.name) for path in tmp_path.iterdir()]
    assert len(workers) == 2
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "a worker outlived its parent"


def _alive(pid: int) -> bool:
    """Running (not a zombie waiting for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_the_metrics_folder_starts_empty(tmp_path: Path, monkeypatch):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"old")
    (folder / "keep.txt").write_text("not a metrics file")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    processes.clear_metrics_folder()
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
