"""Grade passback (Assignment and Grade Services, scores): every person linked to an LMS gets
their released final score of each assignment and quiz that has a line item there, sent by a job
(``post_score``, retried with backoff) once per change. ``sync_course`` finds the changes:
a score counts once the gradebook shows it to the student (final, released, not waiting for
a person: autograding, manual grading, overrides, regrades and late penalties included), and
a new passback row (``lti_score_posts``, the log staff see) is made only when it differs from
the last one for that line item and person."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from requests import RequestException
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment import manual_grading
from coursehub.services.assessment.gradebook import course_gradebook
from coursehub.services.jobs.queue import defer
from coursehub.services.lti import tool_keys
from coursehub.services.lti.line_items import ags_service
from coursehub.services.lti.pylti1p3_adapters import PlatformSnapshot
from coursehub.services.models import (
    Course,
    LtiContext,
    LtiIdentity,
    LtiLineItem,
    LtiPlatform,
    LtiScorePost,
    utcnow,
)
from coursehub.services.quizzes import quiz_passback

PASSBACK_QUEUE = "lti"
SYNC_TASK = "lti_sync_course_scores"
POST_TASK = "lti_post_score"
# Deferred by assessment (by these names: it sits below this package) when a grade changes.
AFTER_GRADE_TASK = manual_grading.LTI_PASSBACK_TASK
AFTER_RELEASE_TASK = manual_grading.LTI_RELEASE_TASK
# Deferred by quizzes when an attempt's score changes (submit, grading by staff or worker).
AFTER_QUIZ_TASK = quiz_passback.LTI_PASSBACK_TASK
assert manual_grading.LTI_QUEUE == quiz_passback.LTI_QUEUE == PASSBACK_QUEUE


async def sync_course(
    session: AsyncSession, course_id: int, only_account: int | None = None
) -> int:
    """Queue a passback for every changed released score in the course (of ``only_account``
    when given: a grade of theirs changed); how many."""
    course = await session.get(Course, course_id)
    if course is None:
        return 0
    linked = (
        await session.execute(
            select(LtiLineItem, LtiContext)
            .join(LtiContext, LtiContext.id == LtiLineItem.lti_context_id)
            .where(LtiContext.course_id == course_id)
            .order_by(LtiLineItem.id)
        )
    ).all()
    if not linked:
        return 0
    book = await course_gradebook(session, course, student_view=True)
    maxima = {c.key: c.max_score for c in book.columns}
    queued = 0
    for item, context in linked:
        # One sync at a time per line item: two at once would both see the old score.
        await session.execute(select(func.pg_advisory_xact_lock(7_180_000_000 + item.id)))
        people = set(
            await session.scalars(
                select(LtiIdentity.account_id).where(LtiIdentity.platform_id == context.platform_id)
            )
        )
        key = (
            f"assignment-{item.assignment_id}"
            if item.assignment_id is not None
            else f"quiz-{item.quiz_id}"
        )
        for row in book.students:
            cell = row.cells.get(key)
            if only_account is not None and row.account_id != only_account:
                continue
            if row.account_id not in people or cell is None:
                continue
            if cell.final_score is None or cell.awaiting:
                continue
            maximum = float(maxima.get(key) or 0)
            last = await session.scalar(
                select(LtiScorePost)
                .where(
                    LtiScorePost.line_item_id == item.id,
                    LtiScorePost.account_id == row.account_id,
                )
                .order_by(LtiScorePost.id.desc())
                .limit(1)
            )
            if last is not None and (last.score_given, last.score_maximum) == (
                float(cell.final_score),
                maximum,
            ):
                continue
            post = LtiScorePost(
                line_item_id=item.id,
                account_id=row.account_id,
                score_given=float(cell.final_score),
                score_maximum=maximum,
                state="queued",
                attempts=0,
                last_error="",
            )
            session.add(post)
            await session.flush()
            await defer(session, POST_TASK, PASSBACK_QUEUE, score_post=post.id)
            queued += 1
    return queued


def _put(
    platform: PlatformSnapshot,
    signing_key_pem: str,
    context: dict[str, object],
    lineitem_url: str,
    grade: Grade,
) -> None:
    service = ags_service(platform, signing_key_pem, context)
    service.put_grade(grade, LineItem({"id": lineitem_url}))  # type: ignore[typeddict-item]


async def post_score(session: AsyncSession, post_id: int) -> bool:
    """Send one passback row; True once sent (also when it was already). Raises what the
    platform answered, after writing it to the row, so that the job is retried."""
    post = await session.get(LtiScorePost, post_id)
    if post is None or post.state == "sent":
        return True
    item = await session.get(LtiLineItem, post.line_item_id)
    context = await session.get(LtiContext, item.lti_context_id) if item else None
    platform = await session.get(LtiPlatform, context.platform_id) if context else None
    subject = (
        await session.scalar(
            select(LtiIdentity.subject).where(
                LtiIdentity.platform_id == platform.id,
                LtiIdentity.account_id == post.account_id,
            )
        )
        if platform
        else None
    )
    if item is None or context is None or platform is None or subject is None:
        post.state, post.last_error = "failed", "The LMS link of this score no longer exists."
        return False
    key = await tool_keys.signing_key(session)
    grade = (
        Grade()
        .set_score_given(post.score_given)
        .set_score_maximum(post.score_maximum)
        .set_activity_progress("Completed")
        .set_grading_progress("FullyGraded")
        .set_timestamp(datetime.now(UTC).isoformat())
        .set_user_id(subject)
    )
    post.attempts += 1
    try:
        await asyncio.to_thread(
            _put,
            PlatformSnapshot.of(platform),
            key.private_key_pem,
            {"scopes": list(context.ags_scopes), "lineitems_url": context.lineitems_url},
            item.lineitem_url,
            grade,
        )
    except (LtiException, LtiServiceException, RequestException, ValueError) as error:
        post.state, post.last_error = "failed", str(error)[:2000]
        raise
    post.state, post.sent_at, post.last_error = "sent", utcnow(), ""
    return True
