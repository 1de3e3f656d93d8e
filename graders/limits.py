"""How much a grading job may use: memory, CPU, processes, time and output."""

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

    def to_json(self) -> dict[str, float]:
        return {
            "memory_bytes": self.memory_bytes,
            "cpus": self.cpus,
            "max_processes": self.max_processes,
            "cell_timeout_s": self.cell_timeout_s,
            "notebook_timeout_s": self.notebook_timeout_s,
            "max_output_bytes": self.max_output_bytes,
            "startup_grace_s": self.startup_grace_s,
        }
