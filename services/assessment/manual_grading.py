"""Manual grading of attempts: scores and comments per grade cell, rubric items applied,
score overrides of whole attempts, flags reviewed, and the history of all of them (read
from the audit log, the one record of grade changes).

The attempt's ``Grade`` stays the one truth the gradebook reads: whenever a person changes
something, ``recompute_grade`` sets its ``score`` (the autograde cell scores, a person's
score replacing a cell's where given, or the override instead of the sum), its
``final_score`` (that minus the attempt's late penalty) and ``needs_manual`` (a cell still
waits for a person and no override settles the attempt). The worker calls it too when it
stores a new grade, so what people decided survives a regrade.

Changes to one attempt are serialised by locking its submission row. Functions take an
``AsyncSession`` and leave committing to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment import rubrics
from coursehub.services.assessment.assignments import AssignmentError, apply_penalty
from coursehub.services.audit import audit_log
from coursehub.services.jobs.queue import defer
from coursehub.services.models import (
    Account,
    ArchivedGrade,
    Assignment,
    AuditEntry,
    Grade,
    LtiLineItem,
    ManualScore,
    ScoreOverride,
    Submission,
    utcnow,
)

MAX_REASON = 2000


@dataclass(frozen=True)
class Totals:
    score: float
    final_score: float
    needs_manual: bool


def totals(
    cells: list[dict[str, Any]],
    manual: dict[str, float],
    override: float | None,
    penalty_percent: float,
) -> Totals:
    """An attempt's score from its autograded ``cells``, people's ``manual`` scores by grade
    id (replacing the cell's) and an ``override`` of the whole, then the late penalty."""
    score, waiting = 0.0, False
    for cell in cells:
        given = manual.get(cell.get("grade_id", ""))
        if given is not None:
            score += given
        elif cell.get("score") is None:
            waiting = True
        else:
            score += float(cell["score"])
    if override is not None:
        score = override
    score = round(score, 4)
    return Totals(score, apply_penalty(score, penalty_percent), waiting and override is None)


CERTIFICATE_RECHECK_TASK = "recheck_certificate_after_grade"
CERTIFICATE_RELEASE_TASK = "recheck_certificates_after_release"
CERTIFICATE_QUEUE = "certificates"
# The LMS's gradebook follows too (the lti package sits above this one; the names are its own).
LTI_PASSBACK_TASK = "lti_passback_after_grade"
LTI_RELEASE_TASK = "lti_passback_after_release"
LTI_QUEUE = "lti"


async def defer_lti_passback(session: AsyncSession, assignment_id: int, **arguments: int) -> None:
    """Queue the LMS passback of a changed grade (``graded_submission``) or a release
    (``released_assignment``) in the caller's transaction, when the assignment has a line item
    in an LMS (an LTI launch made one); otherwise nothing."""
    linked = await session.scalar(
        select(LtiLineItem.id).where(LtiLineItem.assignment_id == assignment_id).limit(1)
    )
    if linked is None:
        return
    task = LTI_PASSBACK_TASK if "graded_submission" in arguments else LTI_RELEASE_TASK
    await defer(session, task, LTI_QUEUE, **arguments)


async def recompute_grade(session: AsyncSession, submission_id: int) -> Grade | None:
    """Bring the attempt's grade up to date with people's scores and override."""
    grade = await session.scalar(select(Grade).where(Grade.submission_id == submission_id))
    if grade is None:
        return None
    manual = {
        grade_id: score
        for grade_id, score in await session.execute(
            select(ManualScore.grade_id, ManualScore.score).where(
                ManualScore.submission_id == submission_id, ManualScore.score.is_not(None)
            )
        )
    }
    override = await session.scalar(
        select(ScoreOverride.score).where(ScoreOverride.submission_id == submission_id)
    )
    result = totals(grade.cells, manual, override, grade.late_penalty_percent)
    grade.score, grade.final_score = result.score, result.final_score
    grade.needs_manual = result.needs_manual
    await session.flush()
    # The course's certificate rule is checked again by a job committed with this grade
    # (the certificates package sits above this one; the names are its own).
    await defer(
        session, CERTIFICATE_RECHECK_TASK, CERTIFICATE_QUEUE, graded_submission=submission_id
    )
    assignment_id = await session.scalar(
        select(Submission.assignment_id).where(Submission.id == submission_id)
    )
    if assignment_id is not None:
        await defer_lti_passback(session, assignment_id, graded_submission=submission_id)
    return grade


async def lock_attempt(
    session: AsyncSession, assignment: Assignment, submission_id: int, by: Account | None = None
) -> Submission:
    """The attempt, locked until the transaction ends (one change at a time); refused when
    it is the work of ``by``, who would grade themselves (a conflict of interest)."""
    submission = await session.scalar(
        select(Submission)
        .where(Submission.id == submission_id, Submission.assignment_id == assignment.id)
        .with_for_update()
    )
    if submission is None:
        raise AssignmentError("There is no such submission of this assignment.", 404)
    if by is not None and submission.account_id == by.id:
        raise AssignmentError(
            "This is your own submission, and nobody grades their own work; another member "
            "of the course's staff grades it.",
            403,
        )
    return submission


GRADE_ACTIONS = (
    "manual_score",
    "rubric",
    "comment",
    "override",
    "override_removed",
    "regrade",
    "flags_reviewed",
)
# Cell-level changes written before the audit log was the one record named their cell in the
# reason ("<grade id>: <reason>"); the log is append-only, so they are read as they are.
_CELL_ACTIONS = ("manual_score", "rubric", "comment")


def _with_cell(state: Any, grade_id: str | None) -> Any:
    return {**state, "grade_id": grade_id} if grade_id and isinstance(state, dict) else state


async def audit(
    session: AsyncSession,
    submission_id: int,
    action: str,
    by: Account,
    *,
    grade_id: str | None = None,
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> None:
    """Record a change to the attempt's grading in the audit log, the one record of grade
    changes (who, what, when, before/after, reason); the grade cell changed, if any, is
    ``grade_id`` in before and after; the entry names the attempt's course."""
    course_id = await session.scalar(
        select(Assignment.course_id)
        .join(Submission, Submission.assignment_id == Assignment.id)
        .where(Submission.id == submission_id)
    )
    audit_log.record(
        session,
        by,
        f"grade.{action}",
        ("submission", submission_id),
        _with_cell(before, grade_id),
        _with_cell(after, grade_id),
        reason=reason,
        course_id=course_id,
    )


async def _final_score(session: AsyncSession, submission_id: int) -> float | None:
    return await session.scalar(
        select(Grade.final_score).where(Grade.submission_id == submission_id)
    )


# -- one answer ------------------------------------------------------------------------------


def _typed_score(value: Any, max_points: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AssignmentError("The score must be a number, or null to follow the rubric.")
    if not 0 <= value <= max_points:
        raise AssignmentError(f"The score must be from 0 to {max_points:g}, this cell's points.")
    return round(float(value), 4)


async def _answer_state(session: AsyncSession, answer: ManualScore) -> dict[str, Any]:
    items = await rubrics.applied_items(session, answer.id)
    return {
        "score": answer.score,
        "typed": answer.typed,
        "comment": answer.comment,
        "rubric_item_ids": [item.id for item in items],
        "rubric_points": [item.points for item in items],
    }


async def answer_row(session: AsyncSession, submission_id: int, grade_id: str) -> ManualScore:
    answer = await session.scalar(
        select(ManualScore).where(
            ManualScore.submission_id == submission_id, ManualScore.grade_id == grade_id
        )
    )
    if answer is None:
        answer = ManualScore(
            submission_id=submission_id, grade_id=grade_id, score=None, typed=False, comment=""
        )
        session.add(answer)
        await session.flush()
    return answer


async def save_answer(
    session: AsyncSession,
    assignment: Assignment,
    submission_id: int,
    grade_id: str,
    fields: dict[str, Any],
    by: Account,
) -> ManualScore:
    """Score, rubric items and comment of one answer. ``score``: a number types the score,
    null lets the rubric decide; ``rubric_item_ids``: the items ticked; ``comment``: text
    for the student (shown once feedback is released)."""
    cell = rubrics.grade_cell(assignment, grade_id)
    await lock_attempt(session, assignment, submission_id, by)
    answer = await answer_row(session, submission_id, grade_id)
    before = await _answer_state(session, answer)
    if "rubric_item_ids" in fields:
        await rubrics.apply_items(session, assignment, answer, fields["rubric_item_ids"])
    if "score" in fields:
        answer.typed = fields["score"] is not None
        if answer.typed:
            answer.score = _typed_score(fields["score"], float(cell["max_points"]))
    if "comment" in fields:
        answer.comment = rubrics.clean_comment(fields["comment"])
    await _follow_rubric(session, answer, float(cell["max_points"]))
    answer.graded_by_id, answer.updated_at = by.id, utcnow()
    after = await _answer_state(session, answer)
    await _audit_answer(session, answer, before, after, by)
    return answer


async def _follow_rubric(session: AsyncSession, answer: ManualScore, max_points: float) -> None:
    """An answer whose score is not typed takes its ticked items' score (None: no items)."""
    if answer.typed:
        return
    items = await rubrics.applied_items(session, answer.id)
    answer.score = rubrics.rubric_score([i.points for i in items], max_points) if items else None


async def _audit_answer(
    session: AsyncSession,
    answer: ManualScore,
    before: dict[str, Any],
    after: dict[str, Any],
    by: Account,
    reason: str = "",
    action: str = "",
) -> None:
    """One audit entry per aspect that changed, the attempt's final score beside the score
    (``action`` names the change when the rubric itself changed under the answer)."""
    final_before = await _final_score(session, answer.submission_id)
    await recompute_grade(session, answer.submission_id)
    final_after = await _final_score(session, answer.submission_id)

    def part(state: dict[str, Any], *keys: str) -> dict[str, Any]:
        return {key: state[key] for key in keys}

    scored = ("score", "typed")
    if action or before["rubric_item_ids"] != after["rubric_item_ids"]:
        action, keys = action or "rubric", ("rubric_item_ids", "rubric_points", *scored)
    elif part(before, *scored) != part(after, *scored):
        action, keys = "manual_score", scored
    else:
        keys = ()
    if keys:
        await audit(
            session,
            answer.submission_id,
            action,
            by,
            grade_id=answer.grade_id,
            before={**part(before, *keys), "final_score": final_before},
            after={**part(after, *keys), "final_score": final_after},
            reason=reason,
        )
    if before["comment"] != after["comment"]:
        await audit(
            session,
            answer.submission_id,
            "comment",
            by,
            grade_id=answer.grade_id,
            before={"comment": before["comment"]},
            after={"comment": after["comment"]},
        )
    await session.flush()


async def rescore(
    session: AsyncSession, assignment: Assignment, answer_ids: list[int], by: Account, why: str
) -> None:
    """Answers whose ticked rubric items changed: their scores follow (typed ones stay)."""
    for answer_id in answer_ids:
        answer = await session.get(ManualScore, answer_id)
        if answer is None:
            continue
        cell = rubrics.grade_cell(assignment, answer.grade_id)
        await lock_attempt(session, assignment, answer.submission_id)
        score_before = answer.score
        await _follow_rubric(session, answer, float(cell["max_points"]))
        if answer.score != score_before:
            state = await _answer_state(session, answer)
            before = {**state, "score": score_before}
            await _audit_answer(session, answer, before, state, by, why, action="rubric")


def answer_json(answer: ManualScore | None, rubric_item_ids: list[int]) -> dict[str, Any] | None:
    if answer is None:
        return None
    return {
        "score": answer.score,
        "typed": answer.typed,
        "comment": answer.comment,
        "rubric_item_ids": rubric_item_ids,
        "updated_at": answer.updated_at,
    }


# -- the whole attempt -----------------------------------------------------------------------


def _reason(value: Any, what: str) -> str:
    reason = str(value or "").strip()
    if not reason:
        raise AssignmentError(f"Give a reason for {what}; it is kept in the audit trail.")
    if len(reason) > MAX_REASON:
        raise AssignmentError(f"Keep the reason under {MAX_REASON} characters.")
    return reason


async def set_override(
    session: AsyncSession,
    assignment: Assignment,
    submission_id: int,
    fields: dict[str, Any],
    by: Account,
) -> ScoreOverride:
    """Staff's score for the whole attempt (before the late penalty), with a reason."""
    reason = _reason(fields.get("reason"), "the override")
    value = fields.get("score")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AssignmentError("The override needs a score, a number.")
    if not 0 <= value <= assignment.max_score:
        raise AssignmentError(
            f"The override must be from 0 to {assignment.max_score:g}, the assignment's points."
        )
    await lock_attempt(session, assignment, submission_id, by)
    override = await session.scalar(
        select(ScoreOverride).where(ScoreOverride.submission_id == submission_id)
    )
    final_before = await _final_score(session, submission_id)
    before = None if override is None else {"score": override.score, "final_score": final_before}
    if override is None:
        override = ScoreOverride(submission_id=submission_id)
        session.add(override)
    override.score, override.reason = round(float(value), 4), reason
    override.set_by_id, override.set_at = by.id, utcnow()
    await session.flush()
    await recompute_grade(session, submission_id)
    after = {"score": override.score, "final_score": await _final_score(session, submission_id)}
    if before is None:
        before = {"score": None, "final_score": final_before}
    await audit(session, submission_id, "override", by, before=before, after=after, reason=reason)
    await session.flush()
    return override


async def remove_override(
    session: AsyncSession,
    assignment: Assignment,
    submission_id: int,
    fields: dict[str, Any],
    by: Account,
) -> None:
    reason = _reason(fields.get("reason"), "removing the override")
    await lock_attempt(session, assignment, submission_id, by)
    override = await session.scalar(
        select(ScoreOverride).where(ScoreOverride.submission_id == submission_id)
    )
    if override is None:
        raise AssignmentError("This attempt has no override to remove.", 404)
    before = {"score": override.score, "final_score": await _final_score(session, submission_id)}
    await session.delete(override)
    await session.flush()
    await recompute_grade(session, submission_id)
    after = {"score": None, "final_score": await _final_score(session, submission_id)}
    await audit(
        session, submission_id, "override_removed", by, before=before, after=after, reason=reason
    )
    await session.flush()


async def review_flags(
    session: AsyncSession, assignment: Assignment, submission_id: int, note: Any, by: Account
) -> None:
    """Staff looked at the attempt's flags: it leaves the queue until a new grade flags it."""
    await lock_attempt(session, assignment, submission_id, by)
    grade = await session.scalar(select(Grade).where(Grade.submission_id == submission_id))
    if grade is None or not grade.flags:
        raise AssignmentError("This attempt has no flags to review.", 409)
    text = str(note or "").strip()[:MAX_REASON]
    await audit(
        session, submission_id, "flags_reviewed", by, after={"flags": grade.flags}, reason=text
    )
    await session.flush()


# -- what staff see of an attempt ------------------------------------------------------------


async def audit_trail(session: AsyncSession, submission_id: int) -> list[dict[str, Any]]:
    """The attempt's grading changes, oldest first, from the audit log."""
    entries = await audit_log.history(
        session,
        "submission",
        submission_id,
        actions=[f"grade.{action}" for action in GRADE_ACTIONS],
    )
    return [_trail_row(entry) for entry in entries]


def _trail_row(entry: AuditEntry) -> dict[str, Any]:
    action = entry.action.removeprefix("grade.")
    before, after, reason = entry.before, entry.after, entry.reason
    grade_id = None
    for state in (after, before):
        if isinstance(state, dict) and "grade_id" in state:
            grade_id = grade_id or state["grade_id"]
    if grade_id is not None:
        before = {k: v for k, v in before.items() if k != "grade_id"} if before else before
        after = {k: v for k, v in after.items() if k != "grade_id"} if after else after
    elif action in _CELL_ACTIONS:
        grade_id, _, reason = reason.partition(": ")
    return {
        "id": entry.id,
        "action": action,
        "grade_id": grade_id,
        "before": before,
        "after": after,
        "reason": reason,
        "by": entry.actor_name or None,
        "at": entry.at,
    }


async def archived_grades(session: AsyncSession, submission_id: int) -> list[dict[str, Any]]:
    """Grades replaced by regrades, newest first (without their feedback notebooks)."""
    rows = await session.execute(
        select(ArchivedGrade, Account.username)
        .outerjoin(Account, Account.id == ArchivedGrade.archived_by_id)
        .where(ArchivedGrade.submission_id == submission_id)
        .order_by(ArchivedGrade.archived_at.desc(), ArchivedGrade.id.desc())
    )
    return [
        {
            "id": archived.id,
            "grade": {k: v for k, v in archived.grade.items() if k != "feedback_notebook"},
            "reason": archived.reason,
            "run_id": archived.run_id,
            "by": username,
            "archived_at": archived.archived_at,
        }
        for archived, username in rows
    ]


async def cells_of_attempt(
    session: AsyncSession, assignment: Assignment, submission_id: int, grade: Grade | None
) -> list[dict[str, Any]]:
    """Every grade cell with its autograde result and what people decided."""
    graded = {cell["grade_id"]: cell for cell in (grade.cells if grade else [])}
    answers = {
        answer.grade_id: answer
        for answer in await session.scalars(
            select(ManualScore).where(ManualScore.submission_id == submission_id)
        )
    }
    cells = []
    for spec in assignment.grade_cells:
        auto = graded.get(spec["grade_id"], {})
        answer = answers.get(spec["grade_id"])
        items = await rubrics.applied_items(session, answer.id) if answer else []
        cells.append(
            {
                **spec,
                "autograde_score": auto.get("score"),
                "feedback": auto.get("feedback", ""),
                "manual": answer_json(answer, [item.id for item in items]),
                "rubric_labels": [item.label for item in items],
            }
        )
    return cells


async def override_json(session: AsyncSession, submission_id: int) -> dict[str, Any] | None:
    row = await session.execute(
        select(ScoreOverride, Account.username)
        .outerjoin(Account, Account.id == ScoreOverride.set_by_id)
        .where(ScoreOverride.submission_id == submission_id)
    )
    found = row.first()
    if found is None:
        return None
    override, username = found
    return {
        "score": override.score,
        "reason": override.reason,
        "by": username,
        "at": override.set_at,
    }
