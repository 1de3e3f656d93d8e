"""The rollups of a course counted per group (``enrollments.group_name``): the funnel, the
grade distributions and the days, each row among one group's students only, so the analytics'
group filter reads a few rows as the whole course's figures do. Rewritten by
``rollups.refresh_course`` in the same transaction as the course's own rows. Students in no
group count only in the whole course's figures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_GROUPED = """
    course_lessons AS (
        SELECT l.id, l.kind FROM lessons l JOIN modules m ON m.id = l.module_id
        WHERE m.course_id = :course_id
    ),
    grouped AS (
        SELECT account_id, group_name FROM enrollments
        WHERE course_id = :course_id AND group_name IS NOT NULL
    ),
    groups AS (SELECT DISTINCT group_name FROM grouped),
    progress AS (
        SELECT lp.*, g.group_name FROM lesson_progress lp
        JOIN course_lessons cl ON cl.id = lp.lesson_id
        JOIN grouped g ON g.account_id = lp.account_id
    )
"""

_DELETE = [
    text(f"DELETE FROM {table} WHERE course_id = :course_id")
    for table in ("analytics_group_lessons", "analytics_group_items", "analytics_group_days")
]

_LESSONS = text(
    f"""
    WITH {_GROUPED}
    INSERT INTO analytics_group_lessons
        (course_id, group_name, lesson_id, started, completed, seconds_total, median_seconds)
    SELECT :course_id, gs.group_name, cl.id, count(p.id), count(p.completed_at),
           coalesce(sum(p.time_spent_seconds), 0),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY p.time_spent_seconds)
    FROM groups gs CROSS JOIN course_lessons cl
    LEFT JOIN progress p ON p.lesson_id = cl.id AND p.group_name = gs.group_name
    GROUP BY gs.group_name, cl.id
    """
)


def _tenths(value: str, count: str) -> str:
    bins = ", ".join(
        f"{count} FILTER (WHERE least(floor(({value}) * 10), 9) = {tenth})" for tenth in range(10)
    )
    return f"jsonb_build_array({bins})"


# Each grouped student's best percentage on each assignment and quiz (as the course's
# ``analytics_items``), counted per group.
_ITEMS = text(
    f"""
    WITH {_GROUPED},
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
        GROUP BY s.assignment_id, s.account_id
        UNION ALL
        SELECT 'quiz', t.quiz_id, t.account_id, max(100.0 * t.score / nullif(t.max_score, 0))
        FROM quiz_attempts t
        JOIN quizzes q ON q.id = t.quiz_id AND q.course_id = :course_id
        WHERE t.score IS NOT NULL
        GROUP BY t.quiz_id, t.account_id
    ),
    grouped_best AS (
        SELECT b.*, gr.group_name FROM best b JOIN grouped gr ON gr.account_id = b.account_id
    )
    INSERT INTO analytics_group_items
        (course_id, group_name, kind, item_id, title, students, median_percent, mean_percent,
         histogram)
    SELECT :course_id, gs.group_name, i.kind, i.item_id, i.title, count(b.percent),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY b.percent), avg(b.percent),
           {_tenths("b.percent / 100.0", "count(b.percent)")}
    FROM groups gs CROSS JOIN items i
    LEFT JOIN grouped_best b
        ON b.kind = i.kind AND b.item_id = i.item_id AND b.group_name = gs.group_name
    GROUP BY gs.group_name, i.kind, i.item_id, i.title
    """
)

_DAYS = text(
    f"""
    WITH {_GROUPED},
    events AS (
        SELECT e.account_id, gr.group_name, e.enrolled_at AS at, 'enrolled' AS what
        FROM enrollments e JOIN grouped gr ON gr.account_id = e.account_id
        WHERE e.course_id = :course_id
        UNION ALL
        SELECT e.account_id, gr.group_name, e.completed_at, 'course_completed'
        FROM enrollments e JOIN grouped gr ON gr.account_id = e.account_id
        WHERE e.course_id = :course_id AND e.completed_at IS NOT NULL
        UNION ALL
        SELECT account_id, group_name, last_opened_at, 'opened' FROM progress
        UNION ALL
        SELECT account_id, group_name, completed_at, 'lesson_completed' FROM progress
        WHERE completed_at IS NOT NULL
        UNION ALL
        SELECT s.account_id, gr.group_name, s.received_at, 'submitted' FROM submissions s
        JOIN assignments a ON a.id = s.assignment_id AND a.course_id = :course_id
        JOIN grouped gr ON gr.account_id = s.account_id
    )
    INSERT INTO analytics_group_days
        (course_id, group_name, time_zone, day, enrolments, active_students,
         lesson_completions, course_completions, submissions)
    SELECT :course_id, group_name, CAST(:time_zone AS text),
           (at AT TIME ZONE CAST(:time_zone AS text))::date AS day,
           count(*) FILTER (WHERE what = 'enrolled'),
           count(DISTINCT account_id) FILTER (WHERE what <> 'enrolled'),
           count(*) FILTER (WHERE what = 'lesson_completed'),
           count(*) FILTER (WHERE what = 'course_completed'),
           count(*) FILTER (WHERE what = 'submitted')
    FROM events WHERE at IS NOT NULL GROUP BY group_name, day
    """
)


async def refresh_groups(session: AsyncSession, params: dict[str, Any], zones: list[str]) -> None:
    """Rewrite the course's per-group rows (``params`` names the course; the caller holds
    the course's refresh lock and commits)."""
    for statement in (*_DELETE, _LESSONS, _ITEMS):
        await session.execute(statement, params)
    for zone in zones:
        await session.execute(_DAYS, {**params, "time_zone": zone})
