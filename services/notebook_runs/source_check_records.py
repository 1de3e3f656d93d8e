"""Assignment source checks kept with each uploaded version of the source.

Every upload of an nbgrader source (a new assignment, a corrected source; from the pages, the
API, JupyterLab or the seed) queues its check (``queue_check``) in the upload's transaction;
the ``check_assignment_source`` job (``source_check_jobs``) runs it on the notebook-runs queue
and keeps the result with that version (the source's and the data files' digests): the test
cells that fail with the solution, those that pass without any answer, both executed
notebooks. A version whose notebook and files were checked before (for any assignment) takes
that result without running again. The upload itself never waits for the check; the
assignment's page shows it (``latest_check``) once it is there.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import nbformat
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coursehub.hub.sandbox import SandboxUnavailable
from coursehub.services.jobs.queue import defer
from coursehub.services.models import (
    Assignment,
    AssignmentFile,
    AssignmentSourceCheck,
    SourceCheckState,
    utcnow,
)
from coursehub.services.notebook_runs.run_queue import NOTEBOOK_RUNS_QUEUE
from coursehub.services.notebook_runs.source_checks import SourceCheck, check_assignment_source

log = logging.getLogger(__name__)
CHECK_SOURCE_TASK = "check_assignment_source"
# Directives for the grading engine, not a file a notebook reads (assessment keeps it so too).
NOT_FOR_THE_NOTEBOOK = "autotests.yml"
UNAVAILABLE = (
    "CourseHub could not run this check (no sandbox is available on this machine); the "
    "source is saved as it is."
)


def files_digest(files: dict[str, bytes]) -> str:
    """One digest of the data files a notebook runs with (their paths and contents)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return digest.hexdigest()


async def notebook_files(session: AsyncSession, assignment_id: int) -> dict[str, bytes]:
    """The data files the assignment's notebooks find beside them."""
    rows = await session.execute(
        select(AssignmentFile.path, AssignmentFile.content).where(
            AssignmentFile.assignment_id == assignment_id,
            AssignmentFile.path != NOT_FOR_THE_NOTEBOOK,
        )
    )
    return {path: content for path, content in rows}


async def queue_check(session: AsyncSession, assignment: Assignment) -> AssignmentSourceCheck:
    """The check of the assignment's current source version: the one already kept, or a new
    one queued in ``session``'s transaction (the caller commits)."""
    await session.flush()
    files = await notebook_files(session, assignment.id)
    digest = files_digest(files)
    kept = await session.scalar(
        select(AssignmentSourceCheck).where(
            AssignmentSourceCheck.assignment_id == assignment.id,
            AssignmentSourceCheck.source_sha256 == assignment.source_sha256,
            AssignmentSourceCheck.files_sha256 == digest,
        )
    )
    if kept is not None and kept.state != SourceCheckState.ERROR.value:
        return kept
    if kept is None:
        kept = AssignmentSourceCheck(
            assignment_id=assignment.id,
            source_sha256=assignment.source_sha256,
            files_sha256=digest,
            state=SourceCheckState.QUEUED.value,
        )
        session.add(kept)
    kept.state = SourceCheckState.QUEUED.value
    kept.problem = None
    await session.flush()
    await defer(session, CHECK_SOURCE_TASK, NOTEBOOK_RUNS_QUEUE, check_id=kept.id)
    return kept


def _keep(row: AssignmentSourceCheck, check: SourceCheck) -> None:
    row.state = SourceCheckState.DONE.value
    row.ok = check.ok
    row.summary = check.summary()
    row.problem = None
    row.solution_executed = dict(check.solution.notebook)
    row.released_executed = dict(check.released.notebook)
    row.finished_at = utcnow()


