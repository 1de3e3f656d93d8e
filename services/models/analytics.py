"""Analytics rollups: each course's figures as the job queue last computed them, so that an
analytics page reads a few small rows instead of scanning progress and submissions.

``analytics.rollups.refresh_course`` rewrites a course's rows in one transaction (deferred
when a page finds them stale, and every 10 minutes for courses with news);
``refresh_platform`` keeps one row per day of platform-wide figures. Nothing here is the
record of anything: dropping every row loses nothing but time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class AnalyticsSetting(Base):
    """What a course's instructor lets its students see of the class (the median grade)."""

    __tablename__ = "analytics_settings"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    show_class_median: Mapped[bool] = mapped_column(Boolean, default=False)
    # Days without activity that put a student at risk (the instructor's choice).
    inactive_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")


class CourseRollup(Base):
    """One course's headline figures at ``refreshed_at``."""

    __tablename__ = "analytics_courses"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # When a page last asked for a refresh (one job per course at a time).
    requested_at: Mapped[datetime | None]
    students: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    active_7_days: Mapped[int] = mapped_column(Integer, default=0)
    median_progress: Mapped[float] = mapped_column(Float, default=0)
    at_risk: Mapped[int] = mapped_column(Integer, default=0)


class CourseDay(Base):
    """A course's day in one time zone (UTC, and each zone its staff and the administrators
    live in): people who enrolled, were active, completed lessons and the course, and
    attempts submitted."""

    __tablename__ = "analytics_course_days"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    time_zone: Mapped[str] = mapped_column(String(64), primary_key=True, server_default="UTC")
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    enrolments: Mapped[int] = mapped_column(Integer, default=0)
    active_students: Mapped[int] = mapped_column(Integer, default=0)
    lesson_completions: Mapped[int] = mapped_column(Integer, default=0)
    course_completions: Mapped[int] = mapped_column(Integer, default=0)
    submissions: Mapped[int] = mapped_column(Integer, default=0)


class LessonRollup(Base):
    """A lesson's funnel step: students who opened it, completed it, their time in it, and
    for videos how much of the video they watched (``video_buckets``: students per tenth)."""

    __tablename__ = "analytics_lessons"
    __table_args__ = (Index("analytics_lessons_course_idx", "course_id"),)

    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    started: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    seconds_total: Mapped[int] = mapped_column(BigInteger, default=0)
    median_seconds: Mapped[float | None] = mapped_column(Float)
    video_buckets: Mapped[list[int] | None] = mapped_column(JSONB)
    # Videos: plays of each twentieth by all students, and students who played it again.
    video_views: Mapped[list[int] | None] = mapped_column(JSONB)
    video_rewatched: Mapped[list[int] | None] = mapped_column(JSONB)


class ItemRollup(Base):
    """The grade distribution of an assignment or a quiz: each student's best score as a
    percentage, counted in ten bins (``histogram``), with the median."""

    __tablename__ = "analytics_items"
    __table_args__ = (Index("analytics_items_course_idx", "course_id"),)

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # assignment, quiz
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    students: Mapped[int] = mapped_column(Integer, default=0)
    median_percent: Mapped[float | None] = mapped_column(Float)
    mean_percent: Mapped[float | None] = mapped_column(Float)
    histogram: Mapped[list[int]] = mapped_column(JSONB, default=list)


class AutogradedCellRollup(Base):
    """One autograded test cell of an assignment over every graded attempt: how many pass,
    the commonest failures as students were told them (a hidden test's failure is only
    "A hidden test failed."), attempts until a student's first pass, and hours from the
    assignment's release to it."""

    __tablename__ = "analytics_test_cells"
    __table_args__ = (Index("analytics_test_cells_course_idx", "course_id"),)

    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True
    )
    grade_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    students: Mapped[int] = mapped_column(Integer, default=0)
    students_passed: Mapped[int] = mapped_column(Integer, default=0)
    mean_attempts_to_pass: Mapped[float | None] = mapped_column(Float)
    median_hours_to_pass: Mapped[float | None] = mapped_column(Float)
    # [{"type": "AssertionError", "message": "...", "count": 3}], commonest first.
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)


