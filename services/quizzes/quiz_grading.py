"""Grading quiz answers by hand (essays, and code answers staff score themselves) and telling
students: a ``quiz_graded`` notification (``notifications.add``), announced on Redis once the
caller's transaction commits. The row is the record; Redis may be down.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.certificates import issuing
from coursehub.services.models import (
    Account,
    AnswerState,
    Course,
    Notification,
    QuestionKind,
    Quiz,
    QuizAnswer,
    QuizAttempt,
    utcnow,
)
from coursehub.services.notifications import notifications
from coursehub.services.quizzes import quiz_passback
from coursehub.services.quizzes.quiz_attempts import answers_of, recompute_score
from coursehub.services.quizzes.quiz_questions import QuizError, number_field
from coursehub.services.quizzes.quiz_scoring import points_for

log = logging.getLogger("coursehub.quizzes")

NOTIFICATION_KIND = "quiz_graded"
MAX_COMMENT = 10_000


async def notify_graded(
    session: AsyncSession, quiz: Quiz, attempt: QuizAttempt, answer: QuizAnswer
) -> Notification:
    """The notification that one answer of ``attempt`` has its grade (``notifications.add``:
    its kind makes the sentence and the link to the attempt)."""
    slug = await session.scalar(select(Course.slug).where(Course.id == quiz.course_id))
    return notifications.add(
        session,
        attempt.account_id,
        NOTIFICATION_KIND,
        {
            "quiz_id": quiz.id,
            "course_id": quiz.course_id,
            "course": slug,
            "quiz_title": quiz.title,
            "attempt_id": attempt.id,
            "attempt": attempt.attempt,
            "position": answer.position,
            "answer_score": answer.score,
            "points": answer.points,
            "score": attempt.score,
            "max_score": attempt.max_score,
        },
    )


async def grade_answer(
    session: AsyncSession,
    quiz: Quiz,
    attempt: QuizAttempt,
    position: int,
    grader: Account,
    fields: dict[str, Any],
) -> QuizAnswer:
    """Staff give an answer of a submitted attempt its score (0 to its points) and a
    comment; the attempt's score follows, and the student is notified (announced once the
    caller's transaction commits). Nobody grades their own attempt."""
    if attempt.account_id == grader.id:
        # A conflict of interest (``membership``): nobody grades their own answers.
        raise QuizError(
            "This is your own attempt, and nobody grades their own answers; another member of "
            "the course's staff grades it.",
            403,
        )
    if attempt.submitted_at is None:
        raise QuizError("This attempt is still in progress; grade it once it is submitted.", 409)
    answers = await answers_of(session, attempt)
    answer = next((a for a in answers if a.position == position), None)
    if answer is None:
        raise QuizError(f"This attempt has no question {position + 1}.", 404)
    if answer.state is AnswerState.AWAITING_WORKER:
        raise QuizError(
            "The grading worker has this code answer in hand; wait for its result first.", 409
        )
    score = number_field(fields.get("score"), "score", low=0, high=answer.points)
    comment = fields.get("comment") or ""
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise QuizError(f"The comment must be text of at most {MAX_COMMENT} characters.")
    answer.score = points_for(score / answer.points, answer.points) if answer.points else 0.0
    answer.comment = comment.strip()
    answer.state = AnswerState.SCORED
    if answer.kind is not QuestionKind.ESSAY and answer.kind is not QuestionKind.CODE:
        answer.correct = score >= answer.points
    answer.graded_by_id = grader.id
    answer.graded_at = utcnow()
    recompute_score(attempt, answers)
    await notify_graded(session, quiz, attempt, answer)
    await session.flush()
    await issuing.check_after_quiz(session, attempt)
    await quiz_passback.defer_lti_passback(session, attempt)
    return answer


async def answers_to_grade(
    session: AsyncSession, quiz: Quiz, *, pending_only: bool = False
) -> list[tuple[QuizAnswer, QuizAttempt, Account]]:
    """Essay and code answers of submitted attempts (pending ones first), with their
    attempt and student."""
    query = (
        select(QuizAnswer, QuizAttempt, Account)
        .join(QuizAttempt, QuizAttempt.id == QuizAnswer.attempt_id)
        .join(Account, Account.id == QuizAttempt.account_id)
        .where(
            QuizAttempt.quiz_id == quiz.id,
            QuizAttempt.submitted_at.is_not(None),
            QuizAnswer.kind.in_([QuestionKind.ESSAY, QuestionKind.CODE]),
        )
    )
    if pending_only:
        query = query.where(QuizAnswer.state.in_([AnswerState.AWAITING_STAFF, AnswerState.FAILED]))
    rows = [(a, t, s) for a, t, s in await session.execute(query)]
    waiting = (AnswerState.AWAITING_STAFF, AnswerState.FAILED)
    rows.sort(key=lambda r: (r[0].state not in waiting, r[1].submitted_at, r[0].position))
    return rows
