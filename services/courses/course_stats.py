"""What instructors see of their courses: enrollment figures per course and each student's
progress. Read-only; every figure comes from ``Enrollment`` and ``LessonProgress`` rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services.models import (
    Account,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Module,
    utcnow,
)

ACTIVE_DAYS = 7


@dataclass(frozen=True)
class CourseFigures:
    course: Course
    enrollments: int
    completed: int
    average_progress: float | None
    active_last_week: int

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.enrollments if self.enrollments else None

    def as_json(self) -> dict[str, object]:
        course = self.course
        return {
            "id": course.id,
            "slug": course.slug,
            "title": course.title,
            "status": course.status.value,
            "instructor": course.instructor.name or course.instructor.username,
            "enrollments": self.enrollments,
            "completed": self.completed,
            "completion_rate": self.completion_rate,
            "average_progress": self.average_progress,
            "active_last_7_days": self.active_last_week,
        }


async def teaching_overview(
    session: AsyncSession, account: Account, now: datetime | None = None
) -> list[CourseFigures]:
    """The courses ``account`` teaches (every course, for an admin) with their figures, in
    one query."""
    since = (now or utcnow()) - timedelta(days=ACTIVE_DAYS)
    figures = (
        select(
            Enrollment.course_id,
            func.count().label("enrollments"),
            func.count(Enrollment.completed_at).label("completed"),
            func.avg(Enrollment.progress).label("average_progress"),
            func.count().filter(Enrollment.last_active_at >= since).label("active"),
        )
        .group_by(Enrollment.course_id)
        .subquery()
    )
    statement = (
        select(
            Course,
            func.coalesce(figures.c.enrollments, 0),
            func.coalesce(figures.c.completed, 0),
            figures.c.average_progress,
            func.coalesce(figures.c.active, 0),
        )
        .outerjoin(figures, figures.c.course_id == Course.id)
        .order_by(Course.updated_at.desc(), Course.id.desc())
    )
    if account.role is not Role.ADMIN:
        statement = statement.where(Course.instructor_id == account.id)
    rows = await session.execute(statement)
    return [
        CourseFigures(
            course=course,
            enrollments=int(enrollments),
            completed=int(completed),
            average_progress=float(average) if average is not None else None,
            active_last_week=int(active),
        )
        for course, enrollments, completed, average, active in rows.unique()
    ]


@dataclass(frozen=True)
class StudentProgress:
    username: str
    name: str
    email: str | None
    enrolled_at: datetime
    progress: float
    completed_at: datetime | None
    last_active_at: datetime | None
    lessons_completed: int
    group_name: str | None = None

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


async def course_students(session: AsyncSession, course_id: int) -> list[StudentProgress]:
    """Everyone enrolled in the course, most recently active first, with the number of the
    course's lessons each has completed."""
    done = (
        select(LessonProgress.account_id, func.count().label("lessons"))
        .join(Lesson, Lesson.id == LessonProgress.lesson_id)
        .join(Module, Module.id == Lesson.module_id)
        .where(Module.course_id == course_id, LessonProgress.completed_at.is_not(None))
        .group_by(LessonProgress.account_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            Account.username,
            Account.name,
            Account.email,
            Enrollment.enrolled_at,
            Enrollment.progress,
            Enrollment.completed_at,
            Enrollment.last_active_at,
            func.coalesce(done.c.lessons, 0),
            Enrollment.group_name,
        )
        .join(Account, Account.id == Enrollment.account_id)
        .outerjoin(done, done.c.account_id == Enrollment.account_id)
        .where(Enrollment.course_id == course_id)
        .order_by(Enrollment.last_active_at.desc().nulls_last(), Account.username)
    )
    return [StudentProgress(*row) for row in rows]


async def lesson_count(session: AsyncSession, course_id: int) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(Lesson)
            .join(Module, Module.id == Lesson.module_id)
            .where(Module.course_id == course_id)
        )
        or 0
    )