async def keep_result(
    session: AsyncSession, assignment: Assignment, files: dict[str, bytes], check: SourceCheck
) -> AssignmentSourceCheck:
    """Keep a check run in the request (``check_source=1``) with the version it checked."""
    digest = files_digest(files)
    row = await session.scalar(
        select(AssignmentSourceCheck).where(
            AssignmentSourceCheck.assignment_id == assignment.id,
            AssignmentSourceCheck.source_sha256 == assignment.source_sha256,
            AssignmentSourceCheck.files_sha256 == digest,
        )
    )
    if row is None:
        row = AssignmentSourceCheck(
            assignment_id=assignment.id,
            source_sha256=assignment.source_sha256,
            files_sha256=digest,
            state=SourceCheckState.QUEUED.value,
        )
        session.add(row)
    _keep(row, check)
    await session.flush()
    return row


async def _checked_before(
    session: AsyncSession, row: AssignmentSourceCheck
) -> AssignmentSourceCheck | None:
    return await session.scalar(
        select(AssignmentSourceCheck)
        .where(
            AssignmentSourceCheck.source_sha256 == row.source_sha256,
            AssignmentSourceCheck.files_sha256 == row.files_sha256,
            AssignmentSourceCheck.state == SourceCheckState.DONE.value,
            AssignmentSourceCheck.id != row.id,
        )
        .order_by(AssignmentSourceCheck.id.desc())
        .limit(1)
    )


async def run_check(
    sessions: async_sessionmaker[AsyncSession], check_id: int
) -> AssignmentSourceCheck | None:
    """Run a queued check (the job); no database session is open while the notebooks run."""
    async with sessions() as session:
        row = await session.get(AssignmentSourceCheck, check_id)
        if row is None or row.state == SourceCheckState.DONE.value:
            return row
        assignment = await session.get(Assignment, row.assignment_id)
        if assignment is None or assignment.source_sha256 != row.source_sha256:
            return row  # the source changed since: its own check is queued
        before = await _checked_before(session, row)
        if before is not None:
            for name in ("ok", "summary", "solution_executed", "released_executed"):
                setattr(row, name, getattr(before, name))
            row.state, row.finished_at = SourceCheckState.DONE.value, utcnow()
            await session.commit()
            return row
        files = await notebook_files(session, assignment.id)
        source, released = assignment.source_notebook, assignment.student_notebook
        row.state = SourceCheckState.RUNNING.value
        await session.commit()
    try:
        check = await check_assignment_source(source, released, files, background=True)
    except SandboxUnavailable:
        check, problem = None, UNAVAILABLE
    async with sessions() as session:
        row = await session.get_one(AssignmentSourceCheck, check_id)
        if check is None:
            row.state, row.problem, row.finished_at = (
                SourceCheckState.ERROR.value,
                problem,
                utcnow(),
            )
        else:
            _keep(row, check)
        await session.commit()
    return row


async def latest_check(
    session: AsyncSession, assignment: Assignment
) -> AssignmentSourceCheck | None:
    """The check of the assignment's current source (the newest of its versions' checks)."""
    return await session.scalar(
        select(AssignmentSourceCheck)
        .where(
            AssignmentSourceCheck.assignment_id == assignment.id,
            AssignmentSourceCheck.source_sha256 == assignment.source_sha256,
        )
        .order_by(AssignmentSourceCheck.id.desc())
        .limit(1)
    )


def check_json(row: AssignmentSourceCheck | None, source: dict[str, Any]) -> dict[str, Any]:
    """What the page and the API show: the state, and each cell that does not behave with
    its position (1-based), grade id, first line and what is wrong."""
    if row is None:
        return {"state": "none"}
    summary = row.summary or {}
    notebook = nbformat.from_dict(source)

    def cells(key: str) -> list[dict[str, Any]]:
        found = []
        for cell in summary.get(key, []):
            index = int(cell["index"])
            lines = (
                notebook.cells[index].source.strip().splitlines()
                if index < len(notebook.cells)
                else []
            )
            found.append({**cell, "number": index + 1, "first_line": lines[0] if lines else ""})
        return found

    return {
        "id": row.id,
        "state": row.state,
        "ok": row.ok,
        "problem": row.problem,
        "failing_with_solution": cells("failing_with_solution"),
        "passing_without_answers": cells("passing_without_answers"),
        "finished_at": row.finished_at,
    }
