"""The analytics rollups: each course's figures recomputed in one transaction, and the
platform's figures of the day.

``refresh_course`` rewrites every ``analytics_*`` row of one course from the records
(enrollments, lesson progress, graded attempts, quiz attempts): heavy on a large course, so
it runs in a job (``analytics_jobs``), never for a page view. ``request_refresh`` is what a
page calls when it finds a course's figures stale: it defers that job unless one was asked
for in the last minutes. Days are counted in UTC and in each time zone of the people who see
the course's analytics (their profiles' zones), so each sees their own days. A student is
inactive after the course's ``inactive_days`` (its instructor's choice, 14 by default).
The figures counted both for the whole course and for each of its groups (funnel and video
coverage, grades, test cells, days) are ``scoped_rollups``' queries; the students at risk and
the summary are the course's own (a group's are read from them at view time).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.analytics.scoped_rollups import (
    BEST,
    COURSE,
    SCOPES,
    refresh_scope,
    with_members,
)
from coursehub.services.jobs.queue import defer
from coursehub.services.models import utcnow

ANALYTICS_QUEUE = "analytics"
REFRESH_TASK = "analytics.refresh_course"
# A page finding figures older than this asks for fresh ones.
STALE_AFTER = timedelta(minutes=10)
# At most one refresh job per course is asked for in this time.
REQUEST_EVERY = timedelta(minutes=2)
# At risk: no activity in this many days (unless the course's instructor chose another
# number), progress this far below the class median, fewer than half as many lessons
# completed in the last 7 days as in the 7 before (falling progress), or a mean grade under
# this percentage.
INACTIVE_DAYS = 14
BEHIND_BY = 0.25
FAILING_PERCENT = 50.0
FAILURES_KEPT = 5
# The exception type at the start of a failed test's feedback ("AssertionError: ...").
EXCEPTION_PATTERN = r"^([A-Za-z_][A-Za-z0-9_.]*(Error|Exception|Exit|Interrupt))"

_DELETE_STUDENTS = text("DELETE FROM analytics_students WHERE course_id = :course_id")

_STUDENTS = text(
    f"""
    WITH {with_members(COURSE)},
    {BEST},
    done AS (
        SELECT account_id, count(completed_at) AS lessons,
               max(greatest(last_opened_at, completed_at)) AS touched,
               count(*) FILTER (WHERE completed_at >= :week_ago) AS last_week,
               count(*) FILTER (WHERE completed_at >= :two_weeks_ago
                                  AND completed_at < :week_ago) AS week_before
        FROM progress GROUP BY account_id
    ),
    graded AS (SELECT account_id, avg(percent) AS percent FROM best GROUP BY account_id),
    submitted AS (
        SELECT s.account_id, max(s.received_at) AS at FROM submissions s
        JOIN assignments a ON a.id = s.assignment_id AND a.course_id = :course_id
        GROUP BY s.account_id
    ),
    median AS (
        SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY progress), 0) AS progress
        FROM enrollments WHERE course_id = :course_id
    ),
    facts AS (
        SELECT en.account_id, en.progress, en.completed_at, en.enrolled_at,
               coalesce(d.lessons, 0) AS lessons, g.percent,
               coalesce(d.last_week, 0) AS last_week, coalesce(d.week_before, 0) AS week_before,
               nullif(greatest(
                   coalesce(en.last_active_at, '-infinity'), coalesce(d.touched, '-infinity'),
                   coalesce(s.at, '-infinity')
               ), '-infinity') AS last_active_at
        FROM enrollments en
        LEFT JOIN done d ON d.account_id = en.account_id
        LEFT JOIN graded g ON g.account_id = en.account_id
        LEFT JOIN submitted s ON s.account_id = en.account_id
        WHERE en.course_id = :course_id
    ),
    judged AS (
        SELECT f.*, to_jsonb(array_remove(ARRAY[
            CASE WHEN f.completed_at IS NULL
                  AND coalesce(f.last_active_at, f.enrolled_at) < :inactive_before
                 THEN 'inactive' END,
            CASE WHEN f.completed_at IS NULL AND f.progress < m.progress - :behind_by
                 THEN 'behind' END,
            CASE WHEN f.completed_at IS NULL AND f.last_week * 2 < f.week_before
                 THEN 'slowing' END,
            CASE WHEN f.percent < :failing THEN 'failing' END
        ], NULL)) AS reasons
        FROM facts f CROSS JOIN median m
    )
    INSERT INTO analytics_students
        (course_id, account_id, progress, lessons_completed, last_active_at,
         mean_grade_percent, at_risk, reasons)
    SELECT :course_id, account_id, progress, lessons, last_active_at, percent,
           reasons <> '[]'::jsonb, reasons
    FROM judged
    """
)

# The zones a course's days are counted in: UTC, and those of the people who see its
# analytics (its instructor, its graders, the administrators), from their profiles.
_VIEWER_ZONES = text(
    """
    SELECT DISTINCT p.time_zone FROM profiles p
    WHERE p.time_zone <> 'UTC'
      AND p.time_zone IN (SELECT name FROM pg_timezone_names)
      AND p.account_id IN (
        SELECT instructor_id FROM courses WHERE id = :course_id
        UNION SELECT account_id FROM course_graders WHERE course_id = :course_id
        UNION SELECT id FROM accounts WHERE role = 'ADMIN')
    ORDER BY 1
    """
)

_SUMMARY = text(
    """
    INSERT INTO analytics_courses
        (course_id, refreshed_at, students, completed, active_7_days, median_progress, at_risk)
    SELECT :course_id, :now, count(*), count(*) FILTER (WHERE progress >= 1),
           count(*) FILTER (WHERE last_active_at >= :active_since),
           coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY progress), 0),
           count(*) FILTER (WHERE at_risk)
    FROM analytics_students WHERE course_id = :course_id
    ON CONFLICT (course_id) DO UPDATE SET
        refreshed_at = excluded.refreshed_at, students = excluded.students,
        completed = excluded.completed, active_7_days = excluded.active_7_days,
        median_progress = excluded.median_progress, at_risk = excluded.at_risk
    """
)


async def refresh_course(
    session: AsyncSession, course_id: int, now: datetime | None = None
) -> None:
    """Recompute every rollup row of the course (the caller commits)."""
    now = now or utcnow()
    inactive_days = await session.scalar(
        text("SELECT inactive_days FROM analytics_settings WHERE course_id = :course_id"),
        {"course_id": course_id},
    )
    params = {
        "course_id": course_id,
        "now": now,
        "kept": FAILURES_KEPT,
        "exception_pattern": EXCEPTION_PATTERN,
        "inactive_before": now - timedelta(days=inactive_days or INACTIVE_DAYS),
        "behind_by": BEHIND_BY,
        "failing": FAILING_PERCENT,
        "active_since": now - timedelta(days=7),
        "week_ago": now - timedelta(days=7),
        "two_weeks_ago": now - timedelta(days=14),
    }
    # Refreshes of one course wait for each other instead of deleting each other's rows.
    await session.execute(text("SELECT pg_advisory_xact_lock(7215, :course_id)"), params)
    zones = ["UTC", *(await session.scalars(_VIEWER_ZONES, params))]
    # The funnel and videos, grades, test cells and days: the course's, then each group's.
    for scope in SCOPES:
        await refresh_scope(session, scope, params, zones)
    for statement in (_DELETE_STUDENTS, _STUDENTS, _SUMMARY):
        await session.execute(statement, params)


_REQUEST = text(
    """
    INSERT INTO analytics_courses (course_id, refreshed_at, requested_at)
    VALUES (:course_id, 'epoch', :now)
    ON CONFLICT (course_id) DO UPDATE SET requested_at = :now
    WHERE analytics_courses.requested_at IS NULL
       OR analytics_courses.requested_at < :again_after
    RETURNING course_id
    """
)


async def request_refresh(session: AsyncSession, course_id: int) -> bool:
    """Defer a refresh of the course unless one was asked for lately (the caller commits);
    whether one was deferred."""
    now = utcnow()
    asked = await session.scalar(
        _REQUEST, {"course_id": course_id, "now": now, "again_after": now - REQUEST_EVERY}
    )
    if asked is None:
        return False
    await defer(session, REFRESH_TASK, ANALYTICS_QUEUE, course_id=course_id)
    return True


_CHANGED_COURSES = text(
    """
    SELECT c.id FROM courses c
    LEFT JOIN analytics_courses r ON r.course_id = c.id
    WHERE r.course_id IS NULL
       OR (r.refreshed_at < :stale_before AND (
            EXISTS (SELECT 1 FROM enrollments e WHERE e.course_id = c.id
                    AND (e.last_active_at > r.refreshed_at OR e.enrolled_at > r.refreshed_at))
         OR EXISTS (SELECT 1 FROM assignments a JOIN submissions s ON s.assignment_id = a.id
                    WHERE a.course_id = c.id AND s.received_at > r.refreshed_at)))
    ORDER BY c.id
    """
)


async def courses_to_refresh(session: AsyncSession, now: datetime | None = None) -> list[int]:
    """Courses whose figures are missing, or stale with news since their last refresh."""
    stale_before = (now or utcnow()) - STALE_AFTER
    return list(await session.scalars(_CHANGED_COURSES, {"stale_before": stale_before}))


_PLATFORM_DAYS = text(
    """
    WITH days AS (
        SELECT generate_series(
            coalesce((SELECT max(day) FROM analytics_platform_days),
                     (SELECT min(created_at AT TIME ZONE 'UTC')::date FROM accounts),
                     :today),
            :today, interval '1 day'
        )::date AS day
    )
    INSERT INTO analytics_platform_days
        (day, users, new_users, daily_active, weekly_active, monthly_active, enrolments,
         completions)
    SELECT d.day,
           (SELECT count(*) FROM accounts WHERE (created_at AT TIME ZONE 'UTC')::date <= d.day),
           (SELECT count(*) FROM accounts WHERE (created_at AT TIME ZONE 'UTC')::date = d.day),
           CASE WHEN d.day = :today THEN (SELECT count(*) FROM accounts
                WHERE last_login_at >= :now - interval '1 day') ELSE 0 END,
           CASE WHEN d.day = :today THEN (SELECT count(*) FROM accounts
                WHERE last_login_at >= :now - interval '7 days') ELSE 0 END,
           CASE WHEN d.day = :today THEN (SELECT count(*) FROM accounts
                WHERE last_login_at >= :now - interval '30 days') ELSE 0 END,
           (SELECT count(*) FROM enrollments
            WHERE (enrolled_at AT TIME ZONE 'UTC')::date = d.day),
           (SELECT count(*) FROM enrollments
            WHERE (completed_at AT TIME ZONE 'UTC')::date = d.day)
    FROM days d
    ON CONFLICT (day) DO UPDATE SET
        users = excluded.users, new_users = excluded.new_users,
        daily_active = CASE WHEN excluded.day = :today THEN excluded.daily_active
                            ELSE analytics_platform_days.daily_active END,
        weekly_active = CASE WHEN excluded.day = :today THEN excluded.weekly_active
                             ELSE analytics_platform_days.weekly_active END,
        monthly_active = CASE WHEN excluded.day = :today THEN excluded.monthly_active
                              ELSE analytics_platform_days.monthly_active END,
        enrolments = excluded.enrolments, completions = excluded.completions
    """
)


async def refresh_platform(session: AsyncSession, now: datetime | None = None) -> None:
    """The platform's row of today (and of the days since the last refresh, whose active
    counts stay as they were counted then; the caller commits)."""
    now = now or utcnow()
    await session.execute(text("SELECT pg_advisory_xact_lock(7216, 0)"))
    await session.execute(_PLATFORM_DAYS, {"now": now, "today": now.date()})
