"""``python -m benchmarks.batch_autograde``: grade 100 submissions of a 10-cell assignment.

Scenario ``batch-autograde``: the same 100 notebooks (a real nbgrader course built with
nbgrader's own ``generate_assignment``; five answers and five tests with hidden parts, a
share of the answers wrong) graded two ways in the same run, one after the other:

- ``nbgrader``: ``nbgrader autograde ps1 --create`` in the course folder (the baseline: one
  process, no sandbox);
- ``coursehub``: the submissions are in CourseHub's database, its grading workers
  (``coursehub worker``, already running and idle, each with its warm sandbox pool) are
  running, and every job is queued in one transaction as "Autograde all" does; timed from
  that commit until the last grade is stored. Each job runs sandboxed (bubblewrap, its own
  uid, cgroup limits, no network) with the verdict made outside the sandbox.

Reported: seconds and submissions per second for each, their ratio (goal: CourseHub >= 5x),
and whether every per-cell score is identical. Results go to
``benchmarks/results/batch-autograde-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.grading_classroom import (
    add_grading_class,
    coursehub_scores,
    queue_grading,
    running_workers,
    wait_until_done,
)
from benchmarks.nbgrader_course import ASSIGNMENT, make_course, nbgrader, nbgrader_scores
from benchmarks.report import RESULTS_DIR
from coursehub.services.migrate import upgrade
from coursehub.services.settings import sqlalchemy_url
from tests.platform import claim_redis_db, create_database, drop_database, release_redis_db

GOAL_RATIO = 5.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch_autograde")
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="coursehub worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="jobs per worker at once")
    parser.add_argument(
        "--warm-up", type=float, default=5, help="seconds for the pools once the workers run"
    )
    parser.add_argument("--log", type=Path, help="where the workers' log goes (kept)")
    return parser.parse_args(argv)


def nbgrader_autograde(folder: Path) -> float:
    started = time.monotonic()
    nbgrader("autograde", ASSIGNMENT, "--create", folder=folder)
    return time.monotonic() - started


def coursehub_autograde(
    args: argparse.Namespace, folder: Path, names: list[str], work: Path
) -> tuple[dict, dict]:
    database_url = create_database("coursehub_bench")
    redis_url = claim_redis_db()
    try:
        upgrade(sqlalchemy_url(database_url))
        notebooks = {
            name: (folder / "submitted" / name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
            for name in names
        }
        room = asyncio.run(add_grading_class(database_url, notebooks))
        ids = list(room.submissions)
        with running_workers(
            database_url,
            redis_url,
            args.workers,
            args.concurrency,
            args.log or work / "workers.log",
        ):
            time.sleep(args.warm_up)
            started = time.monotonic()
            asyncio.run(queue_grading(database_url, ids))
            waited = asyncio.run(wait_until_done(database_url, ids, timeout_s=1800))
            waited["seconds"] = time.monotonic() - started
        return waited, asyncio.run(coursehub_scores(database_url, room))
    finally:
        release_redis_db(redis_url)
        drop_database(database_url)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="coursehub-batch-") as temporary:
        work = Path(temporary)
        folder = work / "course"
        names = make_course(folder, args.submissions)
        print(f"{len(names)} submissions of a 10-cell assignment; nbgrader autograde …")
        nbgrader_seconds = nbgrader_autograde(folder)
        expected = nbgrader_scores(folder, names)
        shape = f"{args.workers} workers, {args.concurrency} jobs each"
        print(f"  {nbgrader_seconds:.1f} s; CourseHub ({shape}) …")
        ours, scores = coursehub_autograde(args, folder, names, work)
    differing = sorted(key for key in expected if scores.get(key) != expected[key])
    ratio = nbgrader_seconds / ours["seconds"] if ours["seconds"] else float("nan")
    result = {
        "scenario": "batch-autograde",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "submissions": len(names),
        "workers": args.workers,
        "concurrency": args.concurrency,
        "nbgrader_seconds": round(nbgrader_seconds, 2),
        "coursehub_seconds": round(ours["seconds"], 2),
        "coursehub_done": ours["done"],
        "coursehub_failed": ours["failed"],
        "throughput_ratio": round(ratio, 2),
        "cells_compared": len(expected),
        "cells_differing": len(differing),
        "first_differences": [list(key) for key in differing[:10]],
    }
    print(
        f"nbgrader autograde  {nbgrader_seconds:7.1f} s  {len(names) / nbgrader_seconds:6.2f}/s\n"
        f"CourseHub workers   {ours['seconds']:7.1f} s  {len(names) / ours['seconds']:6.2f}/s"
        f"  ({ours['done']} done, {ours['failed']} failed)\n"
        f"throughput ratio    {ratio:7.2f}  (goal >= {GOAL_RATIO:g})\n"
        f"per-cell scores     {len(expected) - len(differing)} of {len(expected)} identical"
    )
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (RESULTS_DIR / f"batch-autograde-{stamp}.json").write_text(json.dumps(result, indent=1))
    met = ratio >= GOAL_RATIO and not differing and ours["failed"] == 0
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
