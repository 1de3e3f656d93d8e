"""Grading submissions: procrastinate's ``grade_submission`` task, hosted by ``coursehub worker``.

A job grades one submission: it marks it GRADING, borrows a sandbox uid from this machine's
pool, runs the grading engine (``coursehub.graders.autograde.grade``) in a thread inside a
fresh job folder, and stores exactly one grade (``INSERT ... ON CONFLICT (submission_id) DO
NOTHING``, so a job that runs twice after a crash still leaves one), a notification
(``notifications.add``), and then news on Redis. Faults of the platform
(``InfrastructureFault``, anything unexpected) are retried; a run cut off by its worker's
death is requeued without spending a retry (``jobs.job_runs``); a student's own faults
(timeouts, crashes, too much output) are final grades. This module imports neither Tornado
nor the hub.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate import JobContext, RetryStrategy
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import SERVICE_PREFIX
from coursehub.services.assessment import assignment_files
from coursehub.services.assessment.assignments import apply_penalty
from coursehub.services.assessment.manual_grading import recompute_grade
from coursehub.services.assessment.sandbox_slots import JOBS_DIR, sandbox_slot
from coursehub.services.assessment.submissions import GRADE_TASK, GRADING_QUEUE
from coursehub.services.courses.membership import GRADERS, members
from coursehub.services.jobs import job_runs
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.jobs.job_runs import MAX_INTERRUPTIONS
from coursehub.services.models import Assignment, Course, Grade, Submission, SubmissionStatus
from coursehub.services.notifications import notifications
from coursehub.services.variants import copy_checks as variant_copy_checks
from coursehub.services.variants import records as variant_records

if TYPE_CHECKING:
    from coursehub.graders.warm_pool import WarmPool, WarmSandbox

log = logging.getLogger("coursehub.worker")

# Runs of a job in all: the first and two retries.
MAX_RUNS = 3
GRADED = "submission_graded"  # the notification's kind (notifications.kinds)
GRADING_FAILED = "grading_failed"  # a fault on CourseHub's side that stands
FAILED_MESSAGE = (
    "Grading failed three times because of a fault on CourseHub's side, not in your notebook. "
    "Your submission is kept; your instructor can have it graded again."
)
INTERRUPTED_MESSAGE = (
    f"Grading was cut off {MAX_INTERRUPTIONS} times because the grading worker stopped while "
    "running it. Your submission is kept; your instructor can have it graded again."
)


def run_engine(
    source_notebook: dict[str, Any],
    submitted: bytes,
    uid: int,
    hidden: tuple[str, ...],
    data_files: Mapping[str, bytes] | None = None,
) -> Any:
    """Grade in a job folder of its own (blocking: call it in a thread). ``hidden`` are
    folders the job must not see (the platform's data directory); ``data_files`` go beside
    the notebook, read-only."""
    from coursehub.graders.assignment_notebooks import read_source, read_submission
    from coursehub.graders.autograde import grade

    source = read_source(json.dumps(source_notebook).encode(), data_files)
    notebook = read_submission(submitted, source)
    JOBS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Folders of this slot's earlier holder were left by a worker that died mid-job.
    for stale in JOBS_DIR.glob(f"job-{uid}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f"job-{uid}-", dir=JOBS_DIR) as workdir:
        return grade(source, notebook, workdir=Path(workdir), uid=uid, hidden_paths=hidden)


def run_in_sandbox(
    source_notebook: dict[str, Any],
    submitted: bytes,
    sandbox: WarmSandbox,
    data_files: Mapping[str, bytes] | None = None,
) -> Any:
    """Grade in a sandbox of the warm pool, already running with its kernel ready
    (blocking: call it in a thread)."""
    from coursehub.graders.assignment_notebooks import read_source, read_submission
    from coursehub.graders.autograde import grade

    source = read_source(json.dumps(source_notebook).encode(), data_files)
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


async def grade_in_sandbox(
    context: WorkerContext,
    source_notebook: dict[str, Any],
    submitted: bytes,
    data_files: Mapping[str, bytes] | None = None,
) -> Any:
    """Grade in a sandbox of the worker's warm pool, or in one started now without a pool;
    ``data_files`` (the assignment's) go beside the notebook."""
    if context.pool is None:
        with sandbox_slot() as uid:
            return await asyncio.to_thread(
                run_engine, source_notebook, submitted, uid, context.hidden_paths, data_files
            )
    sandbox = await asyncio.to_thread(context.pool.take)
    try:
        return await asyncio.to_thread(
            run_in_sandbox, source_notebook, submitted, sandbox, data_files
        )
    finally:
        await asyncio.to_thread(sandbox.close)


@dataclass
class SubmissionGrader:
    """The ``grade_submission`` task's steps, on the worker's context."""

    context: WorkerContext

    async def set_status(self, submission_id: int, status: SubmissionStatus, message: str) -> None:
        async with self.context.sessions() as session:
            await session.execute(
                update(Submission)
                .where(Submission.id == submission_id)
                .values(status=status, status_message=message)
            )
            await session.commit()

    async def grade_submission(self, context: JobContext, submission_id: int) -> None:
        async with self.context.sessions() as session:
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
            data_files = await assignment_files.job_files(session, assignment.id)
            # A student's variant: the values injected into their copy, injected again here.
            values = await variant_records.recorded_values(
                session, assignment.id, submission.account_id
            )
            attempts = context.job.attempts or 0
            cut_off = await job_runs.interrupted_runs(session, context.job.id or 0, attempts)
        if graded is not None:
            await self.set_status(submission_id, SubmissionStatus.GRADED, "")
            return
        if attempts >= MAX_RUNS:
            await self.fail_for_good(submission_id, FAILED_MESSAGE)
            return
        if cut_off >= MAX_INTERRUPTIONS:
            # Runs cut off by dying workers do not spend retries, but a submission that keeps
            # taking its worker down stops here instead of going round for ever.
            log.error(
                "Submission %s cut off its grading %d times; giving up", submission_id, cut_off
            )
            await self.fail_for_good(submission_id, INTERRUPTED_MESSAGE)
            return
        await self.set_status(submission_id, SubmissionStatus.GRADING, "")
        graded_notebook = variant_records.for_grading(submission.notebook, values)
        try:
            result = await grade_in_sandbox(
                self.context,
                assignment.source_notebook,
                graded_notebook,
                data_files,
            )
        except Exception as error:
            await self.platform_fault(context, submission_id, error)
            raise
        if values is not None and result.outcome == "graded":
            # A variant's answer matching a classmate's variant, not its own: staff only.
            flags = await variant_copy_checks.flags_for_submission(
                self.context.sessions,
                assignment_id=assignment.id,
                account_id=submission.account_id,
                source_notebook=assignment.source_notebook,
                submitted=graded_notebook,
                values=values,
                files=data_files,
            )
            result = dataclasses.replace(result, flags=(*result.flags, *flags))
        await self.store_grade(submission, result)

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
            await self.fail_for_good(submission_id, FAILED_MESSAGE)
        else:
            await self.set_status(
                submission_id,
                SubmissionStatus.QUEUED,
                "Grading hit a fault on CourseHub's side; it will be tried again shortly.",
            )

    async def fail_for_good(self, submission_id: int, message: str) -> None:
        """The attempt is FAILED (a fault on CourseHub's side that stands): its student and the
        course's staff are told once, the staff with where to grade such attempts again
        ("Autograde all" queues every attempt without a grade)."""
        async with self.context.sessions() as session:
            row = (
                await session.execute(
                    select(Submission, Assignment.title, Course.id, Course.slug)
                    .join(Assignment, Assignment.id == Submission.assignment_id)
                    .join(Course, Course.id == Assignment.course_id)
                    .where(Submission.id == submission_id)
                    .with_for_update(of=Submission)
                )
            ).first()
            if row is None:
                return
            submission, title, course_id, slug = row
            told_before = submission.status is SubmissionStatus.FAILED
            submission.status, submission.status_message = SubmissionStatus.FAILED, message
            if not told_before:
                await self._tell_of_failure(session, submission, title, course_id, slug)
            await session.commit()
        made = notifications.committed(session)
        if made:
            await notifications.announce(self.context.redis, made)

    async def _tell_of_failure(
        self, session: AsyncSession, submission: Submission, title: str, course_id: int, slug: str
    ) -> None:
        about = {
            "submission_id": submission.id,
            "assignment_id": submission.assignment_id,
            "attempt": submission.attempt,
            "course": slug,
            "url": f"{SERVICE_PREFIX}/courses/{slug}/assignments",
        }
        notifications.add(
            session,
            submission.account_id,
            GRADING_FAILED,
            {
                **about,
                "title": f"{title}: grading failed because of a fault on CourseHub's side, not "
                "in your notebook. Your submission is kept; your instructor can have it graded "
                "again.",
            },
        )
        team = members(courses=[course_id], administrators=False)
        staff = await session.scalars(
            select(team.c.account_id).where(
                team.c.place.in_([place.value for place in GRADERS]),
                team.c.account_id != submission.account_id,
            )
        )
        for account_id in set(staff):
            notifications.add(
                session,
                account_id,
                GRADING_FAILED,
                {
                    **about,
                    "title": f"{title}: an attempt could not be graded because of a fault on "
                    "CourseHub's side. Autograde all on the assignments page grades every "
                    "such attempt again.",
                },
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
        async with self.context.sessions() as session:
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
            if grade_id is not None:
                payload.update(await _assignment_of(session, submission.assignment_id))
                notifications.add(session, submission.account_id, GRADED, payload)
            await session.commit()
        made = notifications.committed(session)  # the notification, if this run made it
        if made:
            await notifications.announce(self.context.redis, made)


async def _assignment_of(session: AsyncSession, assignment_id: int) -> dict[str, str]:
    """What the notification names: the assignment's title and its course's slug."""
    title, slug = (
        await session.execute(
            select(Assignment.title, Course.slug)
            .join(Course, Course.id == Assignment.course_id)
            .where(Assignment.id == assignment_id)
        )
    ).one()
    return {"assignment_title": title, "course": slug}


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


def tasks(context: WorkerContext) -> procrastinate.Blueprint:
    """The assessment domain's tasks, for ``coursehub worker`` to host."""
    blueprint = procrastinate.Blueprint()
    grader = SubmissionGrader(context)

    @blueprint.task(
        name=GRADE_TASK,
        queue=GRADING_QUEUE,
        pass_context=True,
        retry=RetryStrategy(max_attempts=MAX_RUNS - 1, wait=5),
    )
    async def grade_submission(job: JobContext, submission_id: int) -> None:
        await grader.grade_submission(job, submission_id)

    return blueprint
