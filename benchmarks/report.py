"""Measurements, the table printed after a run, and the JSON file under benchmarks/results/."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.scenarios import Goal, Scenario
from benchmarks.wrk import LoadResult

RESULTS_DIR = Path(__file__).with_name("results")
REPO = Path(__file__).resolve().parent.parent


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True)
class Measurement:
    scenario: str
    target: str
    concurrency: int
    round: int
    load: LoadResult
    cpu_seconds: dict[str, float]
    machine_busy_percent: float
    db_sessions_opened: int | None = None  # PostgreSQL sessions opened to our database
    hub_token_checks: int | None = None  # GET /hub/api/user served during the run (metrics)
    hub_token_checks_in_log: int | None = None
    hub_requests: int | None = None  # every hub request during the run, less metrics reads


@dataclass(frozen=True)
class Summary:
    """The median over rounds of one target at one concurrency."""

    target: str
    concurrency: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    rounds: int


def summarise(measurements: list[Measurement], target: str, concurrency: int) -> Summary:
    runs = [m.load for m in measurements if m.target == target and m.concurrency == concurrency]
    if not runs:
        raise ValueError(f"no measurement of {target} at concurrency {concurrency}")
    return Summary(
        target=target,
        concurrency=concurrency,
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p95_ms=statistics.median(r.p95_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        errors=sum(r.bad_status + r.socket_errors for r in runs),
        rounds=len(runs),
    )


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "-"


HEADER = (
    f"{'scenario':<12} {'baseline':<14} {'conc':>4} {'rps':>9} {'p50 ms':>8} {'p95 ms':>8} "
    f"{'p99 ms':>8} {'rps ratio':>9} {'p50 ratio':>9} {'p99 ratio':>9} {'errors':>6}"
)


def _row(scenario: str, baseline: str, s: Summary, ratios: tuple[str, str, str]) -> str:
    return (
        f"{scenario:<12} {baseline:<14} {s.concurrency:>4} {s.rps:>9.1f} {s.p50_ms:>8.2f} "
        f"{s.p95_ms:>8.2f} {s.p99_ms:>8.2f} {ratios[0]:>9} {ratios[1]:>9} {ratios[2]:>9} "
        f"{s.errors:>6}"
    )


def table(scenarios: list[Scenario], measurements: list[Measurement]) -> str:
    lines = [HEADER, "-" * len(HEADER)]
    for scenario in scenarios:
        for concurrency in scenario.concurrencies:
            own = summarise(measurements, scenario.target.name, concurrency)
            lines.append(_row(scenario.name, "(itself)", own, ("", "", "")))
            for baseline in scenario.baselines:
                base = summarise(measurements, baseline.name, concurrency)
                ratios = (
                    _ratio(own.rps, base.rps),
                    _ratio(own.p50_ms, base.p50_ms),
                    _ratio(own.p99_ms, base.p99_ms),
                )
                lines.append(_row(scenario.name, baseline.name, base, ratios))
        lines.append("")
    lines.append(
        "Rows with a baseline show the baseline's own numbers; ratios are scenario / baseline "
        "(rps ratio > 1: the scenario is faster; latency ratio > 1: the scenario is slower)."
    )
    return "\n".join(lines)


def goal_verdict(goal: Goal, measurements: list[Measurement], target: str) -> dict[str, Any]:
    s = summarise(measurements, target, goal.concurrency)
    return {
        "goal": goal.describe(),
        "rps": s.rps,
        "p99_ms": s.p99_ms,
        "rps_met": s.rps >= goal.min_rps,
        "p99_met": s.p99_ms <= goal.max_p99_ms,
    }


def _git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


@dataclass
class RunRecord:
    options: dict[str, Any]
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    measurements: list[Measurement] = field(default_factory=list)
    goals: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] | None = None
    load_average_before: tuple[float, float, float] | None = None
    # GET /hub/api/user the hub served for the first request with a cold auth cache.
    cold_cache_checks: dict[str, int] = field(default_factory=dict)

    def write(self, scenarios: list[Scenario]) -> Path:
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = self.started_at.replace(":", "").replace("-", "").split(".")[0]
        path = RESULTS_DIR / f"{stamp}.json"
        summaries = [
            asdict(summarise(self.measurements, target.name, concurrency))
            for scenario in scenarios
            for concurrency in scenario.concurrencies
            for target in (scenario.target, *scenario.baselines)
        ]
        document = {
            "started_at": self.started_at,
            "finished_at": datetime.now(UTC).isoformat(),
            "git_revision": _git_revision(),
            "machine": {
                "cpus": os.cpu_count(),
                "load_average_before": self.load_average_before,
                "load_average_after": os.getloadavg(),
                "python": platform.python_version(),
            },
            "options": self.options,
            "summaries": summaries,
            "goals": self.goals,
            "cold_cache_hub_token_checks": self.cold_cache_checks,
            "measurements": [asdict(m) for m in self.measurements],
            "profile": self.profile,
        }
        path.write_text(json.dumps(document, indent=2))
        return path
