"""Running the course service as several processes sharing one listening socket.

The parent binds the socket, forks the workers and stays to supervise them: SIGTERM or
SIGINT is passed on to every worker. A worker that dies is replaced at once from the parent
(which keeps the socket, so the others go on accepting meanwhile and a page sees at most the
requests the dead one held); one that keeps dying (``restarts`` times within ``window``
seconds) stops the others too, so JupyterHub (which watches the parent) restarts the service
whole. Workers die with the parent (``PR_SET_PDEATHSIG``): a parent killed outright leaves no
orphan holding the port its restart needs. Nothing is shared between workers but PostgreSQL,
Redis and the metrics folder.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("coursehub.service")

PR_SET_PDEATHSIG = 1
RESTARTS = 5
RESTART_WINDOW = 60.0


def clear_metrics_folder() -> None:
    """Prometheus' multiprocess files belong to one run of the service."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()


def die_with_parent(parent: int, signum: int = signal.SIGTERM) -> None:
    """Have the kernel send ``signum`` to this process when ``parent`` ends (Linux), and end
    now if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)


def _fork(work: Callable[[], None]) -> int:
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        # The parent's handlers (stop_all) mean nothing here; the work sets its own.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        die_with_parent(parent)
        work()
        code = 0
    except BaseException:
        log.exception("Course service process %d failed", os.getpid())
    finally:
        os._exit(code)


def run_workers(
    count: int,
    sockets: list[socket.socket],
    work: Callable[[], None],
    restarts: int = RESTARTS,
    window: float = RESTART_WINDOW,
) -> int:
    """Fork ``count`` workers running ``work()``; returns the exit code for the parent."""
    if count <= 1:
        work()
        return 0
    children = {_fork(work) for _ in range(count)}
    log.info("Course service running as %d worker processes", count)
    stopping = False

    def stop_all(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with _gone():
                os.kill(pid, signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop_all)
    deaths: collections.deque[float] = collections.deque()
    code = 0
    while children:
        pid, status = os.wait()
        children.discard(pid)
        _mark_dead(pid)
        exit_code = os.waitstatus_to_exitcode(status)
        if stopping or exit_code == 0:
            continue
        now = time.monotonic()
        deaths.append(now)
        while deaths and now - deaths[0] > window:
            deaths.popleft()
        if len(deaths) > restarts:
            log.error(
                "Course service process %d ended (%s), %d ended within %.0f s; stopping the others",
                pid,
                _describe(exit_code),
                len(deaths),
                window,
            )
            code = 1
            stop_all(signal.SIGTERM, None)
            continue
        replacement = _fork(work)
        children.add(replacement)
        log.error(
            "Course service process %d ended (%s); process %d takes its place",
            pid,
            _describe(exit_code),
            replacement,
        )
    for sock in sockets:
        sock.close()
    return code


def _describe(exit_code: int) -> str:
    if exit_code < 0:
        return f"killed by {signal.Signals(-exit_code).name}"
    return f"exit status {exit_code}"


class _gone:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is ProcessLookupError


def _mark_dead(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and "prometheus_client" in sys.modules:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


# -- every process a command started, for ``coursehub up``'s stop ---------------------------

PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> None:
    """Processes our children leave behind (a server whose hub was killed, a kernel whose
    server died) become our children instead of init's (Linux), so they can be found and
    stopped."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def descendants(root: int) -> set[int]:
    """Every running process below ``root`` (read from /proc)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            children[int(fields[1])].append(int(entry.name))
    found: set[int] = set()
    waiting = [root]
    while waiting:
        for child in children.get(waiting.pop(), ()):
            if child not in found:
                found.add(child)
                waiting.append(child)
    return found


def kill_descendants(spare: frozenset[int] = frozenset()) -> int:
    """SIGKILL every process below this one but ``spare`` and theirs (servers stopped their
    own way later), and reap them; how many there were."""
    spared = set(spare).union(*(descendants(pid) for pid in spare))
    left = descendants(os.getpid()) - spared
    for pid in left:
        with _gone():
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if not descendants(os.getpid()) - spared:
                break
            time.sleep(0.05)
    return len(left)
