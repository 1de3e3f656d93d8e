"""Who may open which lesson in the course player.

The course rules come from ``coursehub.services.courses.enrollment``: DRAFT courses exist only for
their staff (the course's instructor and administrators), for everyone else they are "not
found", even by direct address. On top of those, for one lesson:

- staff open every lesson of their courses, in any state;
- enrolled students open every lesson of PUBLISHED and ARCHIVED courses;
- anyone, signed in or not, opens the lessons marked ``is_preview`` of PUBLISHED courses
  (read-only for visitors: nothing is recorded, and their notebook kernels come from the
  shared pool within the per-person cap, counted per address for signed-out visitors);
- everyone else is refused with 403 and told to enroll on the course page (signed-out
  visitors are sent to sign in instead).

A lesson id that is not a lesson of the course named in the address is "not found" too.
Only enrolled students have progress recorded (progress lives on their enrollment).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.courses import enrollment
from coursehub.services.errors import Refusal
from coursehub.services.lessons import lesson_files
from coursehub.services.models import (
    Account,
    Course,
    CourseStatus,
    Enrollment,
    Lesson,
    LessonKind,
    LessonVersion,
    Module,
)

NO_SUCH_LESSON = "There is no such lesson in this course. Pick one from the course's syllabus."


class LessonAccessError(Refusal):
    """A refusal: ``status`` to answer with, a sentence to show, and for 403 the course to
    enroll in."""

    def __init__(self, message: str, status: int, course: Course | None = None) -> None:
        super().__init__(message, status)
        self.course = course


@dataclass(frozen=True)
class OpenLesson:
    """A lesson someone may open, with what the player needs to know about them.
    ``account`` is None for a signed-out visitor of a preview lesson."""

    account: Account | None
    course: Course
    lesson: Lesson
    version_number: int | None  # the published notebook version, for notebook lessons
    enrolled: bool
    staff: bool
    course_progress: float | None = None  # the enrollment's, for enrolled students
    files_stamp: str = ""  # changes with the lesson's data files (``lesson_files``)

    @property
    def account_id(self) -> int:
        """The account's id, or 0 (no account has it) for a signed-out visitor."""
        return self.account.id if self.account is not None else 0

    @property
    def records_progress(self) -> bool:
        return self.enrolled

    @property
    def notebook_path(self) -> str | None:
        """The published version's file under the lesson server's folder, one per way of
        showing it (code cells shown, or only their outputs)."""
        if self.lesson.kind is not LessonKind.NOTEBOOK or self.version_number is None:
            return None
        shown = "code" if self.lesson.show_code else "outputs"
        files = f"-{self.files_stamp}" if self.files_stamp else ""
        return f"{self.course.id}/{self.lesson.id}/v{self.version_number}-{shown}{files}.ipynb"


async def open_lesson(
    session: AsyncSession, account: Account | None, course_slug: str, lesson_id: int
) -> OpenLesson:
    """The lesson ``lesson_id`` of the course ``course_slug`` as ``account`` (None: a
    signed-out visitor) may see it."""
    try:
        course = enrollment.check_visible(
            account, await enrollment.course_by_slug(session, course_slug)
        )
    except enrollment.EnrollmentError as refused:
        raise LessonAccessError(refused.message, refused.status) from None
    row = (
        await session.execute(
            select(Lesson, LessonVersion.number, Enrollment.id, Enrollment.progress)
            .join(Module, Module.id == Lesson.module_id)
            .outerjoin(LessonVersion, LessonVersion.id == Lesson.published_version_id)
            .outerjoin(
                Enrollment,
                (Enrollment.course_id == Module.course_id)
                & (Enrollment.account_id == (account.id if account is not None else 0)),
            )
            .where(Lesson.id == lesson_id, Module.course_id == course.id)
        )
    ).first()
    if row is None:
        raise LessonAccessError(NO_SUCH_LESSON, 404)
    lesson, version_number, enrollment_id, course_progress = row
    opened = OpenLesson(
        account=account,
        course=course,
        lesson=lesson,
        version_number=version_number,
        enrolled=enrollment_id is not None,
        staff=enrollment.is_staff_of(account, course),
        course_progress=course_progress,
    )
    check_may_open(opened)
    if lesson.kind is LessonKind.NOTEBOOK and version_number is not None:
        opened = replace(opened, files_stamp=await lesson_files.files_stamp(session, lesson.id))
    return opened


def check_may_open(opened: OpenLesson) -> None:
    course = opened.course
    if opened.staff or opened.enrolled:
        return  # DRAFT courses were "not found" already for everyone but staff
    if opened.lesson.is_preview and course.status is CourseStatus.PUBLISHED:
        return
    if course.status is CourseStatus.ARCHIVED:
        raise LessonAccessError(
            f"{course.title} is archived: only the students who enrolled before can open its "
            "lessons. Look in the catalog for a current course.",
            403,
            course,
        )
    raise LessonAccessError(
        f"This lesson is part of {course.title}. Enroll in the course to open it.", 403, course
    )
