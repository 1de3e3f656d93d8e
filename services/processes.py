"""Running the course service as several processes sharing one listening socket.

The parent binds the socket, forks the workers and stays to supervise them: SIGTERM or
SIGINT is passed on to every worker, and if one worker dies the others are stopped too, so
JupyterHub (which watches the parent) restarts the service whole. Nothing is shared between
workers but PostgreSQL, Redis and the metrics folder.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("coursehub.service")


def clear_metrics_folder() -> None:
    """Prometheus' multiprocess files belong to one run of the service."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()


def run_workers(count: int, sockets: list[socket.socket], work: Callable[[], None]) -> int:
    """Fork ``count`` workers running ``work()``; returns the exit code for the parent."""
    if count <= 1:
        work()
        return 0
    children: set[int] = set()
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            work()
            os._exit(0)
        children.add(pid)
    log.info("Course service running as %d worker processes", count)

    def stop_all(signum: int, _frame: object) -> None:
        for pid in children:
            with _gone():
                os.kill(pid, signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop_all)
    for sock in sockets:
        sock.close()
    code = 0
    while children:
        pid, status = os.wait()
        children.discard(pid)
        _mark_dead(pid)
        if os.waitstatus_to_exitcode(status) != 0 and children:
            log.error("Worker %d ended unexpectedly; stopping the others", pid)
            code = 1
            stop_all(signal.SIGTERM, None)
    return code


class _gone:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is ProcessLookupError


def _mark_dead(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and "prometheus_client" in sys.modules:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
