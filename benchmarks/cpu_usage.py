"""CPU time of the platform's processes (and of the whole machine) over one load run.

On a 2-core machine the load generator, the proxy, the hub, the service and PostgreSQL share
the cores; these numbers show where the time went and whether wrk itself was a bottleneck.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

ProcessGroups = dict[str, list[psutil.Process]]


def _cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def _machine_idle_and_total() -> tuple[float, float]:
    times = psutil.cpu_times()
    return times.idle + getattr(times, "iowait", 0.0), sum(times)


@dataclass
class CpuWindow:
    """Seconds of CPU each group of processes used between ``start()`` and ``stop()``.

    ``groups`` is asked at both ends, so processes that appear during the window (a new
    database connection) count from their start.
    """

    groups: Callable[[], ProcessGroups]
    used: dict[str, float] = field(default_factory=dict)
    machine_busy_percent: float = 0.0
    _before: dict[int, float] = field(default_factory=dict)
    _machine_before: tuple[float, float] = (0.0, 0.0)

    def start(self) -> None:
        self._before = {
            process.pid: _cpu_seconds(process)
            for processes in self.groups().values()
            for process in processes
        }
        self._machine_before = _machine_idle_and_total()

    def stop(self) -> None:
        idle_after, total_after = _machine_idle_and_total()
        self.used = {
            name: round(sum(_cpu_seconds(p) - self._before.get(p.pid, 0.0) for p in processes), 2)
            for name, processes in self.groups().items()
        }
        idle_before, total_before = self._machine_before
        total = total_after - total_before
        if total > 0:
            busy = 1 - (idle_after - idle_before) / total
            self.machine_busy_percent = round(100 * busy, 1)


def platform_processes(root_pid: int) -> dict[str, psutil.Process]:
    """The hub, the proxy and the course service among ``root_pid``'s descendants."""
    found: dict[str, psutil.Process] = {}
    for process in psutil.Process(root_pid).children(recursive=True):
        try:
            command = " ".join(process.cmdline())
        except psutil.Error:
            continue
        if "coursehub.services.lms" in command:
            # The service forks its workers: keep the first of them, their parent.
            found.setdefault("service", process)
        elif "configurable-http-proxy" in command:
            found["proxy"] = process
        elif "-m jupyterhub" in command:
            found["hub"] = process
    missing = {"service", "proxy", "hub"} - found.keys()
    if missing:
        raise RuntimeError(f"Could not find the platform's {', '.join(sorted(missing))} process")
    return found


def platform_groups(processes: dict[str, psutil.Process]) -> ProcessGroups:
    """The platform's processes as groups to measure: the course service with the worker
    processes it forked (each serves requests), the hub and the proxy alone."""
    groups: ProcessGroups = {}
    for name, process in processes.items():
        children: list[psutil.Process] = []
        if name == "service":
            try:
                children = process.children(recursive=True)
            except psutil.Error:
                children = []
        groups[name] = [process, *children]
    return groups
