"""``coursehub grade SOURCE.ipynb SUBMISSION.ipynb [--json]``: grade one submission on the
instructor's own machine, through exactly the production engine and sandbox.

The same ``grade()`` the grading workers call: the same rebuild, runner, judge, limits,
sandbox (bubblewrap as a uid of its own, cgroups, no network) and verdict code. Files
beside SOURCE (data files, helper modules) go into the job read-only, as on the platform;
AUTOTEST directives are expanded with nbgrader's ``InstantiateTests`` first, as
``nbgrader generate_assignment`` does. The folder of SOURCE is hidden from the job.

Without ``--json`` it prints the per-cell scores, the feedback a student would see and, set
apart, the flags that only staff see. With ``--json`` it prints one object:
``{"score", "max_score", "cells": [{"grade_id", "score", "max_score"}], "flags",
"outcome"}``. ``--parameters JSON`` grades one variant of a parameterised assignment: the
values go into the submission as papermill's injected-parameters cell after the source's
``parameters`` cell (one already there is replaced), as the platform does. Exit status:
0 graded (whatever the score), 1 a notebook that cannot be used, 2 a fault of the grading
machinery (nothing was graded), 3 the notebook was stopped (time, memory, output, crash).

Needs root, as the grading workers do (bubblewrap as another uid, cgroups).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from papermill.parameterize import parameterize_notebook

from coursehub.graders.assignment_notebooks import (
    InvalidNotebook,
    read_source_folder,
    read_submission,
)
from coursehub.graders.autograde import GradeResult, InfrastructureFault, grade
from coursehub.graders.limits import GradingLimits

DEFAULT_UID = 60_900


def grade_files(
    source_path: Path,
    submission_path: Path,
    *,
    uid: int = DEFAULT_UID,
    limits: GradingLimits = GradingLimits(),
    jobs_dir: Path | None = None,
    parameters: dict[str, Any] | None = None,
) -> GradeResult:
    """Grade ``submission_path`` against the nbgrader source ``source_path`` (and the files
    beside it) in a sandbox as ``uid``."""
    source = read_source_folder(source_path)
    submitted = submission_path.read_bytes()
    if parameters is not None:
        submitted = with_parameters(submitted, parameters)
    submission = read_submission(submitted, source)
    jobs = Path(tempfile.mkdtemp(prefix="coursehub-grade-", dir=jobs_dir))
    try:
        jobs.chmod(0o700)
        return grade(
            source,
            submission,
            workdir=jobs / f"job-{uid}",
            uid=uid,
            limits=limits,
            hidden_paths=(str(source_path.resolve().parent),),
        )
    finally:
        shutil.rmtree(jobs, ignore_errors=True)


def with_parameters(submitted: bytes, parameters: dict[str, Any]) -> bytes:
    """``submitted`` with papermill's injected-parameters cell holding ``parameters``."""
    notebook = nbformat.reads(submitted.decode("utf-8", "replace"), as_version=4)
    notebook.cells = [
        c for c in notebook.cells if "injected-parameters" not in c.metadata.get("tags", [])
    ]
    notebook.metadata.setdefault("papermill", {})
    for cell in notebook.cells:  # papermill reads every cell's tags
        cell.metadata.setdefault("tags", [])
    injected = parameterize_notebook(notebook, parameters, kernel_name="python3", language="python")
    return nbformat.writes(injected).encode()


def describe(result: GradeResult) -> str:
    """The human-readable report: scores, the student's feedback, staff flags."""
    lines = [f"Outcome: {result.outcome} - {result.message}", ""]
    width = max((len(cell.grade_id) for cell in result.cells), default=8)
    for cell in result.cells:
        score = "manual" if cell.score is None else f"{cell.score:g}"
        lines.append(f"  {cell.grade_id:<{width}}  {score:>6} / {cell.max_points:g}")
        lines.append(f"  {'':<{width}}  {cell.feedback}")
    lines += ["", f"Score: {result.score:g} / {result.max_score:g}"]
    if result.needs_manual:
        lines.append("Some cells wait for a person to grade them.")
    lines += ["", "Flags for staff (never shown to the student):"]
    lines += [f"  - {flag}" for flag in result.flags] or ["  (none)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="coursehub grade",
        description="Grade one submission with CourseHub's production engine and sandbox.",
    )
    parser.add_argument("source", type=Path, help="the nbgrader source notebook")
    parser.add_argument("submission", type=Path, help="the student's notebook")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--uid", type=int, default=DEFAULT_UID, help="the job's uid")
    parser.add_argument(
        "--parameters",
        metavar="JSON",
        help="grade one variant: its values as a JSON object, e.g. '{\"a\": 3}'",
    )
    args = parser.parse_args(argv)
    parameters = None
    if args.parameters is not None:
        try:
            parameters = json.loads(args.parameters)
        except ValueError as error:
            print(f"coursehub grade: --parameters is not JSON: {error}", file=sys.stderr)
            return 1
        if not isinstance(parameters, dict):
            print("coursehub grade: --parameters must be a JSON object", file=sys.stderr)
            return 1
    try:
        result = grade_files(args.source, args.submission, uid=args.uid, parameters=parameters)
    except InvalidNotebook as error:
        print(f"coursehub grade: {error}", file=sys.stderr)
        return 1
    except InfrastructureFault as error:
        print(f"coursehub grade: grading failed (not the notebook's fault): {error}",
              file=sys.stderr)  # fmt: skip
        return 2
    print(json.dumps(result.summary_json()) if args.json else describe(result))
    return 0 if result.outcome == "graded" else 3


if __name__ == "__main__":
    sys.exit(main())
