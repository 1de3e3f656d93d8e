"""The certificate domain's worker tasks (``coursehub worker`` hosts them):

- ``make_certificate_documents(certificate_id)``: the PDF and the signed credential of a
  certificate just issued (deferred in the issuing transaction).
- ``recheck_certificate_after_grade(graded_submission)``: a grade changed (deferred by the
  assessment domain in the grade's transaction); issue the certificate the student now
  earned, or mark a holder who fell below the bar for staff.
- ``recheck_certificates_after_release(released_assignment)``: an assignment's feedback was
  released (its grades now count for its students): the same for each of them.

The arguments are not called ``submission_id``: that name is how grading's own jobs for a
submission are found. This module imports neither Tornado nor the hub.
"""

from __future__ import annotations

import procrastinate
from procrastinate import RetryStrategy
from sqlalchemy import select

from coursehub.services.certificates import issuing
from coursehub.services.certificates.credentials import load_keys
from coursehub.services.certificates.issuing import (
    CERTIFICATE_QUEUE,
    RECHECK_TASK,
    RELEASE_TASK,
    RENDER_TASK,
)
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.models import Assignment, Grade, Submission
from coursehub.services.notifications import notifications
from coursehub.services.settings import Settings


async def make_documents(context: WorkerContext, settings: Settings, certificate_id: int) -> None:
    keys = load_keys(settings.data_dir)
    async with context.sessions() as session:
        await issuing.make_documents(session, certificate_id, keys, settings.public_url)
        await session.commit()


async def recheck_after_grade(context: WorkerContext, submission_id: int) -> None:
    async with context.sessions() as session:
        found = (
            await session.execute(
                select(Submission.account_id, Assignment.course_id)
                .join(Assignment, Assignment.id == Submission.assignment_id)
                .where(Submission.id == submission_id)
            )
        ).first()
        if found is None:
            return
        await issuing.check(session, found.account_id, found.course_id)
        await session.commit()
        made = notifications.committed(session)
    await notifications.announce(context.redis, made)


async def recheck_after_release(context: WorkerContext, assignment_id: int) -> None:
    """An assignment's feedback was released: every student with a grade in it, again."""
    async with context.sessions() as session:
        course_id = await session.scalar(
            select(Assignment.course_id).where(Assignment.id == assignment_id)
        )
        students = await session.scalars(
            select(Submission.account_id)
            .join(Grade, Grade.submission_id == Submission.id)
            .where(Submission.assignment_id == assignment_id)
            .distinct()
        )
        if course_id is None:
            return
        for account_id in list(students):
            await issuing.check(session, account_id, course_id)
        await session.commit()
        made = notifications.committed(session)
    await notifications.announce(context.redis, made)


def tasks(context: WorkerContext, settings: Settings) -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()

    @blueprint.task(name=RENDER_TASK, queue=CERTIFICATE_QUEUE, retry=RetryStrategy(max_attempts=3))
    async def make_certificate_documents(certificate_id: int) -> None:
        await make_documents(context, settings, certificate_id)

    @blueprint.task(name=RECHECK_TASK, queue=CERTIFICATE_QUEUE, retry=RetryStrategy(max_attempts=3))
    async def recheck_certificate_after_grade(graded_submission: int) -> None:
        await recheck_after_grade(context, graded_submission)

    @blueprint.task(name=RELEASE_TASK, queue=CERTIFICATE_QUEUE, retry=RetryStrategy(max_attempts=3))
    async def recheck_certificates_after_release(released_assignment: int) -> None:
        await recheck_after_release(context, released_assignment)

    return blueprint