class StudentRollup(Base):
    """One enrolled student of a course: progress, activity, grades, and why they are at
    risk (``reasons``: inactive, behind, failing; empty when they are not)."""

    __tablename__ = "analytics_students"
    __table_args__ = (
        Index(
            "analytics_students_at_risk_idx",
            "course_id",
            "last_active_at",
            postgresql_where="at_risk",
        ),
    )

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    progress: Mapped[float] = mapped_column(Float, default=0)
    lessons_completed: Mapped[int] = mapped_column(Integer, default=0)
    last_active_at: Mapped[datetime | None]
    mean_grade_percent: Mapped[float | None] = mapped_column(Float)
    at_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[list[str]] = mapped_column(JSONB, default=list)


class PlatformDay(Base):
    """The platform on one day (UTC): accounts, people active that day / week / month,
    enrolments and completions, as counted by the last refresh of that day."""

    __tablename__ = "analytics_platform_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    users: Mapped[int] = mapped_column(Integer, default=0)
    new_users: Mapped[int] = mapped_column(Integer, default=0)
    daily_active: Mapped[int] = mapped_column(Integer, default=0)
    weekly_active: Mapped[int] = mapped_column(Integer, default=0)
    monthly_active: Mapped[int] = mapped_column(Integer, default=0)
    enrolments: Mapped[int] = mapped_column(Integer, default=0)
    completions: Mapped[int] = mapped_column(Integer, default=0)


class GroupLessonRollup(Base):
    """A lesson's funnel step counted among one group's students (``enrollments.group_name``):
    students who opened it, completed it, their time in it, and for videos the group's watch
    coverage (as ``LessonRollup``)."""

    __tablename__ = "analytics_group_lessons"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    group_name: Mapped[str] = mapped_column(String(60), primary_key=True)
    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True
    )
    started: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    seconds_total: Mapped[int] = mapped_column(BigInteger, default=0)
    median_seconds: Mapped[float | None] = mapped_column(Float)
    video_buckets: Mapped[list[int] | None] = mapped_column(JSONB)
    video_views: Mapped[list[int] | None] = mapped_column(JSONB)
    video_rewatched: Mapped[list[int] | None] = mapped_column(JSONB)


class GroupItemRollup(Base):
    """An assignment's or quiz's grade distribution among one group's students."""

    __tablename__ = "analytics_group_items"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    group_name: Mapped[str] = mapped_column(String(60), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # assignment, quiz
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    students: Mapped[int] = mapped_column(Integer, default=0)
    median_percent: Mapped[float | None] = mapped_column(Float)
    mean_percent: Mapped[float | None] = mapped_column(Float)
    histogram: Mapped[list[int]] = mapped_column(JSONB, default=list)


class GroupDay(Base):
    """A course's day counted among one group's students, in one time zone (as
    ``CourseDay``)."""

    __tablename__ = "analytics_group_days"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    group_name: Mapped[str] = mapped_column(String(60), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    enrolments: Mapped[int] = mapped_column(Integer, default=0)
    active_students: Mapped[int] = mapped_column(Integer, default=0)
    lesson_completions: Mapped[int] = mapped_column(Integer, default=0)
    course_completions: Mapped[int] = mapped_column(Integer, default=0)
    submissions: Mapped[int] = mapped_column(Integer, default=0)


class GroupTestCellRollup(Base):
    """An autograded test cell's figures among one group's students (as
    ``AutogradedCellRollup``)."""

    __tablename__ = "analytics_group_test_cells"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    group_name: Mapped[str] = mapped_column(String(60), primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True
    )
    grade_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    students: Mapped[int] = mapped_column(Integer, default=0)
    students_passed: Mapped[int] = mapped_column(Integer, default=0)
    mean_attempts_to_pass: Mapped[float | None] = mapped_column(Float)
    median_hours_to_pass: Mapped[float | None] = mapped_column(Float)
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
