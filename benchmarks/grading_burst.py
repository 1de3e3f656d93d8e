"""``python -m benchmarks.grading_burst``: 200 students submit within seconds.

Scenario ``grading-burst``, on the platform as ``coursehub up`` runs it (2 grading workers
taking 2 jobs each): 200 signed-in students each send the 10-cell assignment through the
proxy at once (20 at a time). Measured:

- the grading queue (procrastinate's jobs waiting or running), sampled every half second
  from the burst until it has drained: its largest depth (bounded: one job per submission,
  never more) and how long draining took, with no job failed;
- the latency of the hub (``GET /hub/api/user`` with a token) and of the course service
  (``GET /services/coursehub/api/me/courses`` through the proxy) probed 10 times a second
  each: for 20 s on the idle platform first (the baseline, same run), then while the 200
  submissions arrive (reported beside), then while the queue drains after them. Goal
  (reported): p99 while draining <= 2x the idle p99, for each.

Results go to ``benchmarks/results/grading-burst-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg

from benchmarks.classroom import LessonPlan, add_class
from benchmarks.grading_classroom import Learner, add_assignment, signed_in_learner
from benchmarks.platform_setup import BenchPlatform, running_coursehub
from benchmarks.report import RESULTS_DIR, percentile
from coursehub.hub.constants import SERVICE_PREFIX

WORKERS = {"COURSEHUB_WORKERS": "2", "COURSEHUB_WORKER_CONCURRENCY": "2"}
PLAN = LessonPlan(
    "Grading burst",
    "Week 1",
    "Reading",
    {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []},
)
GOAL_RATIO = 2.0
QUEUE_DEPTH = (
    "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'grading' "
    "AND status IN ('todo', 'doing')"
)
FAILED_JOBS = (
    "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'grading' AND status = 'failed'"
)


@dataclass
class Probe:
    """Latencies of one endpoint, probed at a steady rate."""

    name: str
    idle_ms: list[float] = field(default_factory=list)
    burst_ms: list[float] = field(default_factory=list)  # while the submissions arrive
    busy_ms: list[float] = field(default_factory=list)  # while the queue drains after them
    phase: str = "idle"
    errors: int = 0

    def record(self, milliseconds: float) -> None:
        {"idle": self.idle_ms, "burst": self.burst_ms, "drain": self.busy_ms}[self.phase].append(
            milliseconds
        )


async def probe(
    http: httpx.AsyncClient, url: str, token: str, stop: asyncio.Event, result: Probe
) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            answer = await http.get(url, headers={"Authorization": f"token {token}"})
            if answer.status_code == 200:
                result.record((time.perf_counter() - started) * 1000)
            else:
                result.errors += 1
        except httpx.HTTPError:
            result.errors += 1
        await asyncio.sleep(max(0.0, 0.1 - (time.perf_counter() - started)))


async def gather_limited(coroutines: list, limit: int) -> list:
    gate = asyncio.Semaphore(limit)

    async def one(coroutine):  # type: ignore[no-untyped-def]
        async with gate:
            return await coroutine

    return await asyncio.gather(*(one(c) for c in coroutines), return_exceptions=True)


async def submit(student: Learner) -> int:
    return (await student.submit()).status_code


async def sample_queue(database_url: str, depths: list[int], stop: asyncio.Event) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        while not stop.is_set():
            depths.append((await (await conn.execute(QUEUE_DEPTH)).fetchone())[0])
            await asyncio.sleep(0.5)


async def run(args: argparse.Namespace, bench: BenchPlatform) -> dict[str, Any]:
    room = add_class(bench.database_url, args.students, PLAN, "burst")
    assignment = await add_assignment(bench.database_url, room.course_id)
    print(f"signing in {args.students} students …")
    students = await gather_limited(
        [
            signed_in_learner(
                bench.url, email, room.password, room.course_slug, assignment, len(email)
            )
            for email in room.emails
        ],
        10,
    )
    problems = [s for s in students if isinstance(s, BaseException)]
    if problems:
        raise RuntimeError(f"{len(problems)} students could not sign in: {problems[0]!r}")
    hub, service = Probe("hub GET /hub/api/user"), Probe("service GET /api/me/courses")
    token = bench.student_token
    targets = (
        (hub, f"{bench.url}/hub/api/user"),
        (service, f"{bench.url}{SERVICE_PREFIX}/api/me/courses"),
    )
    async with httpx.AsyncClient(timeout=60) as http:
        stop = asyncio.Event()
        probes = [asyncio.create_task(probe(http, url, token, stop, p)) for p, url in targets]
        print(f"idle baseline for {args.idle:g} s …")
        await asyncio.sleep(args.idle)
        stop.set()
        await asyncio.gather(*probes)

        stop, sampling_stop = asyncio.Event(), asyncio.Event()
        depths: list[int] = []
        sampler = asyncio.create_task(sample_queue(bench.database_url, depths, sampling_stop))
        probes = [asyncio.create_task(probe(http, url, token, stop, p)) for p, url in targets]
        print(f"burst of {args.students} submissions …")
        started = time.monotonic()
        for item in (hub, service):
            item.phase = "burst"
        statuses = await gather_limited([submit(s) for s in students], 20)
        submitted_in = time.monotonic() - started
        for item in (hub, service):
            item.phase = "drain"
        while True:
            await asyncio.sleep(0.5)
            if depths and depths[-1] == 0:
                break
            if time.monotonic() - started > args.timeout:
                break
        drained_in = time.monotonic() - started
        stop.set()
        sampling_stop.set()
        await asyncio.gather(*probes, sampler)
    for student in students:
        await student.http.aclose()
    async with await psycopg.AsyncConnection.connect(bench.database_url, autocommit=True) as conn:
        failed = (await (await conn.execute(FAILED_JOBS)).fetchone())[0]
    return {
        "students": args.students,
        "accepted": sum(1 for s in statuses if s == 201),
        "submitted_in_s": round(submitted_in, 1),
        "drained_in_s": round(drained_in, 1),
        "queue_max_depth": max(depths or [0]),
        "queue_final_depth": depths[-1] if depths else None,
        "failed_jobs": failed,
        "probes": [
            {
                "name": p.name,
                "idle_p99_ms": percentile(p.idle_ms, 0.99),
                "busy_p99_ms": percentile(p.busy_ms, 0.99),
                "idle_p50_ms": percentile(p.idle_ms, 0.5),
                "busy_p50_ms": percentile(p.busy_ms, 0.5),
                "burst_p99_ms": percentile(p.burst_ms, 0.99),
                "samples": [len(p.idle_ms), len(p.burst_ms), len(p.busy_ms)],
                "errors": p.errors,
            }
            for p in (hub, service)
        ],
    }


def report(result: dict[str, Any]) -> int:
    met = result["failed_jobs"] == 0 and result["queue_final_depth"] == 0
    lines = [
        f"\n{result['accepted']} of {result['students']} submissions accepted in "
        f"{result['submitted_in_s']} s; "
        f"queue drained in {result['drained_in_s']} s; largest depth {result['queue_max_depth']}; "
        f"{result['failed_jobs']} jobs failed",
    ]
    for item in result["probes"]:
        ratio = (item["busy_p99_ms"] or 0) / (item["idle_p99_ms"] or float("nan"))
        item["p99_ratio"] = round(ratio, 2)
        met = met and ratio <= GOAL_RATIO
        lines.append(
            f"  {item['name']:32} idle p99 {item['idle_p99_ms'] or 0:6.1f} ms  draining p99 "
            f"{item['busy_p99_ms'] or 0:6.1f} ms  ratio {ratio:5.2f} (goal <= {GOAL_RATIO:g}); "
            f"p50 {item['idle_p50_ms'] or 0:.1f} -> {item['busy_p50_ms'] or 0:.1f} ms; "
            f"{item['errors']} errors; p99 while the burst arrived "
            f"{item['burst_p99_ms'] or 0:.1f} ms"
        )
    print("\n".join(lines))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    result["scenario"] = "grading-burst"
    (RESULTS_DIR / f"grading-burst-{stamp}.json").write_text(json.dumps(result, indent=1))
    return 0 if met else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading_burst")
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--idle", type=float, default=20, help="seconds of idle baseline")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds to wait for draining")
    args = parser.parse_args(argv)
    with running_coursehub(courses=1, extra_env=WORKERS) as bench:
        result = asyncio.run(run(args, bench))
    return report(result)


if __name__ == "__main__":
    sys.exit(main())
