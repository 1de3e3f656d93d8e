"""The grading worker: procrastinate's ``grade_submission`` task, run by ``coursehub worker``.

A job grades one submission: it marks it GRADING, borrows a sandbox uid from this machine's
pool, runs the grading engine (``coursehub.graders.autograde.grade``) in a thread inside a
fresh job folder, and stores exactly one grade (``INSERT ... ON CONFLICT (submission_id) DO
NOTHING``, so a job that runs twice after a crash still leaves one), a notification row, and
then news on Redis. Faults of the platform (``InfrastructureFault``, anything unexpected)
are retried; a student's own faults (timeouts, crashes, too much output) are final grades.

Workers scale by running more of them, on more machines, against the same PostgreSQL. Jobs
of a worker that died (kill -9, a lost machine) are found by their stale heartbeat and run
again. This module imports neither Tornado nor the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import procrastinate
import redis.asyncio as redis
from procrastinate import JobContext, RetryStrategy
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coursehub.services.assessment.assignments import apply_penalty
from coursehub.services.assessment.manual_grading import recompute_grade
from coursehub.services.assessment.submissions import GRADE_TASK, GRADING_QUEUE
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.models import (
    Assignment,
    Grade,
    Notification,
    Submission,
    SubmissionStatus,
)
from coursehub.services.notifications import notifications
from coursehub.services.notifications.notification_email import NOTIFICATION_QUEUE

if TYPE_CHECKING:
    from coursehub.graders.warm_pool import WarmPool, WarmSandbox

log = logging.getLogger("coursehub.worker")

# Runs of a job in all: the first and two retries.
MAX_RUNS = 3
# Sandboxed grading runs as SANDBOX_UID_BASE + slot, one slot per running job on the machine.
SANDBOX_UID_BASE = 300_000
SANDBOX_SLOTS = 1000
SLOT_DIR = Path(tempfile.gettempdir()) / "coursehub-grading-slots"
# Every job's folder is made in here; the engine hides this parent (the other jobs) from a job.
JOBS_DIR = Path(tempfile.gettempdir()) / "coursehub-grading-jobs"
FAILED_MESSAGE = (
    "Grading failed three times because of a fault on CourseHub's side, not in your notebook. "
    "Your submission is kept; your instructor can have it graded again."
)


def libpq_url(database_url: str) -> str:
    """psycopg's own URL form (no SQLAlchemy driver name)."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextlib.contextmanager
