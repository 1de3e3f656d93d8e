"""``python -m benchmarks.publish_check``: the publish check of the demo's widget lesson.

Scenario ``publish-check``: ``course_content/python-for-data/04-summarising-data.ipynb``
with the course's ``data/`` folder, run two ways in the same run, alternating which goes first
in each round:

- ``papermill``: a plain ``papermill.execute_notebook`` of the notebook in a temporary folder
  holding the data (the baseline: no sandbox, the ``python3`` kernel);
- ``publish-check``: CourseHub's publish check (``notebook_runs.publish_checks
  .check_notebook``): the same papermill run inside the grading sandbox (bubblewrap, its own
  uid, cgroup limits, no network, a size-limited folder), then the per-cell report.

Reported: each round's seconds, the medians and their ratio (goal from issue 22: the check at
most 2x the plain run). Needs root (the sandbox). Results go to
``benchmarks/results/publish-check-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import papermill

from benchmarks.report import RESULTS_DIR
from coursehub.services.notebook_runs import publish_checks

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "course_content" / "python-for-data"
LESSON = DEMO / "04-summarising-data.ipynb"


def plain_papermill() -> float:
    with tempfile.TemporaryDirectory(prefix="coursehub-bench-papermill-") as folder:
        shutil.copytree(DEMO / "data", Path(folder) / "data")
        started = time.perf_counter()
        papermill.execute_notebook(
            str(LESSON),
            str(Path(folder) / "executed.ipynb"),
            kernel_name="python3",
            language="python",
            progress_bar=False,
            cwd=folder,
        )
        return time.perf_counter() - started


async def publish_check(files: dict[str, bytes]) -> float:
    started = time.perf_counter()
    run = await publish_checks.check_notebook(LESSON.read_bytes(), files)
    seconds = time.perf_counter() - started
    if run is None or not run.ok:
        raise SystemExit(f"The publish check did not pass: {run and run.problem}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("The publish check runs in a sandbox: run this as root.")
    files = {f"data/{k}": v for k, v in publish_checks.files_in(DEMO / "data").items()}
    times: dict[str, list[float]] = {"papermill": [], "publish-check": []}
    for round_number in range(args.rounds):
        order = ["papermill", "publish-check"]
        if round_number % 2:
            order.reverse()
        for name in order:
            if name == "papermill":
                seconds = plain_papermill()
            else:
                seconds = asyncio.run(publish_check(files))
            times[name].append(seconds)
            print(f"round {round_number + 1}: {name:14} {seconds:6.2f} s", flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["publish-check"] / medians["papermill"]
    print(f"\npapermill (baseline)  median {medians['papermill']:6.2f} s")
    print(f"publish check         median {medians['publish-check']:6.2f} s")
    print(f"ratio {ratio:.2f}x (goal <= 2x): {'met' if ratio <= 2 else 'NOT met'}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {"scenario": "publish-check", "times": times, "medians": medians, "ratio": ratio}
    (RESULTS_DIR / f"publish-check-{stamp}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
