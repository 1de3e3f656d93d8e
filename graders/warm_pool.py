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
import queue
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from coursehub.graders.autograde import prepare_workdir, release_workdir
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
    """Keeps ``size`` sandboxes ready for the next jobs of one worker process.

    One long-lived thread of the pool starts every sandbox: bubblewrap ends its sandbox when
    the thread that started it ends (``--die-with-parent``), so sandboxes must not be started
    from short-lived threads."""

    slot: SlotSource
    jobs_dir: Path
    limits: GradingLimits = field(default_factory=GradingLimits)
    hidden_paths: Sequence[str] = ()
    size: int = 1
    _ready: deque[WarmSandbox] = field(default_factory=deque)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _requests: queue.SimpleQueue[bool] = field(default_factory=queue.SimpleQueue)
    _starter: threading.Thread | None = None
    _starting: int = 0
    _closed: bool = False

    def take(self) -> WarmSandbox:
        """A ready sandbox (blocking while one starts if none is); the pool then starts
        another in the background."""
        for _ in range(STARTS_BEFORE_GIVING_UP):
            with self._changed:
                if not self._ready and not self._starting:
                    self._request(1)
                while not self._ready:
                    if self._closed:
                        raise SandboxFailure("The grading sandbox pool is closed.")
                    self._changed.wait(timeout=1)
                candidate = self._ready.popleft()
            self.refill()
            if candidate.job.alive() and candidate.job.wait_ready(self.limits.startup_grace_s):
                return candidate
            candidate.close()
            log.warning(
                "A grading sandbox (uid %d) died before its job came: %s",
                candidate.uid,
                b"".join(candidate.job.stderr).decode(errors="replace")[-2000:],
            )
        raise SandboxFailure(f"{STARTS_BEFORE_GIVING_UP} grading sandboxes in a row did not start")

    def refill(self) -> None:
        """Have sandboxes started in the background until ``size`` are ready or starting."""
        with self._changed:
            if not self._closed:
                self._request(self.size - len(self._ready) - self._starting)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            waiting = list(self._ready)
            self._ready.clear()
            self._changed.notify_all()
        self._requests.put(False)
        for sandbox in waiting:
            sandbox.close()
        if self._starter is not None:
            self._starter.join(timeout=60)

    def _request(self, count: int) -> None:
        """Ask the starter thread for ``count`` more sandboxes (the lock is held)."""
        if count <= 0:
            return
        if self._starter is None:
            self._starter = threading.Thread(
                target=self._start_requested, name="grading-sandbox-starter", daemon=True
            )
            self._starter.start()
        self._starting += count
        for _ in range(count):
            self._requests.put(True)

    def _start_requested(self) -> None:
        while self._requests.get():
            try:
                sandbox: WarmSandbox | None = self._start()
            except Exception:
                log.exception("Could not start a grading sandbox")
                sandbox = None
            with self._changed:
                self._starting -= 1
                if sandbox is not None and not self._closed:
                    self._ready.append(sandbox)
                    sandbox = None
                self._changed.notify_all()
            if sandbox is not None:
                sandbox.close()
        with self._changed:
            waiting = list(self._ready)
            self._ready.clear()
        for sandbox in waiting:  # started by this thread: they would die with it anyway
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
            prepare_workdir(workdir, uid, self.limits.disk_mb)
            resources.callback(release_workdir, workdir)  # before the folder is removed
            job = start_job(workdir, uid, self.limits, self.hidden_paths)
            resources.callback(_end_quietly, job)
        except BaseException:
            resources.close()
            raise
        return WarmSandbox(job, resources)


def _end_quietly(job: StartedJob) -> None:
    with contextlib.suppress(SandboxFailure, OSError):
        job.abandon()
