"""A quiz score that changed reaches the LMS's gradebook at once: a job deferred in the
transaction that changes it (a submit, an attempt closed when its time ran out, staff grading
an essay or code answer, the grading worker scoring a code answer), when the quiz has a line
item in an LMS (an LTI launch or Deep Linking made one). Committed with the score, so the job
runs only for a change that happened, once per change; the five-minute sweep stays the net.

The lti package sits above this one: the task's name and queue are its own (``lti.scores``
reads them from here, one spelling)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.jobs.queue import defer
from coursehub.services.models import LtiLineItem, QuizAttempt

LTI_PASSBACK_TASK = "lti_passback_after_quiz"
LTI_QUEUE = "lti"


async def defer_lti_passback(session: AsyncSession, attempt: QuizAttempt) -> int | None:
    """Queue the LMS passback of ``attempt``'s score in the caller's transaction; nothing
    while the attempt waits for a grade or when the quiz is in no LMS. The job's id."""
    if attempt.score is None:
        return None
    linked = await session.scalar(
        select(LtiLineItem.id).where(LtiLineItem.quiz_id == attempt.quiz_id).limit(1)
    )
    if linked is None:
        return None
    return await defer(session, LTI_PASSBACK_TASK, LTI_QUEUE, scored_attempt=attempt.id)
