"""A cgroup (v1) per grading job: memory, process and CPU quota, and a way to kill it all.

Every process of a job (bubblewrap, the runner, the kernel, whatever student code starts)
is in the job's cgroups from its first instruction, because the command is started through a
tiny shell that moves itself in before it execs bubblewrap. At the end the freezer stops the
whole tree at once, everything in it gets SIGKILL, and the cgroups are removed.

Without writable cgroups (not root, cgroup v2 only) ``prlimit_prefix`` gives the weaker
fallback: RLIMIT_AS for memory and RLIMIT_NPROC (counted per uid, and every job has a uid of
its own) for processes, and no CPU quota.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from coursehub.graders.limits import GradingLimits

log = logging.getLogger(__name__)
CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "coursehub-grading"
CONTROLLERS = ("memory", "pids", "cpu", "freezer")
GRADING_CPU_SHARES = 32
CPU_PERIOD_US = 100_000
RUNNER_RESERVE = 32  # processes and threads of bubblewrap and the runner


@dataclass(frozen=True)
class JobCgroup:
    name: str
    folders: dict[str, Path]

    @classmethod
    def create(cls, name: str, limits: GradingLimits) -> JobCgroup | None:
        """The job's cgroups with their limits, or None (with a warning) if not possible."""
        folders: dict[str, Path] = {}
        try:
            for controller in CONTROLLERS:
                if (CGROUP_ROOT / controller / "cgroup.procs").exists():
                    folder = CGROUP_ROOT / controller / PARENT / name
                    folder.mkdir(parents=True, exist_ok=True)
                    folders[controller] = folder
            if not {"memory", "pids"} <= folders.keys():
                raise OSError("no cgroup v1 memory and pids controllers")
            group = cls(name, folders)
            group._write("memory", "memory.limit_in_bytes", limits.memory_bytes)
            if (folders["memory"] / "memory.memsw.limit_in_bytes").exists():
                group._write("memory", "memory.memsw.limit_in_bytes", limits.memory_bytes)
            # The kernel's own limit (RLIMIT_NPROC, set by the runner) is max_processes; the
            # cgroup allows a reserve more, so that a fork bomb never starves the runner.
            group._write("pids", "pids.max", limits.max_processes + RUNNER_RESERVE)
            if "cpu" in folders:
                # All grading together weighs as little against the hub and the course
                # service (1024 each) as a nice-15 process: pages stay quick while a queue
                # drains. A process's nice value cannot do this: it counts only inside its
                # cgroup.
                shares = CGROUP_ROOT / "cpu" / PARENT / "cpu.shares"
                if shares.exists():
                    shares.write_text(str(GRADING_CPU_SHARES))
                group._write("cpu", "cpu.cfs_period_us", CPU_PERIOD_US)
                group._write("cpu", "cpu.cfs_quota_us", int(limits.cpus * CPU_PERIOD_US))
            return group
        except OSError as error:
            for folder in folders.values():
                _remove(folder)
            log.warning(
                "Grading WITHOUT cgroups (%s): memory and processes are limited with "
                "prlimit only, CPU is not limited, and stray processes are found by uid. "
                "Run the grader as root on a machine with cgroup v1 controllers.",
                error,
            )
            return None

    @classmethod
    def sweep(cls, prefix: str) -> None:
        """Kill and remove the cgroups of earlier jobs named ``prefix``* (the job's uid: a
        worker that died mid-job left them, and the uid is this job's now)."""
        stale: dict[str, dict[str, Path]] = {}
        for controller in CONTROLLERS:
            for folder in (CGROUP_ROOT / controller / PARENT).glob(f"{prefix}*"):
                stale.setdefault(folder.name, {})[controller] = folder
        for name, folders in stale.items():
            group = cls(name, folders)
            if "pids" in folders:
                group.kill_all()
            group.remove()

    def _write(self, controller: str, file: str, value: object) -> None:
        (self.folders[controller] / file).write_text(str(value))

    def enter_prefix(self) -> list[str]:
        """A command prefix that moves itself into the cgroups, then execs the rest."""
        moves = " && ".join(
            f"echo $$ > {shlex.quote(str(folder / 'cgroup.procs'))}"
            for folder in self.folders.values()
        )
        return ["/bin/sh", "-c", f'{moves} && exec "$@"', "coursehub-grading-job"]

    def processes(self) -> set[int]:
        text = (self.folders["pids"] / "cgroup.procs").read_text()
        return {int(pid) for pid in text.split()}

    def tasks(self) -> int:
        """Threads of every process in the job (what RLIMIT_NPROC counts)."""
        return len((self.folders["pids"] / "tasks").read_text().split())

    def memory_exhausted(self) -> bool:
        control = (self.folders["memory"] / "memory.oom_control").read_text()
        fields = dict(line.split() for line in control.splitlines() if " " in line)
        if "oom_kill" in fields:
            return int(fields["oom_kill"]) > 0
        return int((self.folders["memory"] / "memory.failcnt").read_text()) > 0

    def processes_exhausted(self) -> bool:
        events = (self.folders["pids"] / "pids.events").read_text().split()
        return len(events) == 2 and int(events[1]) > 0

    def kill_all(self, patience_s: float = 10) -> None:
        """Freeze, SIGKILL and thaw until no process is left in the job's cgroups."""
        deadline = time.monotonic() + patience_s
        freezer = self.folders.get("freezer")
        while (pids := self.processes()) and time.monotonic() < deadline:
            if freezer:
                (freezer / "freezer.state").write_text("FROZEN")
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if freezer:
                (freezer / "freezer.state").write_text("THAWED")
            time.sleep(0.01)
        if self.processes():
            raise OSError(f"processes of grading job {self.name} survived SIGKILL")

    def remove(self) -> None:
        for folder in self.folders.values():
            _remove(folder)


def _remove(folder: Path) -> None:
    for _ in range(50):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
    log.warning("Could not remove the cgroup %s", folder)


def prlimit_prefix(limits: GradingLimits) -> list[str]:
    return [
        "prlimit",
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.max_processes}",
        "--",
    ]
