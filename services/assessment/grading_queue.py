"""The grading queue of a course: attempts that need a person.

An attempt is in the queue when its grade has cells waiting for a person
(``Grade.needs_manual``), when its grade carries flags nobody has reviewed since it was
graded, or when its grading failed. Each student's latest attempt at an assignment matters
most: the queue and its counts hold those unless older attempts are asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, and_, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.models import (
    Account,
    Assignment,
    AuditEntry,
    Course,
    Grade,
    Submission,
    SubmissionStatus,
)

REASONS = ("needs_manual", "flagged", "failed")


@dataclass(frozen=True)
class QueueEntry:
    submission_id: int
    assignment_id: int
    account_id: int
    username: str
    name: str
    attempt: int
    latest: bool
    status: str
    reasons: tuple[str, ...]
    final_score: float | None
    max_score: float
    received_at: Any

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "reasons": list(self.reasons)}


def _ranked_attempts(course: Course) -> Any:
    """Every attempt of the course's assignments, ``rank`` 1 for a student's latest."""
    return (
        select(
            Submission.id.label("submission_id"),
            func.row_number()
            .over(
                partition_by=(Submission.assignment_id, Submission.account_id),
                order_by=Submission.attempt.desc(),
            )
            .label("rank"),
        )
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Assignment.course_id == course.id)
        .subquery()
    )


def _flags_unreviewed() -> Any:
    # Staff's review is in the audit log, the one record of grade changes.
    reviewed = exists().where(
        AuditEntry.target_kind == "submission",
        AuditEntry.target_id == cast(Grade.submission_id, String),
        AuditEntry.action == "grade.flags_reviewed",
        AuditEntry.at >= Grade.graded_at,
    )
    return and_(func.jsonb_array_length(Grade.flags) > 0, ~reviewed)


async def course_queue(
    session: AsyncSession, course: Course, *, all_attempts: bool = False
) -> tuple[list[QueueEntry], dict[int, dict[str, int]]]:
    """(entries, counts by assignment id). Entries: latest attempts first, then by
    assignment and student; counts are of latest attempts (``older``: earlier ones)."""
    ranked = _ranked_attempts(course)
    flagged = _flags_unreviewed().label("flagged")
    query = (
        select(Submission, Grade, Account, Assignment.max_score, ranked.c.rank, flagged)
        .join(ranked, ranked.c.submission_id == Submission.id)
        .join(Account, Account.id == Submission.account_id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .outerjoin(Grade, Grade.submission_id == Submission.id)
        .where(
            or_(
                Grade.needs_manual.is_(True),
                _flags_unreviewed(),
                Submission.status == SubmissionStatus.FAILED,
            )
        )
        .order_by(ranked.c.rank > 1, Assignment.due_at, Assignment.id, Account.username)
    )
    entries: list[QueueEntry] = []
    counts: dict[int, dict[str, int]] = {}
    for submission, grade, account, max_score, rank, is_flagged in await session.execute(query):
        reasons = tuple(
            reason
            for reason, present in (
                ("needs_manual", grade is not None and grade.needs_manual),
                ("flagged", bool(is_flagged)),
                ("failed", submission.status is SubmissionStatus.FAILED),
            )
            if present
        )
        tally = counts.setdefault(submission.assignment_id, dict.fromkeys((*REASONS, "older"), 0))
        if rank > 1:
            tally["older"] += 1
            if not all_attempts:
                continue
        else:
            for reason in reasons:
                tally[reason] += 1
        entries.append(
            QueueEntry(
                submission_id=submission.id,
                assignment_id=submission.assignment_id,
                account_id=account.id,
                username=account.username,
                name=account.name or "",
                attempt=submission.attempt,
                latest=rank == 1,
                status=submission.status.value,
                reasons=reasons,
                final_score=None if grade is None else grade.final_score,
                max_score=max_score,
                received_at=submission.received_at,
            )
        )
    return entries, counts
