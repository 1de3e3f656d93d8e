"""A student's own progress page: per enrolled course, progress over time, lessons completed
and time spent per module, grades over time (beside the class median when the course's
instructor shows it), what is due next and which lesson to take next.

Every query here reads one student's rows through their indexes (``lesson_progress`` by
account, ``submissions`` by account and time), plus the course's rollups for the medians.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.analytics.tables import Table
from coursehub.services.models import (
    Account,
    Assignment,
    AssignmentExtension,
    Course,
    Enrollment,
    Grade,
    Lesson,
    LessonProgress,
    Module,
    Quiz,
    QuizAttempt,
    Submission,
)
from coursehub.services.models.analytics import AnalyticsSetting, ItemRollup


@dataclass
class CourseProgress:
    course: Course
    enrollment: Enrollment
    modules: Table
    over_time: Table
    grades: Table
    due: list[tuple[str, str, datetime]] = field(default_factory=list)
    next_lesson: tuple[int, str] | None = None
    show_class_median: bool = False


async def my_progress(
    session: AsyncSession, account: Account, now: datetime
) -> list[CourseProgress]:
    enrollments = list(
        await session.scalars(
            select(Enrollment)
            .where(Enrollment.account_id == account.id)
            .order_by(Enrollment.last_active_at.desc().nulls_last(), Enrollment.id)
        )
    )
    return [await _course_progress(session, account, e, now) for e in enrollments]


async def _course_progress(
    session: AsyncSession, account: Account, enrollment: Enrollment, now: datetime
) -> CourseProgress:
    course = enrollment.course
    setting = await session.get(AnalyticsSetting, course.id)
    found = CourseProgress(
        course=course,
        enrollment=enrollment,
        modules=Table(
            "modules",
            f"Lessons completed and time spent per module of {course.title}",
            ["module", "lessons", "completed", "minutes spent"],
        ),
        over_time=Table(
            "over_time",
            f"Lessons of {course.title} completed, day by day (UTC days)",
            ["day", "lessons completed that day", "lessons completed in all"],
        ),
        grades=Table(
            "grades",
            f"Your grades in {course.title} in the order you got them",
            ["item", "graded", "your best %", "class median %"],
        ),
        show_class_median=bool(setting and setting.show_class_median),
    )
    rows = await session.execute(
        select(
            Module.id,
            Module.title,
            Lesson.id,
            Lesson.title,
            Lesson.is_required,
            LessonProgress.completed_at,
            LessonProgress.time_spent_seconds,
        )
        .join(Lesson, Lesson.module_id == Module.id)
        .outerjoin(
            LessonProgress,
            and_(LessonProgress.lesson_id == Lesson.id, LessonProgress.account_id == account.id),
        )
        .where(Module.course_id == course.id)
        .order_by(Module.position, Module.id, Lesson.position, Lesson.id)
    )
    per_module: dict[int, list[object]] = {}
    completions: dict[date, int] = {}
    for module_id, module, lesson_id, lesson, required, completed_at, seconds in rows:
        entry = per_module.setdefault(module_id, [module, 0, 0, 0])
        entry[1] += 1  # type: ignore[operator]
        entry[3] += seconds or 0  # type: ignore[operator]
        if completed_at is not None:
            entry[2] += 1  # type: ignore[operator]
            day = completed_at.date()
            completions[day] = completions.get(day, 0) + 1
        elif required and found.next_lesson is None:
            found.next_lesson = (lesson_id, lesson)
    found.modules.rows = [[m, n, done, round(s / 60)] for m, n, done, s in per_module.values()]  # type: ignore[misc]
    total = 0
    for day in sorted(completions):
        total += completions[day]
        found.over_time.rows.append([day, completions[day], total])
    await _grades(session, account, course, found)
    found.due = await _due(session, account, course, now)
    return found


async def _grades(
    session: AsyncSession, account: Account, course: Course, found: CourseProgress
) -> None:
    assignments = (
        select(
            func.min(Assignment.title).label("title"),
            Assignment.id.label("item_id"),
            func.max(Grade.graded_at).label("at"),
            func.max(100.0 * Grade.final_score / func.nullif(Grade.max_score, 0)).label("best"),
        )
        .join(Submission, Submission.assignment_id == Assignment.id)
        .join(Grade, Grade.submission_id == Submission.id)
        .where(Assignment.course_id == course.id, Submission.account_id == account.id)
        .group_by(Assignment.id)
    )
    quizzes = (
        select(
            func.min(Quiz.title),
            Quiz.id,
            func.max(QuizAttempt.submitted_at),
            func.max(100.0 * QuizAttempt.score / func.nullif(QuizAttempt.max_score, 0)),
        )
        .join(QuizAttempt, QuizAttempt.quiz_id == Quiz.id)
        .where(
            Quiz.course_id == course.id,
            QuizAttempt.account_id == account.id,
            QuizAttempt.score.is_not(None),
        )
        .group_by(Quiz.id)
    )
    medians = {
        (row.kind, row.item_id): row.median_percent
        for row in await session.scalars(
            select(ItemRollup).where(ItemRollup.course_id == course.id)
        )
    }
    graded = [("assignment", *row) for row in await session.execute(assignments)]
    graded += [("quiz", *row) for row in await session.execute(quizzes)]
    graded.sort(key=lambda row: row[3].timestamp() if row[3] else float("inf"))
    for kind, title, item_id, at, best in graded:
        median = medians.get((kind, item_id)) if found.show_class_median else None
        found.grades.rows.append(
            [
                title,
                at,
                None if best is None else round(best, 1),
                None if median is None else round(median, 1),
            ]
        )


async def _due(
    session: AsyncSession, account: Account, course: Course, now: datetime
) -> list[tuple[str, str, datetime]]:
    due_at = func.coalesce(AssignmentExtension.due_at, Assignment.due_at)
    assignments = await session.execute(
        select(Assignment.title, due_at)
        .outerjoin(
            AssignmentExtension,
            and_(
                AssignmentExtension.assignment_id == Assignment.id,
                AssignmentExtension.account_id == account.id,
            ),
        )
        .where(
            Assignment.course_id == course.id,
            Assignment.released_at.is_not(None),
            Assignment.released_at <= now,
            due_at > now,
        )
    )
    quizzes = await session.execute(
        select(Quiz.title, Quiz.due_at).where(
            Quiz.course_id == course.id, Quiz.published, Quiz.due_at > now
        )
    )
    due = [("Assignment", t, d) for t, d in assignments] + [("Quiz", t, d) for t, d in quizzes]
    return sorted(due, key=lambda item: item[2])
