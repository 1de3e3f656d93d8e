"""Course review: instructors submit a course, administrators return it with comments or
approve it (published); administrators unpublish or archive any course with a reason.

Every step is a ``course_review_events`` row (the history the instructor and admins see) and
an audit-log entry; the instructor hears of each decision by notification. An approval names
the fingerprint the administrator looked at: when the course changed since it was submitted
and since the administrator opened it, it is refused with a sentence saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import SERVICE_PREFIX, Role
from coursehub.services.audit import audit_log
from coursehub.services.courses import review_gate
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Account,
    Course,
    CourseReviewEvent,
    CourseStatus,
    ReviewEvent,
    utcnow,
)
from coursehub.services.notifications import notifications

MAX_COMMENT = 5000


class ReviewError(Refusal):
    """A review step that cannot be taken; the message says what to do instead."""


@dataclass(frozen=True)
class ReviewView:
    course: Course
    latest: CourseReviewEvent | None
    history: list[tuple[CourseReviewEvent, str]]
    fingerprint: str

    @property
    def waiting(self) -> bool:
        return self.latest is not None and self.latest.event == ReviewEvent.SUBMITTED

    @property
    def edited_since_submitted(self) -> bool:
        return (
            self.waiting and self.latest is not None and self.latest.fingerprint != self.fingerprint
        )


def _comment(raw: str, what: str, *, required: bool) -> str:
    text = (raw or "").strip()
    if required and not text:
        raise ReviewError(f"Write {what}: the instructor sees it.", 400, field="comment")
    if len(text) > MAX_COMMENT:
        raise ReviewError(f"Keep it under {MAX_COMMENT} characters.", 400, field="comment")
    return text


def _admin(actor: Account) -> None:
    if not actor.role.at_least(Role.ADMIN):
        raise ReviewError("Only administrators review courses.", 403)


async def view(session: AsyncSession, course: Course) -> ReviewView:
    rows = await session.execute(
        select(CourseReviewEvent, Account.username)
        .outerjoin(Account, Account.id == CourseReviewEvent.by_id)
        .where(CourseReviewEvent.course_id == course.id)
        .order_by(CourseReviewEvent.id)
    )
    history = [(event, name or "") for event, name in rows]
    return ReviewView(
        course=course,
        latest=history[-1][0] if history else None,
        history=history,
        fingerprint=await review_gate.fingerprint(session, course),
    )


def _step(
    session: AsyncSession,
    actor: Account,
    course: Course,
    event: ReviewEvent,
    comment: str = "",
    fingerprint: str = "",
    *,
    before: CourseStatus | None = None,
) -> CourseReviewEvent:
    row = CourseReviewEvent(
        course_id=course.id,
        event=event.value,
        by_id=actor.id,
        comment=comment,
        fingerprint=fingerprint,
    )
    session.add(row)
    audit_log.record(
        session,
        actor,
        f"course.{event.value}",
        ("course", course.id),
        {"status": before or course.status},
        {"status": course.status, "review": event.value},
        reason=comment,
        course_id=course.id,
    )
    return row


def _tell_instructor(session: AsyncSession, course: Course, title: str) -> None:
    notifications.add(
        session,
        course.instructor_id,
        "course_review",
        {
            "course": course.slug,
            "title": title,
            "url": f"{SERVICE_PREFIX}/teach/courses/{course.id}/review",
        },
    )


async def submit(
    session: AsyncSession, actor: Account, course: Course, note: str = ""
) -> CourseReviewEvent:
    """The instructor (or an administrator) asks for the course to be reviewed."""
    if actor.id != course.instructor_id and not actor.role.at_least(Role.ADMIN):
        raise ReviewError("Only the course's instructor submits it for review.", 403)
    if course.status == CourseStatus.PUBLISHED:
        raise ReviewError("This course is already published; there is nothing to review.", 409)
    latest = await review_gate.latest_event(session, course.id)
    if latest is not None and latest.event == ReviewEvent.SUBMITTED:
        raise ReviewError(
            "This course is already waiting for review; an administrator will answer.", 409
        )
    text = _comment(note, "a note", required=False)
    return _step(
        session,
        actor,
        course,
        ReviewEvent.SUBMITTED,
        text,
        await review_gate.fingerprint(session, course),
    )


async def _waiting(session: AsyncSession, course: Course) -> CourseReviewEvent:
    latest = await review_gate.latest_event(session, course.id)
    if latest is None or latest.event != ReviewEvent.SUBMITTED:
        raise ReviewError(
            "This course is not waiting for review (it was never submitted, or someone already "
            "answered); reload the page to see where it stands.",
            409,
        )
    return latest


async def return_course(
    session: AsyncSession, actor: Account, course: Course, comment: str
) -> CourseReviewEvent:
    """Send the course back to its instructor with comments; it stays a draft."""
    _admin(actor)
    text = _comment(comment, "what should change", required=True)
    await _waiting(session, course)
    row = _step(session, actor, course, ReviewEvent.RETURNED, text)
    _tell_instructor(session, course, f"{course.title} was returned with comments from the review.")
    return row


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


async def approve(
    session: AsyncSession, actor: Account, course: Course, seen_fingerprint: str, comment: str = ""
) -> CourseReviewEvent:
    """Publish the course as it was reviewed.

    ``seen_fingerprint`` is what the administrator had on screen. The approval goes through
    when the course is what was submitted, or what the administrator looked at; if it changed
    after both, it is refused: the administrator looks again."""
    _admin(actor)
    submitted = await _waiting(session, course)
    now = await review_gate.fingerprint(session, course)
    if now not in (submitted.fingerprint, seen_fingerprint):
        raise ReviewError(
            f"{course.title} was edited after it was submitted ({_when(submitted.at)}) and after "
            "you opened it: what you reviewed is not what would be published. Reload the "
            "review page to look at it as it is now, then approve or return it.",
            409,
        )
    before = course.status
    course.status = CourseStatus.PUBLISHED
    course.updated_at = utcnow()
    row = _step(
        session,
        actor,
        course,
        ReviewEvent.APPROVED,
        _comment(comment, "", required=False),
        now,
        before=before,
    )
    _tell_instructor(session, course, f"{course.title} was approved and is now published.")
    return row


async def take_down(
    session: AsyncSession, actor: Account, course: Course, event: ReviewEvent, reason: str
) -> CourseReviewEvent:
    """Unpublish (back to draft) or archive any course, with a reason the instructor sees."""
    _admin(actor)
    text = _comment(reason, "the reason", required=True)
    target = {
        ReviewEvent.UNPUBLISHED: CourseStatus.DRAFT,
        ReviewEvent.ARCHIVED: CourseStatus.ARCHIVED,
    }
    if event not in target:
        raise ReviewError("Choose unpublish or archive.", 400)
    if course.status == target[event]:
        raise ReviewError(f"This course is already {target[event].value.lower()}.", 409)
    before = course.status
    course.status = target[event]
    course.updated_at = utcnow()
    row = _step(session, actor, course, event, text, before=before)
    verb = "unpublished" if event == ReviewEvent.UNPUBLISHED else "archived"
    _tell_instructor(session, course, f"An administrator {verb} {course.title}: {text}")
    return row


async def waiting_courses(session: AsyncSession) -> list[tuple[Course, CourseReviewEvent]]:
    """Courses whose newest review step is a submission, oldest first."""
    newest = (
        select(CourseReviewEvent.course_id, CourseReviewEvent.id)
        .distinct(CourseReviewEvent.course_id)
        .order_by(CourseReviewEvent.course_id, CourseReviewEvent.id.desc())
        .subquery()
    )
    rows = await session.execute(
        select(Course, CourseReviewEvent)
        .join(newest, newest.c.course_id == Course.id)
        .join(CourseReviewEvent, CourseReviewEvent.id == newest.c.id)
        .where(CourseReviewEvent.event == ReviewEvent.SUBMITTED)
        .order_by(CourseReviewEvent.at)
    )
    return [(course, event) for course, event in rows]