def sandbox_slot() -> Iterator[int]:
    """A sandbox uid no other grading job on this machine holds, for as long as the block
    runs. The slot is an flock'ed file: a killed worker's slots are free again at once."""
    SLOT_DIR.mkdir(mode=0o1777, parents=True, exist_ok=True)
    for slot in range(SANDBOX_SLOTS):
        handle = (SLOT_DIR / f"slot-{slot}.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield SANDBOX_UID_BASE + slot
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise RuntimeError(f"All {SANDBOX_SLOTS} grading sandboxes of this machine are busy.")


def run_engine(
    source_notebook: dict[str, Any], submitted: bytes, uid: int, hidden: tuple[str, ...]
) -> Any:
    """Grade in a job folder of its own (blocking: call it in a thread). ``hidden`` are
    folders the job must not see (the platform's data directory)."""
    from coursehub.graders.assignment_notebooks import read_source, read_submission
    from coursehub.graders.autograde import grade

    source = read_source(json.dumps(source_notebook).encode())
    notebook = read_submission(submitted, source)
    JOBS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Folders of this slot's earlier holder were left by a worker that died mid-job.
    for stale in JOBS_DIR.glob(f"job-{uid}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f"job-{uid}-", dir=JOBS_DIR) as workdir:
        return grade(source, notebook, workdir=Path(workdir), uid=uid, hidden_paths=hidden)


def run_in_sandbox(source_notebook: dict[str, Any], submitted: bytes, sandbox: WarmSandbox) -> Any:
    """Grade in a sandbox of the warm pool, already running with its kernel ready
    (blocking: call it in a thread)."""
    from coursehub.graders.assignment_notebooks import read_source, read_submission
    from coursehub.graders.autograde import grade

    source = read_source(json.dumps(source_notebook).encode())
    notebook = read_submission(submitted, source)
    return grade(
        source,
        notebook,
        workdir=sandbox.workdir,
        uid=sandbox.uid,
        limits=sandbox.job.limits,
        started=sandbox.job,
    )


def warm_pool(size: int, hidden_paths: tuple[str, ...]) -> WarmPool:
    """Sandboxes for this worker's next ``size`` jobs, started ahead of them."""
    from coursehub.graders.warm_pool import WarmPool

    return WarmPool(slot=sandbox_slot, jobs_dir=JOBS_DIR, hidden_paths=hidden_paths, size=size)


@dataclass
class GradingWorker:
    """What a worker process shares between its jobs: the database and Redis."""

    sessions: async_sessionmaker[AsyncSession]
    redis: redis.Redis
    hidden_paths: tuple[str, ...] = ()
    pool: WarmPool | None = None

    async def set_status(self, submission_id: int, status: SubmissionStatus, message: str) -> None:
        async with self.sessions() as session:
            await session.execute(
                update(Submission)
                .where(Submission.id == submission_id)
                .values(status=status, status_message=message)
            )
            await session.commit()

    async def grade_submission(self, context: JobContext, submission_id: int) -> None:
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(Submission, Assignment)
                    .join(Assignment, Assignment.id == Submission.assignment_id)
                    .where(Submission.id == submission_id)
                )
            ).first()
            if row is None:
                log.info("Submission %s is gone; nothing to grade", submission_id)
                return
            submission, assignment = row
            graded = await session.scalar(
                select(Grade.id).where(Grade.submission_id == submission_id)
            )
        if graded is not None:
            await self.set_status(submission_id, SubmissionStatus.GRADED, "")
            return
        if (context.job.attempts or 0) >= MAX_RUNS:
            # Runs cut off by dying workers count too: a submission that keeps taking its
            # worker down stops here instead of going round for ever.
            await self.set_status(submission_id, SubmissionStatus.FAILED, FAILED_MESSAGE)
            return
        await self.set_status(submission_id, SubmissionStatus.GRADING, "")
        try:
            result = await self.run(assignment.source_notebook, submission.notebook)
        except Exception as error:
            await self.platform_fault(context, submission_id, error)
            raise
        await self.store_grade(submission, result)

    async def run(self, source_notebook: dict[str, Any], submitted: bytes) -> Any:
        """Grade in a sandbox of the warm pool, or in one started now without a pool."""
        if self.pool is None:
            with sandbox_slot() as uid:
                return await asyncio.to_thread(
                    run_engine, source_notebook, submitted, uid, self.hidden_paths
                )
        sandbox = await asyncio.to_thread(self.pool.take)
        try:
            return await asyncio.to_thread(run_in_sandbox, source_notebook, submitted, sandbox)
        finally:
            await asyncio.to_thread(sandbox.close)

    async def platform_fault(
        self, context: JobContext, submission_id: int, error: Exception
    ) -> None:
        runs = (context.job.attempts or 0) + 1
        log.warning(
            "Grading submission %s failed (run %d of %d): %s",
            submission_id,
            runs,
            MAX_RUNS,
            error,
            exc_info=not _is_infrastructure_fault(error),
        )
        if runs >= MAX_RUNS:
            await self.set_status(submission_id, SubmissionStatus.FAILED, FAILED_MESSAGE)
        else:
            await self.set_status(
                submission_id,
                SubmissionStatus.QUEUED,
                "Grading hit a fault on CourseHub's side; it will be tried again shortly.",
            )

    async def store_grade(self, submission: Submission, result: Any) -> None:
        penalty = submission.late_penalty_percent
        score = float(result.score or 0)
        values = {
            "submission_id": submission.id,
            "outcome": result.outcome,
            "message": result.message or "",
            "cells": [_cell_json(cell) for cell in result.cells],
            "score": score,
            "max_score": float(result.max_score or 0),
            "late_penalty_percent": penalty,
            "final_score": apply_penalty(score, penalty),
            "flags": list(result.flags),
            "needs_manual": bool(result.needs_manual),
            "feedback_notebook": result.feedback_notebook,
        }
        async with self.sessions() as session:
            # Locked as people's grading locks it, so none of their changes is missed.
            await session.execute(
                select(Submission.id).where(Submission.id == submission.id).with_for_update()
            )
            grade_id = await session.scalar(
                insert(Grade)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["submission_id"])
                .returning(Grade.id)
            )
            if grade_id is not None:
                # A regraded attempt keeps what people decided (scores by cell, an override).
                await recompute_grade(session, submission.id)
            await session.execute(
                update(Submission)
                .where(Submission.id == submission.id)
                .values(status=SubmissionStatus.GRADED, status_message="")
            )
            payload = {
                "submission_id": submission.id,
                "assignment_id": submission.assignment_id,
                "attempt": submission.attempt,
                "outcome": result.outcome,
                "score": score,
                "final_score": values["final_score"],
                "max_score": values["max_score"],
            }
            notification = None
            if grade_id is not None:
                notification = Notification(
                    account_id=submission.account_id, kind="submission_graded", payload=payload
                )
                session.add(notification)
            await session.commit()
        if notification is not None:
            await self.publish(submission.account_id, notification)

    async def publish(self, account_id: int, notification: Notification) -> None:
        """News for open pages; the notification row is the record, so Redis may be down."""
        await notifications.announce(self.redis, [notification])


