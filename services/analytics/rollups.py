"""The analytics rollups: each course's figures recomputed in one transaction, and the
platform's figures of the day.

``refresh_course`` rewrites every ``analytics_*`` row of one course from the records
(enrollments, lesson progress, graded attempts, quiz attempts): heavy on a large course, so
it runs in a job (``analytics_jobs``), never for a page view. ``request_refresh`` is what a
page calls when it finds a course's figures stale: it defers that job unless one was asked
for in the last minutes. Days are counted in UTC and in each time zone of the people who see
the course's analytics (their profiles' zones), so each sees their own days. A student is
inactive after the course's ``inactive_days`` (its instructor's choice, 14 by default).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.analytics.group_rollups import refresh_groups
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

_COURSE_LESSONS = """
    course_lessons AS (
        SELECT l.id, l.kind FROM lessons l JOIN modules m ON m.id = l.module_id
        WHERE m.course_id = :course_id
    ),
    enrolled AS (SELECT account_id FROM enrollments WHERE course_id = :course_id),
    progress AS (
        SELECT lp.* FROM lesson_progress lp
        JOIN course_lessons cl ON cl.id = lp.lesson_id
        JOIN enrolled e ON e.account_id = lp.account_id
    )
"""


def _tenths(value: str, count: str = "count(*)") -> str:
    """A JSON array of ten counts: rows whose ``value`` (0..1) falls in each tenth."""
    bins = ", ".join(
        f"{count} FILTER (WHERE least(floor(({value}) * 10), 9) = {tenth})" for tenth in range(10)
    )
    return f"jsonb_build_array({bins})"


_DELETE = [
    text(f"DELETE FROM {table} WHERE course_id = :course_id")
    for table in (
        "analytics_lessons",
        "analytics_items",
        "analytics_test_cells",
        "analytics_students",
        "analytics_course_days",
    )
]

_LESSONS = text(
    f"""
    WITH {_COURSE_LESSONS}
    INSERT INTO analytics_lessons
        (lesson_id, course_id, started, completed, seconds_total, median_seconds, video_buckets)
    SELECT cl.id, :course_id, count(p.id), count(p.completed_at),
           coalesce(sum(p.time_spent_seconds), 0),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY p.time_spent_seconds),
           CASE WHEN cl.kind = 'VIDEO'
                THEN {_tenths("p.video_watched_fraction", "count(p.id)")} END
    FROM course_lessons cl LEFT JOIN progress p ON p.lesson_id = cl.id
    GROUP BY cl.id, cl.kind
    """
)

# Videos: plays of each twentieth summed over students, and students who played it again.
_VIDEO_PARTS = text(
    f"""
    WITH {_COURSE_LESSONS},
    parts AS (
        SELECT p.lesson_id, v.n, sum(v.views::int) AS views,
               count(*) FILTER (WHERE v.views::int > 1) AS again
        FROM progress p
        JOIN course_lessons cl ON cl.id = p.lesson_id AND cl.kind = 'VIDEO'
        CROSS JOIN LATERAL jsonb_array_elements_text(p.video_views) WITH ORDINALITY AS v(views, n)
        WHERE p.video_views IS NOT NULL
        GROUP BY p.lesson_id, v.n
    ),
    lessons AS (
        SELECT lesson_id, jsonb_agg(views ORDER BY n) AS views,
               jsonb_agg(again ORDER BY n) AS again
        FROM parts GROUP BY lesson_id
    )
    UPDATE analytics_lessons a SET video_views = l.views, video_rewatched = l.again
    FROM lessons l WHERE a.lesson_id = l.lesson_id AND a.course_id = :course_id
    """
)

# Each enrolled student's best percentage on each assignment and quiz of the course.
_BEST = """
    items AS (
        SELECT 'assignment'::text AS kind, id AS item_id, title FROM assignments
        WHERE course_id = :course_id
        UNION ALL
        SELECT 'quiz', id, title FROM quizzes WHERE course_id = :course_id
    ),
    best AS (
        SELECT 'assignment'::text AS kind, s.assignment_id AS item_id, s.account_id,
               max(100.0 * g.final_score / nullif(g.max_score, 0)) AS percent
        FROM submissions s
        JOIN assignments a ON a.id = s.assignment_id AND a.course_id = :course_id
        JOIN grades g ON g.submission_id = s.id
        JOIN enrollments e ON e.account_id = s.account_id AND e.course_id = :course_id
        GROUP BY s.assignment_id, s.account_id
        UNION ALL
        SELECT 'quiz', t.quiz_id, t.account_id, max(100.0 * t.score / nullif(t.max_score, 0))
        FROM quiz_attempts t
        JOIN quizzes q ON q.id = t.quiz_id AND q.course_id = :course_id
        JOIN enrollments e ON e.account_id = t.account_id AND e.course_id = :course_id
        WHERE t.score IS NOT NULL
        GROUP BY t.quiz_id, t.account_id
    )
