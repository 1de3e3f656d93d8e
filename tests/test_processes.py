"""``services.processes``: the course service as several processes on one socket. One
process runs in place; several are forked and supervised: when all end well the parent ends
well, and when one dies the others are stopped and the parent reports the failure, so
JupyterHub restarts the service whole."""

from __future__ import annotations

import os
import signal
import socket
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
    assert listening.fileno() == -1  # the parent keeps no socket open; the workers do


def test_a_dying_worker_stops_the_others_and_fails_the_parent(tmp_path: Path, restored_signals):
    started = time.monotonic()

    def work() -> None:
        marker = tmp_path / "first"
        try:
            marker.touch(exist_ok=False)
        except FileExistsError:
            time.sleep(60)  # a healthy worker serving requests, until it is stopped
            return
        os._exit(3)  # the first worker dies

    assert processes.run_workers(2, [], work) == 1
    assert time.monotonic() - started < 30  # the sleeping worker was stopped, not awaited


def test_the_metrics_folder_starts_empty(tmp_path: Path, monkeypatch):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"old")
    (folder / "keep.txt").write_text("not a metrics file")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    processes.clear_metrics_folder()
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
