"""``python -m benchmarks.calculated_questions``: generating 300 variants of a calculated
quiz question.

Scenario ``calculated-variants``: the generator notebook of ``tests/test_calculated_questions``
(two random integers from the seed, their quotient), made into ``--variants`` variants two
ways in the same run:

- ``papermill-per-variant`` (the baseline): one plain ``papermill.execute_notebook`` per seed,
  unsandboxed, as a naive pre-generation would do; measured for ``--baseline-variants`` seeds
  and extrapolated to ``--variants``;
- ``coursehub``: ``quizzes.calculated_questions.generate``, what the ``make_quiz_variants``
  job runs: every seed in one papermill run inside the grading sandbox (bubblewrap, its own
  uid, cgroup limits, no network), each seed's cells in a fresh namespace.

Reported: seconds of each, variants made, and whether the goal of issue 22 (300 variants in
at most 60 s) is met. Needs root (the sandbox). Results go to
``benchmarks/results/calculated-variants-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import papermill

from benchmarks.report import RESULTS_DIR
from coursehub.services.quizzes import calculated_questions

GENERATOR = """import random
rng = random.Random(seed)
a, b = rng.randint(1000, 9999), rng.randint(10, 99)
{"values": {"a": a, "b": b}, "answer": a / b}
"""
GOAL_SECONDS = 60


def papermill_per_variant(generator: dict, seeds: list[int]) -> float:
    """Seconds for one plain papermill run per seed (unsandboxed), answers checked."""
    with tempfile.TemporaryDirectory(prefix="coursehub-bench-variants-") as folder:
        source = Path(folder) / "generator.ipynb"
        nbformat.write(nbformat.from_dict(generator), source)
        started = time.perf_counter()
        for seed in seeds:
            out = Path(folder) / f"variant-{seed}.ipynb"
            papermill.execute_notebook(
                str(source),
                str(out),
                parameters={"seed": seed},
                kernel_name="python3",
                language="python",
                progress_bar=False,
                cwd=folder,
            )
            executed = nbformat.read(out, as_version=4)
            answer_cell = next(
                c for c in executed.cells if "answer" in c.get("metadata", {}).get("tags", [])
            )
            if not isinstance(calculated_questions.recorded(answer_cell), dict):
                raise SystemExit(f"Seed {seed} recorded no answer in the baseline run.")
        return time.perf_counter() - started


async def coursehub_variants(generator: dict, seeds: list[int]) -> tuple[float, int]:
    started = time.perf_counter()
    made = await calculated_questions.generate(generator, seeds)
    return time.perf_counter() - started, len(made)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=300)
    parser.add_argument("--baseline-variants", type=int, default=5)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("Generators run in a sandbox: run this as root.")
    generator = calculated_questions.read_generator(GENERATOR)
    seeds = calculated_questions.new_seeds(args.variants)
    baseline_seeds = seeds[: args.baseline_variants]
    baseline = papermill_per_variant(generator, baseline_seeds)
    per_variant = baseline / len(baseline_seeds)
    seconds, made = asyncio.run(coursehub_variants(generator, seeds))
    result = {
        "scenario": "calculated-variants",
        "at": datetime.now(UTC).isoformat(),
        "variants": args.variants,
        "coursehub_seconds": round(seconds, 2),
        "coursehub_made": made,
        "baseline_measured_variants": len(baseline_seeds),
        "baseline_seconds_measured": round(baseline, 2),
        "baseline_seconds_per_variant": round(per_variant, 3),
        "baseline_seconds_extrapolated": round(per_variant * args.variants, 1),
        "goal_seconds": GOAL_SECONDS,
        "goal_met": made == args.variants and seconds <= GOAL_SECONDS,
        "load_average": os.getloadavg(),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"calculated-variants-{stamp}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
