"""How a grading job ended, and the sentence that tells the student.

Everything but ``graded`` is the student's doing (too slow, too much memory or output, a
dead kernel, a runner the notebook killed with a signal) and final. A kernel or runner that
did not start, a runner that failed, or one that ended without results while no limit was
hit and no signal killed it, is the platform's: ``infrastructure`` asks the caller to raise
``InfrastructureFault`` so that the queue retries (and staff see "grading failed, not the
student's fault"), never a student's 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from coursehub.graders.limits import GradingLimits
from coursehub.graders.runner import EXIT_KERNEL_FAILED, EXIT_RUNNER_FAILED
from coursehub.graders.sandbox_job import JobRun


@dataclass(frozen=True)
class Outcome:
    name: str
    message: str
    unrun_reason: str = "the notebook stopped before it."
    flags: tuple[str, ...] = ()
    infrastructure: bool = False


def killed_by_signal(returncode: int | None) -> bool:
    """A process (or bubblewrap reporting its child, 128 + the signal) killed by a signal."""
    return returncode is not None and (returncode < 0 or 128 < returncode < 160)


def _cell(report: dict) -> str:
    index = report.get("stopped_at")
    return "a cell" if index is None else f"cell {index + 1}"


def decide_outcome(run: JobRun, report: dict | None, limits: GradingLimits) -> Outcome:
    if report and report.get("most_tasks", 0) >= limits.max_processes - 8:
        run = replace(run, processes_exhausted=True)  # the kernel's RLIMIT_NPROC was reached
    gib = limits.memory_bytes / (1 << 30)
    memory = Outcome(
        "memory",
        f"Your notebook used more than {gib:g} GiB of memory and was stopped. Use less "
        "memory (smaller data, no huge lists) and submit again.",
        "the notebook ran out of memory before it.",
    )
    processes = Outcome(
        "crashed",
        f"Your notebook started more than {limits.max_processes} processes at once and was "
        "stopped. Do not start processes in a loop, then submit again.",
        "the notebook started too many processes before it.",
        flags=("The notebook hit the process limit (a fork bomb?).",),
    )
    if run.deadline_hit:
        if run.processes_exhausted:
            return processes
        return Outcome(
            "timeout",
            f"Your notebook ran longer than {limits.notebook_timeout_s:g} seconds in all and "
            "was stopped. Look for loops that never end, then submit again.",
            "the notebook ran out of time before it.",
        )
    if report is None:
        if run.memory_exhausted:
            return memory
        if run.processes_exhausted:
            return processes
        if not killed_by_signal(run.returncode) or run.returncode in (
            EXIT_KERNEL_FAILED,
            EXIT_RUNNER_FAILED,
        ):
            # It failed to start, failed on its own or exited without a report: ours.
            return Outcome(
                "crashed",
                f"The grader failed (exit status {run.returncode}): {run.stderr[-2000:]}",
                infrastructure=True,
            )
        # Killed by a signal that no limit of ours sent: only the job's own uid (the
        # student's code) can signal the runner.
        return Outcome(
            "crashed",
            "Your notebook stopped the grader itself (for example by killing processes), so "
            "it could not be graded. Remove that code and submit again.",
            "the notebook stopped the grader.",
            flags=("The runner ended without results: the notebook may have killed it.",),
        )
    stop = report.get("stop")
    if stop == "output_limit":
        return Outcome(
            "output_limit",
            f"Your notebook printed more than {limits.max_output_bytes:,} bytes (in "
            f"{_cell(report)}) and was stopped. Print less, then submit again.",
            "the notebook printed too much before it.",
        )
    if stop in ("cell_timeout", "notebook_timeout"):
        if run.processes_exhausted:
            return processes
        limit = (
            f"{limits.cell_timeout_s:g} seconds"
            if stop == "cell_timeout"
            else f"the notebook's {limits.notebook_timeout_s:g} seconds"
        )
        return Outcome(
            "timeout",
            f"{_cell(report).capitalize()} ran longer than {limit} and was stopped. Look for "
            "loops that never end, then submit again.",
            "the notebook ran out of time before it.",
        )
    if stop == "kernel_died":
        if run.memory_exhausted:
            return memory
        return Outcome(
            "crashed",
            f"Python stopped while running {_cell(report)} (the code exited the kernel or "
            "crashed it), so the cells after it got no points. Remove that code and submit "
            "again.",
            "Python had stopped before it.",
            flags=(f"The kernel died in {_cell(report)}.",),
        )
    errors = [cell.get("ename") for cell in report.get("cells", {}).values()]
    if "MemoryError" in errors:
        return memory
    flags = ("The notebook hit the process limit.",) if run.processes_exhausted else ()
    return Outcome("graded", "Your notebook was graded.", flags=flags)