def _is_infrastructure_fault(error: Exception) -> bool:
    # Only the engine raises it, so the engine is imported already when it is one.
    engine = sys.modules.get("coursehub.graders.autograde")
    return engine is not None and isinstance(error, engine.InfrastructureFault)


def _cell_json(cell: Any) -> dict[str, Any]:
    return {
        "grade_id": cell.grade_id,
        "kind": str(cell.kind),
        "score": cell.score,
        "max_points": cell.max_points,
        "feedback": cell.feedback,
    }


def make_app(database_url: str) -> procrastinate.App:
    """A procrastinate App on the course database (also usable to defer from Python)."""
    return procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_url(database_url))
    )


def register_tasks(app: procrastinate.App, worker: GradingWorker) -> None:
    @app.task(
        name=GRADE_TASK,
        queue=GRADING_QUEUE,
        pass_context=True,
        retry=RetryStrategy(max_attempts=MAX_RUNS - 1, wait=5),
    )
    async def grade_submission(context: JobContext, submission_id: int) -> None:
        await worker.grade_submission(context, submission_id)

    from coursehub.services.quizzes.quiz_jobs import register_quiz_tasks  # imports this module

    register_quiz_tasks(app, worker)

    from coursehub.services.notifications.notification_jobs import (
        register_notification_tasks,  # idem
    )

    register_notification_tasks(app, worker)


WORKER_QUEUES = (GRADING_QUEUE, NOTIFICATION_QUEUE)


async def retry_stalled_jobs(app: procrastinate.App, stalled_after: float) -> int:
    """Put jobs of workers without a heartbeat for ``stalled_after`` seconds back in their
    queue (procrastinate's documented recipe), for every queue a worker serves: gradings,
    and emails, digests and due-date scans; returns how many."""
    count = 0
    for queue in WORKER_QUEUES:
        stalled = await app.job_manager.get_stalled_jobs(
            queue=queue, seconds_since_heartbeat=stalled_after
        )
        for job in stalled:
            try:
                await app.job_manager.retry_job(job)
                count += 1
            except procrastinate.exceptions.ProcrastinateException as error:
                log.info("Stalled job %s was taken care of elsewhere: %s", job.id, error)
    if count:
        log.warning("Requeued %d job(s) of stalled workers", count)
    return count


async def _watch_stalled(app: procrastinate.App, stalled_after: float) -> None:
    while True:
        try:
            await retry_stalled_jobs(app, stalled_after)
        except Exception:
            log.exception("Could not look for stalled jobs")
        await asyncio.sleep(stalled_after / 3)


async def run_worker(
    database_url: str,
    redis_url: str,
    *,
    concurrency: int = 1,
    warm_sandboxes: int = 1,
    heartbeat: float = 10.0,
    hidden_paths: tuple[str, ...] = (),
) -> None:
    engine = make_engine(database_url, pool_size=max(2, concurrency + 1))
    client = redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    pool = warm_pool(warm_sandboxes, hidden_paths)
    pool.refill()
    worker = GradingWorker(make_sessionmaker(engine), client, hidden_paths, pool)
    app = make_app(database_url)
    register_tasks(app, worker)
    stalled_after = heartbeat * 3
    try:
        async with app.open_async():
            watcher = asyncio.create_task(_watch_stalled(app, stalled_after))
            try:
                log.info(
                    "CourseHub grading worker (pid %d) takes %d job(s) at a time",
                    os.getpid(),
                    concurrency,
                )
                await app.run_worker_async(
                    queues=list(WORKER_QUEUES),
                    concurrency=concurrency,
                    name=f"grading-{os.uname().nodename}-{os.getpid()}",
                    update_heartbeat_interval=heartbeat,
                    stalled_worker_timeout=stalled_after,
                    # On SIGTERM running jobs get this long; a job cut off runs again later.
                    shutdown_graceful_timeout=20,
                )
            finally:
                watcher.cancel()
    finally:
        await asyncio.to_thread(pool.close)
        await client.aclose()
        await engine.dispose()
