"""Start the runner in its sandbox, feed it the plan, and end the job at its deadline.

The sandbox is ``coursehub.hub.sandbox.Sandbox``: bubblewrap as the job's uid, built from
an allow-list (system software, the Python environment, CourseHub's code), a private,
size-limited /tmp, the job folder (a size-limited tmpfs, see ``autograde.prepare_workdir``)
the only writable place, the folder holding all job folders hidden (other students' jobs),
an environment with nothing but what the runner needs (and ``NBGRADER_EXECUTION=autograde``),
and no network namespace of the host. Resources come from the job's cgroups
(``coursehub.graders.job_cgroup``). Whatever happens, when this returns nothing of the job
is left running: the cgroup is killed and emptied, and no process of the uid remains.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from coursehub.graders.job_cgroup import JobCgroup, prlimit_prefix
from coursehub.graders.limits import GradingLimits
from coursehub.hub.sandbox import Sandbox, SandboxUnavailable

RUNNER = ("-m", "coursehub.graders.runner")
STDERR_KEPT = 20_000
EXIT_KERNEL_FAILED = 70
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
READY_LINE = b"ready\n"
PRIVATE_HOME = "/tmp/home"  # noqa: S108 - the sandbox's own /tmp


class SandboxFailure(RuntimeError):
    """The platform could not run the job (a tool missing, cgroups broken)."""


@dataclass(frozen=True)
class JobRun:
    returncode: int | None
    stderr: str
    deadline_hit: bool
    memory_exhausted: bool
    processes_exhausted: bool
    seconds: float


def runner_environment() -> dict[str, str]:
    return {
        "PATH": SAFE_PATH,
        "HOME": PRIVATE_HOME,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": f"{PRIVATE_HOME}/.ipython",
        "JUPYTER_RUNTIME_DIR": f"{PRIVATE_HOME}/runtime",
        "JUPYTER_PLATFORM_DIRS": "1",
        "MPLCONFIGDIR": f"{PRIVATE_HOME}/.matplotlib",
        "NBGRADER_EXECUTION": "autograde",  # as nbgrader autograde sets it
    }


def job_sandbox(workdir: Path, uid: int, hidden_paths: Sequence[str]) -> Sandbox:
    return Sandbox(
        uid=uid,
        workdir=str(workdir),
        hidden_paths=(str(workdir.parent), *hidden_paths),
        writable=(str(workdir),),
        environment=runner_environment(),
        clear_environment=True,
        isolate_network=True,
    )


@dataclass
class StartedJob:
    """A runner started in its sandbox whose kernel is starting or ready, waiting for its
    plan. A warm pool (``coursehub.graders.warm_pool``) keeps some of these ahead of jobs."""

    workdir: Path
    uid: int
    limits: GradingLimits
    process: subprocess.Popen
    group: JobCgroup | None
    stderr: list[bytes]
    started: float
    ready: bool = False
    ended: bool = False

    def wait_ready(self, timeout_s: float) -> bool:
        """Whether the runner said its kernel is ready (within ``timeout_s``)."""
        if not self.ready:
            assert self.process.stdout is not None
            readable, _, _ = select.select([self.process.stdout], [], [], timeout_s)
            self.ready = bool(readable) and self.process.stdout.readline() == READY_LINE
        return self.ready

    def alive(self) -> bool:
        return self.process.poll() is None

    def abandon(self) -> None:
        """Stop a job that will not get its plan (the pool is closing, the kernel failed);
        nothing happens if it has ended already."""
        if not self.ended:
            self.ended = True
            _end(self.process, self.group, self.uid, self.limits.max_processes)


def start_job(
    workdir: Path, uid: int, limits: GradingLimits, hidden_paths: Sequence[str] = ()
) -> StartedJob:
    """Start the runner on ``workdir`` as ``uid``; its kernel starts at once and then waits
    for the plan (``finish_job``). ``workdir`` exists, is owned by ``uid`` and is empty."""
    try:
        prefix = job_sandbox(workdir, uid, hidden_paths).command_prefix()
    except SandboxUnavailable as error:
        raise SandboxFailure(str(error)) from error
    kill_uid(uid)  # a worker that died mid-job may have left this uid's processes behind
    JobCgroup.sweep(f"uid{uid}-")
    group = JobCgroup.create(f"uid{uid}-{os.getpid()}-{threading.get_ident()}", limits)
    enter = group.enter_prefix() if group else prlimit_prefix(limits)
    startup = ["--startup-timeout", str(int(limits.startup_grace_s))]
    startup += ["--kernel-processes", str(int(limits.max_processes))]
    command = [*enter, *prefix, sys.executable, *RUNNER, *startup]
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            start_new_session=True,
        )
    except OSError as error:
        if group:
            group.remove()
        raise SandboxFailure(f"could not start the sandbox: {error}") from error
    return StartedJob(workdir, uid, limits, process, group, _drain(process), time.monotonic())


def finish_job(job: StartedJob, plan: bytes) -> JobRun:
    """Give ``job`` its plan (the submission is in its folder by now) and wait until it ends
    or its deadline; whatever happens, nothing of it is left running afterwards."""
    limits, process = job.limits, job.process
    deadline_s = limits.notebook_timeout_s + limits.startup_grace_s + 10
    deadline_hit, exhausted = False, (False, False)
    sent = time.monotonic()
    try:
        try:
            assert process.stdin is not None
            process.stdin.write(plan)
            process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            process.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            deadline_hit = True
    finally:
        job.ended = True
        exhausted = _end(process, job.group, job.uid, limits.max_processes)
    return JobRun(
        returncode=None if deadline_hit else process.returncode,
        stderr=b"".join(job.stderr).decode(errors="replace")[-STDERR_KEPT:],
        deadline_hit=deadline_hit,
        memory_exhausted=exhausted[0],
        processes_exhausted=exhausted[1],
        seconds=time.monotonic() - sent,
    )


def _drain(process: subprocess.Popen) -> list[bytes]:
    """Read stderr in the background, keeping only its last part."""
    kept: list[bytes] = []

    def read() -> None:
        assert process.stderr is not None
        size = 0
        for chunk in iter(lambda: process.stderr.read(8192), b""):
            kept.append(chunk)
            size += len(chunk)
            while size > STDERR_KEPT and len(kept) > 1:
                size -= len(kept.pop(0))

    threading.Thread(target=read, daemon=True).start()
    return kept


def _end(
    process: subprocess.Popen, group: JobCgroup | None, uid: int, max_processes: int
) -> tuple[bool, bool]:
    """Kill the job's whole tree and make sure nothing of ``uid`` is left; (whether the job
    ran out of memory, whether it ran out of processes). The kernel's processes are limited
    by RLIMIT_NPROC below the cgroup's limit, so a job that used them all up is one that
    still has nearly that many when it ends."""
    exhausted = (False, False)
    crowded = False
    try:
        if group:
            with contextlib.suppress(OSError):
                crowded = group.tasks() >= max_processes - 4
            group.kill_all()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)
        kill_uid(uid)
        if group:
            exhausted = (group.memory_exhausted(), group.processes_exhausted() or crowded)
    finally:
        if group:
            group.remove()
    return exhausted


def processes_of(uid: int) -> list[int]:
    """Live processes whose real, effective, saved or file-system uid is ``uid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("State", "").strip().startswith("Z"):
            continue  # dead already, waiting for its parent to collect it
        if str(uid) in fields.get("Uid", "").split():
            found.append(int(entry.name))
    return found


def kill_uid(uid: int, patience_s: float = 10) -> None:
    """SIGKILL every process owned by ``uid`` (the job's own uid) until there is none."""
    deadline = time.monotonic() + patience_s
    while (pids := processes_of(uid)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    if processes_of(uid):
        raise SandboxFailure(f"processes of uid {uid} survived SIGKILL")
