"""``python -m benchmarks.grade_latency``: 10 students submit at once and wait for their grade.

Scenario ``grade-latency``, measured per student, with the platform started as a deployment
runs it (``coursehub up``: hub, proxy, course service, 2 grading workers taking 2 jobs each,
5 warm sandboxes each): the student's page already holds the notification stream open
(``/api/me/notifications/stream`` through the proxy, as the assignments page does); the
clock starts when the student's browser sends the notebook (``POST …/submissions`` through
the proxy, with the sign-in cookie and XSRF header) and stops when the grade's event reaches
the page. In between: the submission committed with its job, a worker takes the job, the
notebook rebuilt from the instructor's copy runs in a sandbox (bubblewrap, own uid, limits,
hidden tests), the verdict and feedback are made outside it, the grade and notification are
stored, Redis carries the news to the service, the service to the page.

Baseline, in the same run, 10 at once as well: the same student notebook executed by plain
nbclient (a kernel started for it, as ``jupyter nbconvert --execute`` does) plus one Redis
publish received by a subscriber. Goal (reported): grade-latency p50 <= baseline p50 + 150
ms. Rounds alternate the order. Results go to ``benchmarks/results/grade-latency-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import nbformat
import redis.asyncio as aioredis
from nbclient import NotebookClient

from benchmarks.classroom import (
    ClassRoom,
    LessonPlan,
    add_class,
)
from benchmarks.grading_classroom import Learner, add_assignment, signed_in_learner
from benchmarks.platform_setup import BenchPlatform, running_coursehub
from benchmarks.report import RESULTS_DIR, percentile
from coursehub.hub.constants import SERVICE_PREFIX

STUDENTS = 10
GOAL_MARGIN_MS = 150.0
WORKERS = {
    "COURSEHUB_WORKERS": "2",
    "COURSEHUB_WORKER_CONCURRENCY": "2",
    "COURSEHUB_WARM_SANDBOXES": "5",
}
PLAN = LessonPlan(
    "Grading latency",
    "Week 1",
    "Reading",
    {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []},
)


@dataclass
class Round:
    number: int
    coursehub_ms: list[float]
    nbclient_ms: list[float]
    publish_ms: float
    failures: int


async def submit_and_wait(student: Learner) -> float:
    """Milliseconds from sending the notebook until the grade's event reaches the page."""
    stream_url = f"{SERVICE_PREFIX}/api/me/notifications/stream"
    async with student.http.stream("GET", stream_url, timeout=httpx.Timeout(10, read=300)) as page:
        page.raise_for_status()
        lines = page.aiter_lines()
        started = time.perf_counter()
        sent = await student.submit()
        sent.raise_for_status()
        submission_id = sent.json()["id"]
        async for line in lines:
            if not line.startswith("data: "):
                continue
            event = json.loads(line[len("data: ") :])
            if event["kind"] == "submission_graded" and (
                event["payload"]["submission_id"] == submission_id
            ):
                return (time.perf_counter() - started) * 1000
    raise RuntimeError("the stream ended before the grade came")


async def coursehub_burst(students: list[Learner]) -> list[float]:
    results = await asyncio.gather(*(submit_and_wait(s) for s in students), return_exceptions=True)
    for problem in {repr(r) for r in results if not isinstance(r, float)}:
        print(f"  a student's submission failed: {problem}")
    return [r if isinstance(r, float) else float("nan") for r in results]


async def nbclient_burst(notebook: bytes) -> list[float]:
    async def one() -> float:
        started = time.perf_counter()
        client = NotebookClient(
            nbformat.reads(notebook.decode(), as_version=4), timeout=60, allow_errors=True
        )
        await client.async_execute()
        return (time.perf_counter() - started) * 1000

    return list(await asyncio.gather(*(one() for _ in range(STUDENTS))))


