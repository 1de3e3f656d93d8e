"""Grading many attempts of an assignment at once, in the background, through the grading
queue and ``coursehub worker`` like any submission.

- Autograde all: every attempt without a grade (imported ones, failed ones) is queued.
- Regrade: every attempt, or the chosen ones, is graded again, for example after the
  instructor fixed a test (``PUT …/source``). Each old grade is archived whole first
  (``submissions.regrade``), so exactly one current grade per attempt remains.

Attempts being graded right now are left out (they run with the current source anyway) and
counted as skipped. A ``GradingRun`` row records what a run covers, one item per attempt with
its job; progress is read from those jobs: done, failed, or still pending.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String, cast, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment import submissions
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.models import (
    Account,
    Assignment,
    Course,
    Grade,
    GradingRun,
    GradingRunItem,
    GradingRunKind,
    Submission,
    SubmissionStatus,
)

# procrastinate owns this table (see models.assessment); only its id and status are read.
JOBS = table("procrastinate_jobs", column("id", BigInteger), column("status", String))
BUSY_JOB = ("todo", "doing")
FAILED_JOB = ("failed", "cancelled", "aborted")
DEFAULT_REASON = {
    GradingRunKind.AUTOGRADE: "Autograde of every attempt without a grade.",
    GradingRunKind.REGRADE: "Regrade by course staff.",
}
NOTHING_TO_DO = {
    GradingRunKind.AUTOGRADE: (
        "Every attempt of this assignment has a grade or is being graded; nothing to autograde."
    ),
    GradingRunKind.REGRADE: "None of those attempts can be graded again now: they are all "
    "being graded already.",
}
RECENT_RUNS = 20


def run_kind(value: Any) -> GradingRunKind:
    try:
        return GradingRunKind(str(value or "").upper())
    except ValueError:
        raise AssignmentError("kind must be AUTOGRADE or REGRADE.") from None


def _chosen(value: Any) -> list[int] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in value)
    ):
        raise AssignmentError("submission_ids must be a list of attempt ids, or left out for all.")
    return sorted(set(value))


async def _busy(session: AsyncSession, attempts: list[Submission]) -> set[int]:
    """Attempts whose grading job is waiting or running now."""
    job_ids = [s.job_id for s in attempts if s.job_id is not None]
    if not job_ids:
        return set()
    busy_jobs = set(
        await session.scalars(
            select(JOBS.c.id).where(
                JOBS.c.id.in_(job_ids), cast(JOBS.c.status, String).in_(BUSY_JOB)
            )
        )
    )
    return {s.id for s in attempts if s.job_id in busy_jobs}


async def start_run(
    session: AsyncSession,
    assignment: Assignment,
    by: Account,
    kind: GradingRunKind,
    *,
    submission_ids: Any = None,
    reason: Any = "",
) -> GradingRun:
    """Queue a run's grading jobs in this transaction (the caller commits)."""
    chosen = _chosen(submission_ids)
    why = str(reason or "").strip()[:2000] or DEFAULT_REASON[kind]
    query = (
        select(Submission, Grade)
        .outerjoin(Grade, Grade.submission_id == Submission.id)
        .where(Submission.assignment_id == assignment.id)
        .order_by(Submission.id)
        .with_for_update(of=Submission)
    )
    if chosen is not None:
        query = query.where(Submission.id.in_(chosen))
    rows = [(s, g) for s, g in await session.execute(query)]
    if chosen is not None and len(rows) != len(chosen):
        raise AssignmentError("Some of those attempts are not attempts of this assignment.", 404)
    if not rows:
        raise AssignmentError("This assignment has no attempts yet; nothing to grade.", 409)
    busy = await _busy(session, [s for s, _ in rows])
    run = GradingRun(assignment_id=assignment.id, kind=kind, reason=why, started_by_id=by.id)
    session.add(run)
    await session.flush()
    items = []
    for submission, grade in rows:
        if submission.id in busy:
            run.skipped += 1
            continue
        if grade is None:
            job_id = await submissions.requeue(session, submission)
        elif kind is GradingRunKind.REGRADE:
            job_id = await submissions.regrade(
                session, submission, grade, by=by, reason=why, run_id=run.id
            )
        else:
            continue
        items.append(GradingRunItem(run_id=run.id, submission_id=submission.id, job_id=job_id))
    if not items:
        raise AssignmentError(NOTHING_TO_DO[kind], 409)
    session.add_all(items)
    await session.flush()
    return run


def item_state(job_status: str | None, status: str, graded: bool) -> str:
    """done, failed or pending, from the item's job (and the attempt, once the job is gone)."""
    if job_status in FAILED_JOB:
        return "failed"
    if job_status == "succeeded":
        # A job that gave up on a platform fault ends with the attempt FAILED.
        return "failed" if not graded and status == SubmissionStatus.FAILED.value else "done"
    if job_status is None:  # procrastinate deleted the finished job
        return {"GRADED": "done", "FAILED": "failed"}.get(status, "pending")
    return "pending"


async def run_in_course(session: AsyncSession, course: Course, run_id: int) -> GradingRun:
    run = await session.scalar(
        select(GradingRun)
        .join(Assignment, Assignment.id == GradingRun.assignment_id)
        .where(GradingRun.id == run_id, Assignment.course_id == course.id)
    )
    if run is None:
        raise AssignmentError("This course has no such grading run.", 404)
    return run


async def run_progress(session: AsyncSession, run: GradingRun) -> dict[str, Any]:
    rows = await session.execute(
        select(
            GradingRunItem.submission_id,
            cast(JOBS.c.status, String).label("job_status"),
            cast(Submission.status, String).label("attempt_status"),
            Grade.id.is_not(None).label("graded"),
        )
        .join(Submission, Submission.id == GradingRunItem.submission_id)
        .outerjoin(JOBS, JOBS.c.id == GradingRunItem.job_id)
        .outerjoin(Grade, Grade.submission_id == GradingRunItem.submission_id)
        .where(GradingRunItem.run_id == run.id)
        .order_by(GradingRunItem.submission_id)
    )
    states = {sid: item_state(job, status, graded) for sid, job, status, graded in rows}
    counts = {state: list(states.values()).count(state) for state in ("done", "failed", "pending")}
    started_by = await session.get(Account, run.started_by_id) if run.started_by_id else None
    return {
        "id": run.id,
        "assignment_id": run.assignment_id,
        "kind": run.kind.value,
        "reason": run.reason,
        "started_by": started_by.username if started_by else None,
        "created_at": run.created_at,
        "total": len(states),
        "skipped": run.skipped,
        **counts,
        "finished": counts["pending"] == 0,
        "attempts": [{"submission_id": sid, "state": state} for sid, state in states.items()],
    }


async def recent_runs(session: AsyncSession, assignment: Assignment) -> list[dict[str, Any]]:
    runs = await session.scalars(
        select(GradingRun)
        .where(GradingRun.assignment_id == assignment.id)
        .order_by(GradingRun.created_at.desc(), GradingRun.id.desc())
        .limit(RECENT_RUNS)
    )
    return [await run_progress(session, run) for run in runs]
