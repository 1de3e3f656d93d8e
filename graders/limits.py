"""How much a grading job may use: memory, CPU, processes, time, output and disk."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GradingLimits:
    """Limits of one grading job, enforced by the job's cgroup and by the runner.

    ``notebook_timeout_s`` counts the execution of the cells; the kernel's start-up gets
    ``startup_grace_s`` more before the whole job is killed.
    """

    memory_bytes: int = 1 << 30
    cpus: float = 1.0
    max_processes: int = 128
    cell_timeout_s: float = 30
    notebook_timeout_s: float = 300
    max_output_bytes: int = 1_000_000
    startup_grace_s: float = 30
    # The job folder is a tmpfs of this size (writes past it fail with ENOSPC; the host's
    # disk is never touched). 0: an ordinary folder (no root, or a test that wants one).
    disk_mb: int = 256

    def to_json(self) -> dict[str, float]:
        return {
            "memory_bytes": self.memory_bytes,
            "cpus": self.cpus,
            "max_processes": self.max_processes,
            "cell_timeout_s": self.cell_timeout_s,
            "notebook_timeout_s": self.notebook_timeout_s,
            "max_output_bytes": self.max_output_bytes,
            "startup_grace_s": self.startup_grace_s,
            "disk_mb": self.disk_mb,
        }
