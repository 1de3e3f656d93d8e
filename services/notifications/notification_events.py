"""The notifications CourseHub makes when things happen to a course: someone enrolled, a lesson
published, an assignment released, an assignment due within 24 hours.

The first three are made where the change happens, in its transaction; releases that were
scheduled ahead and "due soon" are found by the worker's periodic scan (``scan``). A release
or a reminder reaches each student once: a ``notification_once`` key (person, kind,
assignment) is inserted first, and only the rows that insert returns get a notification, so
a scan that runs twice, or a release found both ways, notifies nobody twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from coursehub.hub.constants import SERVICE_PREFIX
from coursehub.services.models import (
    Account,
    Assignment,
    AssignmentExtension,
    Course,
    CourseStatus,
    Enrollment,
    Lesson,
    LessonVersion,
    Module,
    Notification,
    NotificationOnce,
    Submission,
    utcnow,
)
from coursehub.services.notifications import notifications

DUE_SOON = timedelta(hours=24)
# A scheduled release is announced by the scan while it is this recent.
RELEASE_LOOKBACK = timedelta(days=2)
RELEASED, DUE_SOON_KIND = "assignment_released", "assignment_due_soon"


def enrolled(session: AsyncSession, account: Account, course: Course) -> Notification:
    return notifications.add(
        session,
        account.id,
        "enrolled",
        {
            "title": f"You are enrolled in {course.title}.",
            "url": f"{SERVICE_PREFIX}/courses/{course.slug}",
            "course_id": course.id,
        },
    )


async def lesson_published(
    session: AsyncSession, lesson: Lesson, version: LessonVersion
) -> list[Notification]:
    """Tell the course's students about a lesson's new published version."""
    course = await session.scalar(
        select(Course)
        .join(Module, Module.course_id == Course.id)
        .where(Module.id == lesson.module_id)
    )
    if course is None or course.status is not CourseStatus.PUBLISHED:
        return []
    audience = select(Enrollment.account_id).where(
        Enrollment.course_id == course.id, Enrollment.account_id != course.instructor_id
    )
    if version.created_by_id is not None:
        audience = audience.where(Enrollment.account_id != version.created_by_id)
    students = await session.scalars(audience)
    title = (
        f"New lesson in {course.title}: {lesson.title}."
        if version.number == 1
        else f"{lesson.title} in {course.title} is updated (version {version.number})."
    )
    payload = {
        "title": title,
        "url": f"{SERVICE_PREFIX}/learn/{course.slug}/{lesson.id}",
        "course_id": course.id,
        "lesson_id": lesson.id,
        "version": version.number,
    }
    return [
        notifications.add(session, student, "lesson_published", payload) for student in students
    ]


def _students_of(assignment: Any, *, at_release: bool) -> Any:
    """Enrolled students of the assignment's course (not its instructor); ``at_release``:
    only those enrolled when it was released (who join later find it on the course)."""
    students = and_(
        Enrollment.course_id == assignment.course_id,
        Enrollment.account_id != Course.instructor_id,
    )
    return (
        and_(students, Enrollment.enrolled_at <= assignment.released_at) if at_release else students
    )


async def _once(session: AsyncSession, kind: str, candidates: Any) -> list[tuple[int, int]]:
    """Insert the (person, subject) keys of ``candidates`` not taken yet; those taken now."""
    taken = await session.execute(
        insert(NotificationOnce)
        .from_select(["account_id", "kind", "subject_id"], candidates)
        .on_conflict_do_nothing()
        .returning(NotificationOnce.account_id, NotificationOnce.subject_id)
    )
    return [(account_id, subject_id) for account_id, subject_id in taken]


async def _notify(
    session: AsyncSession, kind: str, taken: list[tuple[int, int]]
) -> list[Notification]:
    if not taken:
        return []
    rows = await session.execute(
        select(Assignment, Course)
        .join(Course, Course.id == Assignment.course_id)
        .where(Assignment.id.in_({subject for _, subject in taken}))
    )
    about = {assignment.id: (assignment, course) for assignment, course in rows}
    made = []
    for account_id, subject in sorted(taken):
        assignment, course = about[subject]
        made.append(
            notifications.add(session, account_id, kind, _payload(kind, assignment, course))
        )
    return made


def _payload(kind: str, assignment: Assignment, course: Course) -> dict[str, Any]:
    if kind == RELEASED:
        title = f"New assignment in {course.title}: {assignment.title}."
    else:
        title = (
            f"{assignment.title} ({course.title}) is due within 24 hours, "
            "and you have not submitted it yet."
        )
    return {
        "title": title,
        "url": f"{SERVICE_PREFIX}/courses/{course.slug}/assignments",
        "course_id": course.id,
        "assignment_id": assignment.id,
    }


async def assignment_released(session: AsyncSession, assignment: Assignment) -> list[Notification]:
    """Tell the course's students about a released assignment (once each; nothing when it is
    not released yet, or is released in the future: the scan finds it then)."""
    if assignment.released_at is None or assignment.released_at > utcnow():
        return []
    candidates = (
        select(Enrollment.account_id, literal(RELEASED), literal(assignment.id))
        .select_from(Enrollment)
        .join(Course, Course.id == Enrollment.course_id)
        .where(_students_of(assignment, at_release=True))
    )
    return await _notify(session, RELEASED, await _once(session, RELEASED, candidates))


async def scan(session: AsyncSession, now: datetime | None = None) -> list[Notification]:
    """Releases that came due and assignments due within 24 hours for students who have not
    submitted (their own extended due date counts), each notified once."""
    now = now or utcnow()
    released = (
        select(Enrollment.account_id, literal(RELEASED), Assignment.id)
        .select_from(Assignment)
        .join(Course, Course.id == Assignment.course_id)
        .join(Enrollment, _students_of(Assignment, at_release=True))
        .where(Assignment.released_at <= now, Assignment.released_at > now - RELEASE_LOOKBACK)
    )
    made = await _notify(session, RELEASED, await _once(session, RELEASED, released))
    extension = aliased(AssignmentExtension)
    due = func.coalesce(extension.due_at, Assignment.due_at)
    submitted = exists().where(
        Submission.assignment_id == Assignment.id, Submission.account_id == Enrollment.account_id
    )
    due_soon = (
        select(Enrollment.account_id, literal(DUE_SOON_KIND), Assignment.id)
        .select_from(Assignment)
        .join(Course, Course.id == Assignment.course_id)
        .join(Enrollment, _students_of(Assignment, at_release=False))
        .outerjoin(
            extension,
            and_(
                extension.assignment_id == Assignment.id,
                extension.account_id == Enrollment.account_id,
            ),
        )
        .where(Assignment.released_at <= now, due > now, due <= now + DUE_SOON, ~submitted)
    )
    made += await _notify(session, DUE_SOON_KIND, await _once(session, DUE_SOON_KIND, due_soon))
    return made


__all__ = ["assignment_released", "enrolled", "lesson_published", "scan"]
