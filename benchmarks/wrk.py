"""Driving Debian's ``wrk`` for one bounded load run and reading its summary line."""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LUA_SCRIPT = Path(__file__).with_name("latency_report.lua")
SUMMARY = re.compile(r"^COURSEHUB_WRK (?P<fields>.+)$", re.MULTILINE)
INSTALL_HINT = (
    "The benchmarks drive load with wrk, which is not installed. Install it from Debian:\n"
    "    sudo apt-get update && sudo apt-get install -y wrk\n"
    "(as root, drop the sudo), then run the benchmarks again."
)


class WrkMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


@dataclass(frozen=True)
class LoadResult:
    """What one wrk run measured; latencies in milliseconds."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    bad_status: int  # responses outside 2xx/3xx
    socket_errors: int  # connect, read, write errors and timeouts
    wrk_cpu_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wrk_binary() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise WrkMissing()
    return binary


def check_loopback(url: str) -> None:
    """Load goes to this machine only; refuse anything but a loopback address."""
    host = urlsplit(url).hostname or ""
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        raise ValueError(f"Benchmark load goes to loopback addresses only, not {host!r}.")


def run_wrk(
    url: str,
    *,
    concurrency: int,
    seconds: int,
    threads: int = 1,
    authorization: str = "",
    timeout_seconds: int = 5,
) -> LoadResult:
    """Load ``url`` with ``concurrency`` keep-alive connections for ``seconds`` seconds."""
    check_loopback(url)
    command = [
        wrk_binary(),
        f"--threads={max(1, min(threads, concurrency))}",
        f"--connections={concurrency}",
        f"--duration={seconds}s",
        f"--timeout={timeout_seconds}s",
        f"--script={LUA_SCRIPT}",
        url,
    ]
    env = {**os.environ, "COURSEHUB_BENCH_AUTHORIZATION": authorization}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    finished = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + timeout_seconds + 30,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    match = SUMMARY.search(finished.stdout)
    if finished.returncode != 0 or match is None:
        raise RuntimeError(
            f"wrk failed on {url} (exit {finished.returncode}):\n"
            f"{finished.stdout[-2000:]}\n{finished.stderr[-2000:]}"
        )
    fields = {
        key: float(value)
        for key, value in (pair.split("=", 1) for pair in match.group("fields").split())
    }
    elapsed = fields["duration_us"] / 1e6
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return LoadResult(
        requests=int(fields["requests"]),
        seconds=round(elapsed, 3),
        rps=round(fields["requests"] / elapsed, 1) if elapsed else 0.0,
        p50_ms=fields["p50_us"] / 1000,
        p95_ms=fields["p95_us"] / 1000,
        p99_ms=fields["p99_us"] / 1000,
        max_ms=fields["max_us"] / 1000,
        mean_ms=round(fields["mean_us"] / 1000, 3),
        bad_status=int(fields["status_errors"]),
        socket_errors=int(
            fields["connect_errors"]
            + fields["read_errors"]
            + fields["write_errors"]
            + fields["timeouts"]
        ),
        wrk_cpu_seconds=round(cpu, 3),
    )
