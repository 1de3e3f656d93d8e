"""The LTI domain's worker tasks (``coursehub worker`` hosts them), on the ``lti`` queue:

- ``lti_sync_course_scores(passback_course)``: queue a passback for each changed released
  score of a course (deferred by a launch and by staff's *Send grades now*; and every five
  minutes for every course with line items, so a grade released later follows by itself).
- ``lti_passback_after_grade(graded_submission)`` and
  ``lti_passback_after_release(released_assignment)``: deferred by assessment in the
  transaction that changes a grade (autograde, manual grading, override, regrade) or releases
  an assignment's feedback, when the assignment has a line item: the student's (or the
  assignment's students') changed scores go at once, without waiting for the sweep.
- ``lti_passback_after_quiz(scored_attempt)``: deferred by quizzes in the transaction that
  gives a quiz attempt its score or changes it (submit, staff grading an essay or code
  answer, the worker scoring a code answer), when the quiz has a line item: the student's
  changed quiz score goes at once.
- ``lti_post_score(score_post)``: send one score to the LMS, retried with backoff (the row
  keeps each failure for staff's passback log).

This module imports neither Tornado nor the hub.
"""

from __future__ import annotations

import procrastinate
from procrastinate import RetryStrategy
from sqlalchemy import select

from coursehub.services.jobs.context import WorkerContext
from coursehub.services.lti import scores
from coursehub.services.models import (
    Assignment,
    LtiContext,
    LtiLineItem,
    Quiz,
    QuizAttempt,
    Submission,
)

RETRY = RetryStrategy(max_attempts=6, exponential_wait=5)


async def sync(context: WorkerContext, course_id: int) -> None:
    async with context.sessions() as session:
        await scores.sync_course(session, course_id)
        await session.commit()


async def sync_after_grade(context: WorkerContext, submission_id: int) -> None:
    async with context.sessions() as session:
        found = (
            await session.execute(
                select(Assignment.course_id, Submission.account_id)
                .join(Submission, Submission.assignment_id == Assignment.id)
                .where(Submission.id == submission_id)
            )
        ).first()
        if found is None:
            return
        await scores.sync_course(session, found.course_id, only_account=found.account_id)
        await session.commit()


async def sync_after_release(context: WorkerContext, assignment_id: int) -> None:
    async with context.sessions() as session:
        course_id = await session.scalar(
            select(Assignment.course_id).where(Assignment.id == assignment_id)
        )
        if course_id is not None:
            await scores.sync_course(session, course_id)
            await session.commit()


async def sync_after_quiz(context: WorkerContext, attempt_id: int) -> None:
    async with context.sessions() as session:
        found = (
            await session.execute(
                select(Quiz.course_id, QuizAttempt.account_id)
                .join(QuizAttempt, QuizAttempt.quiz_id == Quiz.id)
                .where(QuizAttempt.id == attempt_id)
            )
        ).first()
        if found is None:
            return
        await scores.sync_course(session, found.course_id, only_account=found.account_id)
        await session.commit()


async def sync_all(context: WorkerContext) -> None:
    async with context.sessions() as session:
        courses = await session.scalars(
            select(LtiContext.course_id)
            .join(LtiLineItem, LtiLineItem.lti_context_id == LtiContext.id)
            .distinct()
        )
        for course_id in list(courses):
            await scores.sync_course(session, course_id)
        await session.commit()


async def post(context: WorkerContext, post_id: int) -> None:
    async with context.sessions() as session:
        try:
            await scores.post_score(session, post_id)
        finally:
            # Sent or failed (with the platform's answer): kept either way; a failure is
            # raised on, so procrastinate tries again later.
            await session.commit()


def tasks(context: WorkerContext) -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()

    @blueprint.task(name=scores.SYNC_TASK, queue=scores.PASSBACK_QUEUE, retry=RETRY)
    async def lti_sync_course_scores(passback_course: int) -> None:
        await sync(context, passback_course)

    @blueprint.task(name=scores.AFTER_GRADE_TASK, queue=scores.PASSBACK_QUEUE, retry=RETRY)
    async def lti_passback_after_grade(graded_submission: int) -> None:
        await sync_after_grade(context, graded_submission)

    @blueprint.task(name=scores.AFTER_RELEASE_TASK, queue=scores.PASSBACK_QUEUE, retry=RETRY)
    async def lti_passback_after_release(released_assignment: int) -> None:
        await sync_after_release(context, released_assignment)

    @blueprint.task(name=scores.AFTER_QUIZ_TASK, queue=scores.PASSBACK_QUEUE, retry=RETRY)
    async def lti_passback_after_quiz(scored_attempt: int) -> None:
        await sync_after_quiz(context, scored_attempt)

    @blueprint.task(name=scores.POST_TASK, queue=scores.PASSBACK_QUEUE, retry=RETRY)
    async def lti_post_score(score_post: int) -> None:
        await post(context, score_post)

    @blueprint.periodic(cron="*/5 * * * *", periodic_id="lti-passback")
    @blueprint.task(name="lti_sync_every_course", queue=scores.PASSBACK_QUEUE)
    async def lti_sync_every_course(timestamp: int) -> None:
        await sync_all(context)

    return blueprint
