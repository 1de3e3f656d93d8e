"""Students' submissions: checked, stored exactly as received, and queued for grading in the
same transaction.

The grading job is a row in ``procrastinate_jobs``, inserted by procrastinate's own SQL
function through this session's connection: the submission and its job commit together or
not at all, so no submission waits for a job that was never queued, and no job grades a
submission that was rolled back.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment import assignments
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.assessment.manual_grading import audit
from coursehub.services.jobs.queue import defer
from coursehub.services.models import (
    Account,
    ArchivedGrade,
    Assignment,
    Grade,
    Submission,
    SubmissionStatus,
    utcnow,
)

GRADING_QUEUE = "grading"
GRADE_TASK = "grade_submission"
# The same notebook sent again this soon is one submit (a double click, a retried request).
DOUBLE_SUBMIT_WINDOW = timedelta(seconds=30)


async def defer_grading(session: AsyncSession, submission_id: int) -> int:
    """Queue ``grade_submission(submission_id)`` in this session's transaction."""
    return await defer(session, GRADE_TASK, GRADING_QUEUE, submission_id=submission_id)


def check_notebook(data: bytes, assignment: Assignment, max_bytes: int) -> None:
    from coursehub.graders.assignment_notebooks import InvalidNotebook, read_source, read_submission

    if not data:
        raise AssignmentError("The upload is empty; choose your .ipynb file and send it again.")
    if len(data) > max_bytes:
        raise AssignmentError(
            f"The notebook is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. "
            "Clear large outputs and submit it again.",
            413,
        )
    try:
        source = read_source(json.dumps(assignment.source_notebook).encode())
        read_submission(data, source)
    except InvalidNotebook as error:
        raise AssignmentError(str(error)) from None


async def _lock_student(session: AsyncSession, assignment_id: int, account_id: int) -> None:
    # One submit at a time per student and assignment, until this transaction ends: attempt
    # numbers and the double-submit check then see every earlier submit.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": assignment_id, "b": account_id}
    )


async def _repeat_of(
    session: AsyncSession,
    assignment: Assignment,
    student: Account,
    sha256: str,
    idempotency_key: str | None,
) -> Submission | None:
    """An earlier submission this one repeats (same key, or same bytes moments ago)."""
    if idempotency_key:
        same_key = await session.scalar(
            select(Submission).where(
                Submission.assignment_id == assignment.id,
                Submission.account_id == student.id,
                Submission.idempotency_key == idempotency_key,
            )
        )
        if same_key is not None:
            return same_key
    latest = await session.scalar(
        select(Submission)
        .where(Submission.assignment_id == assignment.id, Submission.account_id == student.id)
        .order_by(Submission.attempt.desc())
        .limit(1)
    )
    if (
        latest is not None
        and latest.sha256 == sha256
        and utcnow() - latest.received_at < DOUBLE_SUBMIT_WINDOW
    ):
        return latest
    return None


def _refuse_late(due: assignments.Deadline, now: datetime) -> None:
    if due.cutoff_at is not None and now > due.cutoff_at:
        raise AssignmentError(
            f"Submissions closed at the cut-off, {due.cutoff_at:%Y-%m-%d %H:%M} UTC, so this "
            "one was not accepted. Ask your instructor for an extension if you need one.",
            409,
        )


async def submit(
    session: AsyncSession,
    assignment: Assignment,
    student: Account,
    data: bytes,
    *,
    max_bytes: int,
    idempotency_key: str | None = None,
) -> tuple[Submission, bool]:
    """Store an attempt and queue its grading; returns (submission, created). The caller
    commits. A repeated submit returns the earlier submission with ``created`` False."""
    if not assignments.is_released(assignment):
        raise AssignmentError("This assignment is not released yet; it takes no submissions.", 409)
    check_notebook(data, assignment, max_bytes)
    sha256 = hashlib.sha256(data).hexdigest()
    key = (idempotency_key or "").strip()[:100] or None
    await _lock_student(session, assignment.id, student.id)
    repeat = await _repeat_of(session, assignment, student, sha256, key)
    if repeat is not None:
        return repeat, False
    received_at = await session.scalar(select(func.now()))
    assert received_at is not None
    due = assignments.deadline(
        assignment, await assignments.extension_for(session, assignment, student.id)
    )
    _refuse_late(due, received_at)
    done = await session.scalar(
        select(func.count(Submission.id)).where(
            Submission.assignment_id == assignment.id, Submission.account_id == student.id
        )
    )
    done = done or 0
    if assignment.max_attempts is not None and done >= assignment.max_attempts:
        raise AssignmentError(
            f"You have used all {assignment.max_attempts} attempts of this assignment; your "
            "best graded attempt counts. Ask your instructor if you need another.",
            409,
        )
    submission = Submission(
        assignment_id=assignment.id,
        account_id=student.id,
        attempt=done + 1,
        received_at=received_at,
        sha256=sha256,
        notebook=data,
        size=len(data),
        idempotency_key=key,
        late_penalty_percent=assignments.late_penalty_percent(assignment, due, received_at),
        status=SubmissionStatus.QUEUED,
    )
    session.add(submission)
    await session.flush()
    submission.job_id = await defer_grading(session, submission.id)
    return submission, True


