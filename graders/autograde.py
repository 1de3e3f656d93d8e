"""Grade one submission: the engine's entry point, ``grade()``.

The steps, each in a module of its own: rebuild the submission from the source
(``rebuild``), run it in the sandbox (``sandbox_job`` starting ``runner``, whose kernel is
``grading_kernel`` and whose ``judge`` executes the test cells outside the kernel), decide
the scores outside the sandbox (``verdict``), look for tampering (``suspicion``) and make
the notebook the student sees (``feedback``).

Where the hidden tests are: the job folder holds only the student's rebuilt notebook
(test cells with the *student version's* text) and the assignment's data files (owned by
root, read-only, in a sticky folder: the job may add files but not replace those). The
complete tests travel on the runner's stdin; the runner is non-dumpable, so the kernel
(same uid) can neither ptrace it nor read its memory or descriptors, and the runner's judge
executes them in its own interpreter: hidden test code never enters the kernel. What the
kernel does see is what a test hands to the student's code (the arguments of a call);
outputs of student code from the first hidden test on are therefore never shown to the
student (``feedback``).

Results: the runner signs them with a key only it and this process know, and writes them
after killing every other process in the sandbox. ``GradeResult.flags`` are for staff only;
``GradeResult.student_json()`` is what a student may be shown.

Faults: a sandbox or runner that could not start, a kernel that did not start, or a runner
that ended without results while no limit was hit and nothing killed it, is the platform's
fault: ``InfrastructureFault`` (the queue retries it, and after the last try shows staff
"grading failed, not the student's fault"), never a student's 0.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import shutil
import stat
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import nbformat

from coursehub.graders.assignment_notebooks import SourceAssignment, cell_kind
from coursehub.graders.feedback import feedback_notebook
from coursehub.graders.limits import GradingLimits
from coursehub.graders.outcome import Outcome, decide_outcome
from coursehub.graders.rebuild import RebuiltSubmission, rebuild
from coursehub.graders.runner import EXECUTED, REPLIES, SUBMISSION, sign
from coursehub.graders.sandbox_job import SandboxFailure, StartedJob, finish_job, start_job
from coursehub.graders.suspicion import suspicious_code
from coursehub.graders.verdict import cell_verdicts, runner_flags
from coursehub.hub.sandbox import mount_size_limited, unmount_size_limited

log = logging.getLogger(__name__)

OutcomeName = Literal["graded", "timeout", "memory", "crashed", "output_limit"]


class InfrastructureFault(RuntimeError):
    """The platform failed (sandbox, cgroups, disk, the kernel did not start): retry later."""


@dataclass(frozen=True)
class CellGrade:
    """One cell that carries points: a test, a manually graded answer or a task. Its
    feedback never holds hidden-test code or output."""

    grade_id: str
    kind: str
    score: float | None  # None: a person grades it
    max_points: float
    feedback: str


@dataclass(frozen=True)
class GradeResult:
    """What became of a submission. Any ``outcome`` but ``graded`` is the student's doing
    and final; ``message`` says what to do. Tests that ran before the notebook was stopped
    keep their points, the others get 0. ``flags`` are for a person, never part of scores.
    """

    outcome: OutcomeName
    message: str
    cells: tuple[CellGrade, ...]
    score: float
    max_score: float
    needs_manual: bool
    flags: tuple[str, ...]
    feedback_notebook: dict

    def to_json(self) -> dict:
        """Everything, flags included: for the platform's own records and staff."""
        data = asdict(self)
        data["cells"] = [asdict(cell) for cell in self.cells]
        data["flags"] = list(self.flags)
        return data

    def student_json(self) -> dict:
        """What the student may see: the same without ``flags`` (which check fired)."""
        data = self.to_json()
        del data["flags"]
        return data

    def summary_json(self) -> dict:
        """``coursehub grade --json``: scores per cell, flags and the outcome."""
        return {
            "score": self.score,
            "max_score": self.max_score,
            "cells": [
                {"grade_id": c.grade_id, "score": c.score, "max_score": c.max_points}
                for c in self.cells
            ],
            "flags": list(self.flags),
            "outcome": self.outcome,
        }

    @classmethod
    def from_json(cls, data: dict) -> GradeResult:
        return cls(
            outcome=data["outcome"],
            message=data["message"],
            cells=tuple(CellGrade(**cell) for cell in data["cells"]),
            score=float(data["score"]),
            max_score=float(data["max_score"]),
            needs_manual=bool(data["needs_manual"]),
            flags=tuple(data["flags"]),
            feedback_notebook=data["feedback_notebook"],
        )


def grade(
    source: SourceAssignment,
    submitted: nbformat.NotebookNode,
    *,
    workdir: Path,
    uid: int,
    limits: GradingLimits = GradingLimits(),
    hidden_paths: Sequence[str] = (),
    started: StartedJob | None = None,
    data_files: Mapping[str, bytes] | None = None,
) -> GradeResult:
    """Grade ``submitted`` against ``source`` in a sandbox as ``uid`` (blocking).

    ``workdir`` is this job's own folder (emptied first and last; its parent folder, where
    the other jobs are, is hidden from the job). ``hidden_paths`` are more folders the job
    must not see, such as the platform's data directory. ``started`` is a sandbox already
    running on ``workdir`` as ``uid`` with its kernel ready (from a warm pool); without it,
    one is started here. ``data_files`` (relative path -> content; default: the source's
    own) are put beside the notebook, read-only."""
    rebuilt = rebuild(source, submitted)
    files = dict(source.data_files if data_files is None else data_files)
    key = secrets.token_bytes(32)
    mounted = False
    try:
        if started is None:
            prepare_workdir(workdir, uid, limits.disk_mb)
            mounted = True
            started = start_job(workdir, uid, limits, hidden_paths)
        try:
            _place(workdir, uid, rebuilt, files)
        except OSError:
            started.abandon()
            raise
        plan = {
            "key": key.hex(),
            "limits": limits.to_json(),
            "tests": {str(i): check.to_json() for i, check in rebuilt.tests.items()},
            "instructor_code": instructor_code(rebuilt),
        }
        run = finish_job(started, json.dumps(plan).encode())
        executed, report, tampered = _results(workdir, key)
    except (SandboxFailure, OSError) as error:
        raise InfrastructureFault(f"The grading sandbox failed: {error}") from error
    finally:
        _empty(workdir)
        if mounted:
            release_workdir(workdir)
    outcome = decide_outcome(run, report, limits)
    if outcome.infrastructure:
        raise InfrastructureFault(outcome.message)
    return _result(source, rebuilt, executed, report, outcome, tampered)


