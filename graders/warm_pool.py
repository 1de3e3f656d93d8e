"""Sandboxes started ahead of their jobs, so that a job finds its kernel already running.

A grading job spends most of its time starting things: bubblewrap, the runner, the kernel.
None of that depends on the submission, so a worker keeps ``size`` sandboxes ready (each in
its own job folder, as its own uid from the machine's pool, with its cgroup limits already
on) and starts the next one while a job runs. Each sandbox serves exactly one job and is torn
down with it: nothing of one student's run can meet another's.

A sandbox that died while it waited (its kernel crashed, someone killed it) is dropped and
another is started; ``take`` always returns a sandbox whose runner is alive and ready.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from coursehub.graders.autograde import prepare_workdir
from coursehub.graders.limits import GradingLimits
from coursehub.graders.sandbox_job import SandboxFailure, StartedJob, start_job

log = logging.getLogger(__name__)

STARTS_BEFORE_GIVING_UP = 3
SlotSource = Callable[[], AbstractContextManager[int]]


@dataclass
class WarmSandbox:
    """One started sandbox, its uid slot and its job folder, for one job."""

    job: StartedJob
    resources: ExitStack

    @property
    def workdir(self) -> Path:
        return self.job.workdir

    @property
    def uid(self) -> int:
        return self.job.uid

    def close(self) -> None:
        """End the sandbox if its job has not, give back the uid slot and the job folder."""
        self.resources.close()


@dataclass
class WarmPool:
    """Keeps ``size`` sandboxes ready for the next jobs of one worker process."""

    slot: SlotSource
    jobs_dir: Path
    limits: GradingLimits = field(default_factory=GradingLimits)
    hidden_paths: Sequence[str] = ()
    size: int = 1
    _ready: deque[WarmSandbox] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _starting: int = 0
    _closed: bool = False

    def take(self) -> WarmSandbox:
        """A ready sandbox (blocking while one starts if none is); the pool then starts
        another in the background."""
        for _ in range(STARTS_BEFORE_GIVING_UP):
            with self._lock:
                candidate = self._ready.popleft() if self._ready else None
            if candidate is None:
                candidate = self._start()
            if candidate.job.alive() and candidate.job.wait_ready(self.limits.startup_grace_s):
                self.refill()
                return candidate
            log.warning("A grading sandbox (uid %d) died before its job came", candidate.uid)
            candidate.close()
        raise SandboxFailure(f"{STARTS_BEFORE_GIVING_UP} grading sandboxes in a row did not start")

    def refill(self) -> None:
        """Start sandboxes in the background until ``size`` are ready or starting."""
        with self._lock:
            wanted = self.size - len(self._ready) - self._starting
            if self._closed or wanted <= 0:
                return
            self._starting += wanted
        for _ in range(wanted):
            threading.Thread(target=self._start_in_background, daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            waiting = list(self._ready)
            self._ready.clear()
        for sandbox in waiting:
            sandbox.close()

    def _start_in_background(self) -> None:
        try:
            sandbox = self._start()
        except Exception:
            log.exception("Could not start a warm grading sandbox")
            sandbox = None
        with self._lock:
            self._starting -= 1
            if sandbox is not None and not self._closed:
                self._ready.append(sandbox)
                sandbox = None
        if sandbox is not None:
            sandbox.close()

    def _start(self) -> WarmSandbox:
        resources = ExitStack()
        try:
            uid = resources.enter_context(self.slot())
            self.jobs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Folders of this slot's earlier holder were left by a worker that died mid-job.
            for stale in self.jobs_dir.glob(f"job-{uid}-*"):
                shutil.rmtree(stale, ignore_errors=True)
            workdir = Path(
                resources.enter_context(
                    tempfile.TemporaryDirectory(prefix=f"job-{uid}-", dir=self.jobs_dir)
                )
            )
            prepare_workdir(workdir, uid)
            job = start_job(workdir, uid, self.limits, self.hidden_paths)
            resources.callback(_end_quietly, job)
        except BaseException:
            resources.close()
            raise
        return WarmSandbox(job, resources)


def _end_quietly(job: StartedJob) -> None:
    with contextlib.suppress(SandboxFailure, OSError):
        job.abandon()