async def requeue(session: AsyncSession, submission: Submission) -> int:
    """Put an attempt without a grade back in the grading queue; returns the job id."""
    submission.status = SubmissionStatus.QUEUED
    submission.status_message = ""
    submission.job_id = await defer_grading(session, submission.id)
    return submission.job_id


def grade_row(grade: Grade) -> dict[str, Any]:
    """Every column of a grade, as JSON (what an archived grade keeps)."""
    row = {column.key: getattr(grade, column.key) for column in Grade.__table__.columns}
    row["graded_at"] = grade.graded_at.isoformat() if grade.graded_at else None
    return row


async def regrade(
    session: AsyncSession,
    submission: Submission,
    grade: Grade | None,
    *,
    by: Account | None = None,
    reason: str = "",
    run_id: int | None = None,
) -> int:
    """Queue an attempt's grading again (staff); returns the job id. A failed attempt just
    goes back in the queue. A graded one needs a reason: its grade is archived whole (who,
    when, why) and removed in this transaction, so the worker writes the attempt's one new
    grade; people's scores and an override, kept by grade cell, apply to it again."""
    if grade is not None:
        reason = reason.strip()
        if not reason or by is None:
            raise AssignmentError(
                "This attempt is graded already; each attempt has one grade. To grade it "
                "again, give a reason: the old grade is archived with it.",
                409,
            )
        removed = await session.scalar(
            delete(Grade).where(Grade.id == grade.id).returning(Grade.id)
        )
        if removed is None:
            raise AssignmentError("This attempt is being graded again already.", 409)
        old = grade_row(grade)
        session.expunge(grade)
        session.add(
            ArchivedGrade(
                submission_id=submission.id,
                grade=old,
                reason=reason,
                run_id=run_id,
                archived_by_id=by.id,
            )
        )
        summary = {key: old[key] for key in ("outcome", "score", "final_score", "needs_manual")}
        summary["cells"] = {cell["grade_id"]: cell["score"] for cell in old["cells"]}
        await audit(session, submission.id, "regrade", by, before=summary, reason=reason)
    elif submission.status is not SubmissionStatus.FAILED:
        raise AssignmentError("This attempt is still waiting for its grade; nothing to redo.", 409)
    return await requeue(session, submission)


# -- reading ---------------------------------------------------------------------------------


async def student_submissions(
    session: AsyncSession, assignment: Assignment, account_id: int | None = None
) -> list[tuple[Submission, Grade | None]]:
    query = (
        select(Submission, Grade)
        .outerjoin(Grade, Grade.submission_id == Submission.id)
        .where(Submission.assignment_id == assignment.id)
    )
    if account_id is not None:
        query = query.where(Submission.account_id == account_id)
    query = query.order_by(Submission.account_id, Submission.attempt)
    return [(row[0], row[1]) for row in await session.execute(query)]


async def submission_with_grade(
    session: AsyncSession, assignment: Assignment, submission_id: int
) -> tuple[Submission, Grade | None]:
    row = (
        await session.execute(
            select(Submission, Grade)
            .outerjoin(Grade, Grade.submission_id == Submission.id)
            .where(Submission.id == submission_id, Submission.assignment_id == assignment.id)
        )
    ).first()
    if row is None:
        raise AssignmentError("There is no such submission of this assignment.", 404)
    return row[0], row[1]


def grade_json(grade: Grade | None) -> dict[str, Any] | None:
    if grade is None:
        return None
    return {
        "outcome": grade.outcome,
        "message": grade.message,
        "score": grade.score,
        "max_score": grade.max_score,
        "late_penalty_percent": grade.late_penalty_percent,
        "final_score": grade.final_score,
        "cells": grade.cells,
        "flags": grade.flags,
        "needs_manual": grade.needs_manual,
        "graded_at": grade.graded_at,
    }


def submission_json(submission: Submission, grade: Grade | None) -> dict[str, Any]:
    return {
        "id": submission.id,
        "assignment_id": submission.assignment_id,
        "account_id": submission.account_id,
        "attempt": submission.attempt,
        "received_at": submission.received_at,
        "sha256": submission.sha256,
        "size": submission.size,
        "late_penalty_percent": submission.late_penalty_percent,
        "status": submission.status.value,
        "status_message": submission.status_message,
        "grade": grade_json(grade),
    }
