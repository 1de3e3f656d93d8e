"""The rollups of a course counted per group (``enrollments.group_name``): the funnel, the
grade distributions, the days and the autograded test cells, each row among one group's
students only, so the analytics' group filter reads a few rows as the whole course's figures
do. Rewritten by ``rollups.refresh_course`` in the same transaction as the course's own rows.
Students in no group count only in the whole course's figures (videos are not counted per
group)."""

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
    for table in (
        "analytics_group_lessons",
        "analytics_group_items",
        "analytics_group_days",
        "analytics_group_test_cells",
    )
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


# As the course's ``analytics_test_cells``, each figure among one group's students.
_TEST_CELLS = text(
    """
    WITH results AS (
        SELECT e.group_name, s.assignment_id, s.account_id, s.attempt, s.received_at,
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
          AND e.group_name IS NOT NULL
    ),
    per_student AS (
        SELECT group_name, assignment_id, grade_id, account_id,
               min(attempt) FILTER (WHERE passed) AS first_pass,
               min(received_at) FILTER (WHERE passed) - min(released_at) AS to_pass
        FROM results GROUP BY group_name, assignment_id, grade_id, account_id
    ),
    students AS (
        SELECT group_name, assignment_id, grade_id, count(*) AS students,
               count(first_pass) AS passed, avg(first_pass) AS mean_attempts,
               percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM to_pass) / 3600.0
               ) AS median_hours
        FROM per_student GROUP BY group_name, assignment_id, grade_id
    ),
    failed AS (
        SELECT group_name, assignment_id, grade_id,
               coalesce(
                   substring(feedback FROM :exception_pattern),
                   CASE WHEN feedback LIKE 'A hidden test failed%' THEN 'Hidden test'
                        ELSE 'Did not pass' END
               ) AS type,
               left(feedback, 300) AS message
        FROM results WHERE NOT passed
    ),
    counted AS (
        SELECT group_name, assignment_id, grade_id, type, message, count(*) AS n,
               row_number() OVER (
                   PARTITION BY group_name, assignment_id, grade_id
                   ORDER BY count(*) DESC, message COLLATE "C"
               ) AS rank
        FROM failed GROUP BY group_name, assignment_id, grade_id, type, message
    ),
    failures AS (
        SELECT group_name, assignment_id, grade_id,
               jsonb_agg(
                   jsonb_build_object('type', type, 'message', message, 'count', n)
                   ORDER BY rank
               ) AS list
        FROM counted WHERE rank <= :kept GROUP BY group_name, assignment_id, grade_id
    ),
    attempts AS (
        SELECT group_name, assignment_id, grade_id, count(*) AS attempts,
               count(*) FILTER (WHERE passed) AS passed
        FROM results GROUP BY group_name, assignment_id, grade_id
    ),
    positions AS (
        SELECT a.id AS assignment_id, cell.value ->> 'grade_id' AS grade_id,
               cell.ordinality AS position
        FROM assignments a
        CROSS JOIN LATERAL jsonb_array_elements(a.grade_cells) WITH ORDINALITY cell
        WHERE a.course_id = :course_id
    )
    INSERT INTO analytics_group_test_cells
        (course_id, group_name, assignment_id, grade_id, position, attempts, passed, students,
         students_passed, mean_attempts_to_pass, median_hours_to_pass, failures)
    SELECT :course_id, t.group_name, t.assignment_id, t.grade_id, coalesce(p.position, 0),
           t.attempts, t.passed, s.students, s.passed, s.mean_attempts, s.median_hours,
           coalesce(f.list, '[]'::jsonb)
    FROM attempts t
    JOIN students s USING (group_name, assignment_id, grade_id)
    LEFT JOIN failures f USING (group_name, assignment_id, grade_id)
    LEFT JOIN positions p USING (assignment_id, grade_id)
    """
)


async def refresh_groups(session: AsyncSession, params: dict[str, Any], zones: list[str]) -> None:
    """Rewrite the course's per-group rows (``params`` names the course; the caller holds
    the course's refresh lock and commits)."""
    for statement in (*_DELETE, _LESSONS, _ITEMS, _TEST_CELLS):
        await session.execute(statement, params)
    for zone in zones:
        await session.execute(_DAYS, {**params, "time_zone": zone})
