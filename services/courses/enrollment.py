"""Who may see a course and who may join it: the rules of enrollment.

- DRAFT courses exist only for their instructor and administrators; to everyone else they
  are "not found", even by direct address.
- PUBLISHED courses are open to all. Free ones are joined with one click; joining twice is
  fine. Paid ones (``price_cents > 0``) are joined only once paid for (``enroll`` with
  ``paid_for``: the payments package's webhook, or staff, who take them free); without a
  payment provider configured they cannot be joined.
- ARCHIVED courses stay readable (their students keep their work) but take no one new.
- Leaving a course removes the enrollment; lesson progress is kept, so coming back later
  picks up where the student stopped.
- Its instructor and its graders cannot enroll in it: teaching and studying one course
  exclude each other (``membership``).

Functions take an ``AsyncSession`` and leave committing to the caller. Refusals raise
``EnrollmentError`` with a sentence to show and the HTTP status to answer with.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from coursehub.services.courses.catalog import format_price
from coursehub.services.courses.membership import MANAGERS, place_of
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, Course, CourseGrader, CourseStatus, Enrollment
from coursehub.services.notifications import notification_events

NOT_FOUND = "There is no such course. It may have been renamed or withdrawn; search the catalog."
PAYMENT_UNAVAILABLE = (
    "Payment is not available in CourseHub yet, so this paid course cannot be joined for now. "
    "Free courses can be joined right away."
)


class EnrollmentError(Refusal):
    """A refusal about enrollments; the message says what to do instead."""


@dataclass(frozen=True)
class EnrollmentResult:
    enrolled: bool
    changed: bool
    message: str


def is_staff_of(account: Account | None, course: Course) -> bool:
    """The course's instructor and administrators see and manage it without enrolling."""
    return place_of(account, course) in MANAGERS


def may_view(account: Account | None, course: Course) -> bool:
    return course.status is not CourseStatus.DRAFT or is_staff_of(account, course)


def check_visible(account: Account | None, course: Course | None) -> Course:
    """``course`` if ``account`` may see it; otherwise the same 404 as a missing course, so
    drafts cannot be discovered by guessing addresses."""
    if course is None or not may_view(account, course):
        raise EnrollmentError(NOT_FOUND, 404)
    return course


def refusal(course: Course) -> EnrollmentError | None:
    """Why nobody can join ``course`` now, or None when anyone signed in can."""
    if course.status is CourseStatus.DRAFT:
        # Only staff get this far with a draft; everyone else was told it does not exist.
        return EnrollmentError(
            f"{course.title} is a draft: nobody can enroll until it is published.", 404
        )
    if course.status is CourseStatus.ARCHIVED:
        return EnrollmentError(
            f"{course.title} is archived and takes no new enrollments. Its students can still "
            "open it; look in the catalog for a current course.",
            409,
        )
    if course.price_cents > 0:
        return EnrollmentError(
            f"{course.title} costs {format_price(course.price_cents)}. {PAYMENT_UNAVAILABLE}",
            402,
        )
    return None


def paid_refusal(course: Course) -> EnrollmentError | None:
    """Why a paid-for place in ``course`` cannot be taken: only a draft refuses it."""
    if course.status is CourseStatus.DRAFT:
        return EnrollmentError(
            f"{course.title} is a draft: nobody can enroll until it is published.", 404
        )
    return None


async def course_by_slug(session: AsyncSession, slug: str) -> Course | None:
    """The course (with instructor and category) without its search document, which is
    large (the text of every lesson) and needed only by PostgreSQL."""
    return await session.scalar(
        select(Course).where(Course.slug == slug).options(defer(Course.search_document))
    )


async def is_enrolled(session: AsyncSession, account: Account, course: Course) -> bool:
    found = await session.scalar(
        select(Enrollment.id).where(
            Enrollment.account_id == account.id, Enrollment.course_id == course.id
        )
    )
    return found is not None


async def teaching_conflict(
    session: AsyncSession, account: Account, course: Course
) -> EnrollmentError | None:
    """Why ``account`` cannot be a student of ``course`` because they teach it (its
    instructor, or one of its graders), or None."""
    if course.instructor_id == account.id:
        return EnrollmentError(
            f"You teach {course.title}, so you cannot also enroll in it as a student; as its "
            "instructor you see every lesson, assignment and quiz without enrolling.",
            409,
        )
    grader = await session.scalar(
        select(CourseGrader.id).where(
            CourseGrader.course_id == course.id, CourseGrader.account_id == account.id
        )
    )
    if grader is not None:
        return EnrollmentError(
            f"You grade {course.title}, so you cannot also enroll in it as a student: you "
            "would grade your own work and see your classmates'. Ask its instructor to remove "
            "you from its graders first.",
            409,
        )
    return None


async def enroll(
    session: AsyncSession, account: Account, course: Course, *, paid_for: bool = False
) -> EnrollmentResult:
    """Join ``course``; idempotent. The insert itself re-checks status and price, so a course
    archived or given a price a moment ago cannot be joined by a request already under way.
    Its instructor and graders are refused (``teaching_conflict``).

    ``paid_for``: the place is paid (a payment recorded in this transaction, or staff, who
    take paid courses free), so the price is not checked, and a course archived since the
    payment began still admits its payer."""
    check_visible(account, course)
    problem = (paid_refusal(course) if paid_for else refusal(course)) or await teaching_conflict(
        session, account, course
    )
    if problem is not None:
        raise problem
    joinable = select(literal(account.id), Course.id, func.now(), literal(0.0)).where(
        Course.id == course.id,
        Course.status != CourseStatus.DRAFT
        if paid_for
        else (Course.status == CourseStatus.PUBLISHED) & (Course.price_cents == 0),
    )
    inserted = await session.scalar(
        insert(Enrollment)
        .from_select(["account_id", "course_id", "enrolled_at", "progress"], joinable)
        .on_conflict_do_nothing(index_elements=["account_id", "course_id"])
        .returning(Enrollment.id)
    )
    if inserted is not None:
        notification_events.enrolled(session, account, course)
        return EnrollmentResult(True, True, f"You are enrolled in {course.title}. Enjoy!")
    if await is_enrolled(session, account, course):
        return EnrollmentResult(True, False, f"You are already enrolled in {course.title}.")
    # The course changed between reading it and joining it; say what it is now.
    await session.refresh(course, ["status", "price_cents"])
    raise (paid_refusal(course) if paid_for else refusal(course)) or EnrollmentError(NOT_FOUND, 404)


async def unenroll(session: AsyncSession, account: Account, course: Course) -> EnrollmentResult:
    """Leave ``course``; idempotent. Lesson progress stays for a later return."""
    check_visible(account, course)
    removed = await session.scalar(
        delete(Enrollment)
        .where(Enrollment.account_id == account.id, Enrollment.course_id == course.id)
        .returning(Enrollment.id)
    )
    if removed is None:
        return EnrollmentResult(False, False, f"You are not enrolled in {course.title}.")
    return EnrollmentResult(
        False,
        True,
        f"You have left {course.title}. Your progress is kept if you enroll again.",
    )