"""

_ITEMS = text(
    f"""
    WITH {_BEST}
    INSERT INTO analytics_items
        (kind, item_id, course_id, title, students, median_percent, mean_percent, histogram)
    SELECT i.kind, i.item_id, :course_id, i.title, count(b.percent),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY b.percent), avg(b.percent),
           {_tenths("b.percent / 100.0", "count(b.percent)")}
    FROM items i LEFT JOIN best b ON b.kind = i.kind AND b.item_id = i.item_id
    GROUP BY i.kind, i.item_id, i.title
    """
)

_TEST_CELLS = text(
    """
    WITH results AS (
        SELECT s.assignment_id, s.account_id, s.attempt, s.received_at,
               coalesce(a.released_at, a.created_at) AS released_at,
               c.value ->> 'grade_id' AS grade_id,
               coalesce((c.value ->> 'score')::float, 0)
                   >= coalesce((c.value ->> 'max_points')::float, 0) AS passed,
               coalesce(c.value ->> 'feedback', '') AS feedback
        FROM assignments a
        JOIN submissions s ON s.assignment_id = a.id
        JOIN enrollments e ON e.account_id = s.account_id AND e.course_id = :course_id
        JOIN grades g ON g.submission_id = s.id
        CROSS JOIN LATERAL jsonb_array_elements(g.cells) c
        WHERE a.course_id = :course_id AND c.value ->> 'kind' = 'autograded_test'
    ),
    per_student AS (
        SELECT assignment_id, grade_id, account_id,
               min(attempt) FILTER (WHERE passed) AS first_pass,
               min(received_at) FILTER (WHERE passed) - min(released_at) AS to_pass
        FROM results GROUP BY assignment_id, grade_id, account_id
    ),
    students AS (
        SELECT assignment_id, grade_id, count(*) AS students, count(first_pass) AS passed,
               avg(first_pass) AS mean_attempts,
               percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM to_pass) / 3600.0
               ) AS median_hours
        FROM per_student GROUP BY assignment_id, grade_id
    ),
    failed AS (
        SELECT assignment_id, grade_id,
               coalesce(
                   substring(feedback FROM :exception_pattern),
                   CASE WHEN feedback LIKE 'A hidden test failed%' THEN 'Hidden test'
                        ELSE 'Did not pass' END
               ) AS type,
               left(feedback, 300) AS message
        FROM results WHERE NOT passed
    ),
    counted AS (
        SELECT assignment_id, grade_id, type, message, count(*) AS n,
               row_number() OVER (
                   PARTITION BY assignment_id, grade_id ORDER BY count(*) DESC, message COLLATE "C"
               ) AS rank
        FROM failed GROUP BY assignment_id, grade_id, type, message
    ),
    failures AS (
        SELECT assignment_id, grade_id,
               jsonb_agg(
                   jsonb_build_object('type', type, 'message', message, 'count', n)
                   ORDER BY rank
               ) AS list
        FROM counted WHERE rank <= :kept GROUP BY assignment_id, grade_id
    ),
    attempts AS (
        SELECT assignment_id, grade_id, count(*) AS attempts, count(*) FILTER (WHERE passed)
            AS passed
        FROM results GROUP BY assignment_id, grade_id
    ),
    positions AS (
        SELECT a.id AS assignment_id, cell.value ->> 'grade_id' AS grade_id,
               cell.ordinality AS position
        FROM assignments a
        CROSS JOIN LATERAL jsonb_array_elements(a.grade_cells) WITH ORDINALITY cell
        WHERE a.course_id = :course_id
    )
    INSERT INTO analytics_test_cells
        (assignment_id, grade_id, course_id, position, attempts, passed, students,
         students_passed, mean_attempts_to_pass, median_hours_to_pass, failures)
    SELECT t.assignment_id, t.grade_id, :course_id, coalesce(p.position, 0), t.attempts,
           t.passed, s.students, s.passed, s.mean_attempts, s.median_hours,
           coalesce(f.list, '[]'::jsonb)
    FROM attempts t
    JOIN students s USING (assignment_id, grade_id)
    LEFT JOIN failures f USING (assignment_id, grade_id)
    LEFT JOIN positions p USING (assignment_id, grade_id)
    """
)

_STUDENTS = text(
    f"""
    WITH {_COURSE_LESSONS},
    {_BEST},
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

_DAYS = text(
    f"""
    WITH {_COURSE_LESSONS},
    events AS (
        SELECT account_id, enrolled_at AS at, 'enrolled' AS what FROM enrollments
        WHERE course_id = :course_id
        UNION ALL
        SELECT account_id, completed_at, 'course_completed' FROM enrollments
        WHERE course_id = :course_id AND completed_at IS NOT NULL
        UNION ALL
        SELECT account_id, last_opened_at, 'opened' FROM progress
        UNION ALL
        SELECT account_id, completed_at, 'lesson_completed' FROM progress
        WHERE completed_at IS NOT NULL
        UNION ALL
        SELECT s.account_id, s.received_at, 'submitted' FROM submissions s
        JOIN assignments a ON a.id = s.assignment_id AND a.course_id = :course_id
        JOIN enrolled e ON e.account_id = s.account_id
    )
    INSERT INTO analytics_course_days
        (course_id, time_zone, day, enrolments, active_students, lesson_completions,
         course_completions, submissions)
    SELECT :course_id, CAST(:time_zone AS text),
           (at AT TIME ZONE CAST(:time_zone AS text))::date AS day,
           count(*) FILTER (WHERE what = 'enrolled'),
           count(DISTINCT account_id) FILTER (WHERE what <> 'enrolled'),
           count(*) FILTER (WHERE what = 'lesson_completed'),
           count(*) FILTER (WHERE what = 'course_completed'),
           count(*) FILTER (WHERE what = 'submitted')
    FROM events GROUP BY day
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
    for statement in (*_DELETE, _LESSONS, _VIDEO_PARTS, _ITEMS, _TEST_CELLS, _STUDENTS):
        await session.execute(statement, params)
    zones = ["UTC", *(await session.scalars(_VIEWER_ZONES, params))]
    for zone in zones:
        await session.execute(_DAYS, {**params, "time_zone": zone})
    await refresh_groups(session, params, zones)
    await session.execute(_SUMMARY, params)


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