def _result(
    source: SourceAssignment,
    rebuilt: RebuiltSubmission,
    executed: nbformat.NotebookNode | None,
    report: dict | None,
    outcome: Outcome,
    tampered: bool,
) -> GradeResult:
    verdicts = cell_verdicts(source, rebuilt, report, outcome.unrun_reason)
    released = {i: rebuilt.notebook.cells[i] for i in rebuilt.tests}
    shown, leaks = feedback_notebook(executed or rebuilt.notebook, released, rebuilt.tests, report)
    flags = [
        *rebuilt.flags,
        *suspicious_code(rebuilt.notebook, rebuilt.released),
        *outcome.flags,
        *leaks,
    ]
    flags += [flag for verdict in verdicts for flag in verdict.flags]
    flags += runner_flags(report, rebuilt.tests)
    if tampered:
        flags.append("The runner's results were missing their signature or had a wrong one.")
    cells = tuple(
        CellGrade(v.grade_id, v.kind, v.score, v.max_points, v.feedback) for v in verdicts
    )
    return GradeResult(
        outcome=outcome.name,
        message=outcome.message,
        cells=cells,
        score=sum(cell.score or 0 for cell in cells),
        max_score=source.max_score,
        needs_manual=any(cell.score is None for cell in cells),
        flags=tuple(dict.fromkeys(flags)),
        feedback_notebook=shown,
    )


def prepare_workdir(workdir: Path, uid: int, disk_mb: int = 0) -> None:
    """The job folder, empty, before its sandbox starts: a tmpfs of ``disk_mb`` MiB
    (``coursehub.hub.sandbox.mount_size_limited``; an ordinary folder when 0 or when this
    process may not mount), owned by root, group of the job's uid, sticky (mode 1770), so the
    job may create files but never replace the assignment's data files, which root owns."""
    workdir.mkdir(parents=True, exist_ok=True)
    if disk_mb and os.geteuid() == 0:
        try:
            mount_size_limited(workdir, uid, disk_mb)
        except OSError as error:
            log.warning("Grading job folder %s has no size limit: %s", workdir, error)
    _empty(workdir)
    os.chown(workdir, 0 if os.geteuid() == 0 else -1, uid)
    workdir.chmod(0o1770)


def release_workdir(workdir: Path) -> None:
    """Undo ``prepare_workdir``'s tmpfs (nothing happens for an ordinary folder)."""
    try:
        unmount_size_limited(workdir)
    except OSError as error:
        log.warning("Could not unmount the grading job folder %s: %s", workdir, error)


def instructor_code(rebuilt: RebuiltSubmission) -> list[str]:
    """The instructor's code as released: locked and ordinary code cells of the student
    version (their imports are resolved in the judge), and the complete tests."""
    code = [
        cell.source
        for cell in rebuilt.released.cells
        if cell.cell_type == "code" and cell_kind(cell) in (None, "locked")
    ]
    return code + [check.code for check in rebuilt.tests.values()]


def _place(workdir: Path, uid: int, rebuilt: RebuiltSubmission, files: Mapping[str, bytes]) -> None:
    """Put the rebuilt notebook and the assignment's data files in the job's folder."""
    for name, content in sorted(files.items()):
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts or name == SUBMISSION:
            continue
        target = workdir / relative
        for folder in reversed(relative.parents[:-1]):
            (workdir / folder).mkdir(mode=0o755, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o444)
    for folder in {workdir / p for name in files for p in Path(name).parents[:-1]}:
        folder.chmod(0o555)
    path = workdir / SUBMISSION
    path.write_text(nbformat.writes(rebuilt.notebook))
    os.chown(path, uid, uid)


def _results(workdir: Path, key: bytes) -> tuple[nbformat.NotebookNode | None, dict | None, bool]:
    """(executed notebook, runner report, whether results were there but not genuine)."""
    try:
        executed = _read_regular(workdir / EXECUTED)
        replies = json.loads(_read_regular(workdir / REPLIES))
        report = replies["report"]
        body = json.dumps(report, sort_keys=True).encode()
        genuine = hmac.compare_digest(str(replies["signature"]), sign(key, executed, body))
    except (OSError, ValueError, KeyError, TypeError):
        return None, None, (workdir / REPLIES).exists()
    if not genuine:
        return None, None, True
    return nbformat.reads(executed.decode(), as_version=4), report, False


def _read_regular(path: Path, limit: int = 256 << 20) -> bytes:
    """Read a file the job's uid could have replaced: no symlink, FIFO or device."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode) or status.st_size > limit:
            raise ValueError(f"{path.name} is not a plain file of reasonable size")
        return file.read(limit)


def _empty(workdir: Path) -> None:
    if not workdir.is_dir():
        return
    for entry in workdir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