async def publish_ms(redis_url: str) -> float:
    """One Redis publish until a subscriber holds it (median of 20)."""
    client = aioredis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe("coursehub:bench")
    times = []
    try:
        for _ in range(20):
            started = time.perf_counter()
            await client.publish("coursehub:bench", "{}")
            while await pubsub.get_message(timeout=5) is None:
                pass
            times.append((time.perf_counter() - started) * 1000)
    finally:
        await pubsub.aclose()
        await client.aclose()
    return statistics.median(times)


async def run(args: argparse.Namespace, bench: BenchPlatform) -> list[Round]:
    room: ClassRoom = add_class(bench.database_url, STUDENTS, PLAN, "grading")
    assignment = await add_assignment(bench.database_url, room.course_id)
    students = [
        await signed_in_learner(bench.url, email, room.password, room.course_slug, assignment)
        for email in room.emails
    ]
    try:
        print("warm-up round …")
        await coursehub_burst(students)
        rounds = []
        for number in range(1, args.rounds + 1):
            await asyncio.sleep(args.pause)  # the warm pools refill
            order = ["coursehub", "nbclient"] if number % 2 else ["nbclient", "coursehub"]
            measured: dict[str, list[float]] = {}
            for target in order:
                if target == "coursehub":
                    measured[target] = await coursehub_burst(students)
                else:
                    measured[target] = await nbclient_burst(students[0].notebook)
            publish = await publish_ms(bench.platform.env["REDIS_URL"])
            failures = sum(1 for value in measured["coursehub"] if value != value)
            rounds.append(
                Round(number, measured["coursehub"], measured["nbclient"], publish, failures)
            )
            print(describe(rounds[-1]))
        return rounds
    finally:
        for student in students:
            await student.http.aclose()


def describe(result: Round) -> str:
    ours = [v for v in result.coursehub_ms if v == v]
    return (
        f"round {result.number}: CourseHub p50 {percentile(ours, 0.5) or 0:.0f} ms "
        f"p95 {percentile(ours, 0.95) or 0:.0f} ms ({result.failures} failed); "
        f"nbclient p50 {percentile(result.nbclient_ms, 0.5) or 0:.0f} ms; "
        f"publish {result.publish_ms:.2f} ms"
    )


def report(rounds: list[Round]) -> int:
    ours = [v for r in rounds for v in r.coursehub_ms if v == v]
    raw = [v for r in rounds for v in r.nbclient_ms]
    publish = statistics.median(r.publish_ms for r in rounds)
    ours_p50, raw_p50 = percentile(ours, 0.5) or float("nan"), percentile(raw, 0.5) or 0.0
    limit = raw_p50 + publish + GOAL_MARGIN_MS
    failures = sum(r.failures for r in rounds)
    print(
        f"\nsubmission -> grade on the page, {STUDENTS} at once, {len(rounds)} rounds\n"
        f"  CourseHub          p50 {ours_p50:7.0f} ms  p95 {percentile(ours, 0.95) or 0:7.0f} ms"
        f"  ({failures} failed)\n"
        f"  nbclient + publish p50 {raw_p50 + publish:7.0f} ms  (publish {publish:.2f} ms)\n"
        f"  goal: p50 <= {limit:.0f} ms -> {'met' if ours_p50 <= limit else 'missed'}"
    )
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    result: dict[str, Any] = {
        "scenario": "grade-latency",
        "students": STUDENTS,
        "workers": WORKERS,
        "coursehub_p50_ms": ours_p50,
        "baseline_p50_ms": raw_p50 + publish,
        "goal_ms": limit,
        "rounds": [asdict(r) for r in rounds],
    }
    (RESULTS_DIR / f"grade-latency-{stamp}.json").write_text(json.dumps(result, indent=1))
    return 0 if ours_p50 <= limit and not failures else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grade_latency")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=8, help="seconds between rounds")
    args = parser.parse_args(argv)
    with running_coursehub(courses=1, extra_env=WORKERS) as bench:
        rounds = asyncio.run(run(args, bench))
    return report(rounds)


if __name__ == "__main__":
    sys.exit(main())
