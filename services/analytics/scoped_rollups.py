"""The rollups counted both for a whole course and for each of its groups (sections,
``enrollments.group_name``): the completion funnel with the video watch coverage, the grade
distributions, the autograded test cells and the days. Each figure is one SQL text written
once and built for a ``Scope``:

- ``COURSE``: every enrolled student, into ``analytics_lessons``, ``analytics_items``,
  ``analytics_test_cells`` and ``analytics_course_days`` (one set of rows per course);
- ``GROUPS``: the students of each group, into ``analytics_group_*`` (one set of rows per
  group, keyed by ``group_name``; students in no group count only in the course's rows).

In every query ``members`` is the scope's students with the group each counts in (the
course's scope puts them all in one unnamed group), and ``groups`` the groups rows are made
for, so a lesson, an assignment or a quiz nobody touched still has its row (of zeros).
``rollups.refresh_course`` runs both scopes in one transaction, under the course's lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Scope:
    name: str
    members: str  # SQL: (account_id, group_name) of the students counted
    groups: str  # SQL: the group_name of each set of rows (may read ``members``)
    lessons: str  # the tables the scope's rows are written to
    items: str
    test_cells: str
    days: str
    grouped: bool  # whether those tables are keyed by group_name

    def key(self) -> str:
        """The group column in a column list of the scope's tables ("" for the course)."""
        return "group_name, " if self.grouped else ""

    def pick(self, alias: str = "") -> str:
        """The group value in a SELECT list writing the scope's tables."""
        return f"{alias + '.' if alias else ''}group_name, " if self.grouped else ""

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.lessons, self.items, self.test_cells, self.days)


COURSE = Scope(
    name="course",
    members="""SELECT account_id, ''::text AS group_name FROM enrollments
               WHERE course_id = :course_id""",
    groups="SELECT ''::text AS group_name",
    lessons="analytics_lessons",
    items="analytics_items",
    test_cells="analytics_test_cells",
    days="analytics_course_days",
    grouped=False,
)
GROUPS = Scope(
    name="groups",
    members="""SELECT account_id, group_name::text AS group_name FROM enrollments
               WHERE course_id = :course_id AND group_name IS NOT NULL""",
    groups="SELECT DISTINCT group_name FROM members",
    lessons="analytics_group_lessons",
    items="analytics_group_items",
    test_cells="analytics_group_test_cells",
    days="analytics_group_days",
    grouped=True,
)
SCOPES = (COURSE, GROUPS)


def tenths(value: str, count: str) -> str:
    """A JSON array of ten counts: rows whose ``value`` (0..1) falls in each tenth."""
    bins = ", ".join(
        f"{count} FILTER (WHERE least(floor(({value}) * 10), 9) = {tenth})" for tenth in range(10)
    )
    return f"jsonb_build_array({bins})"


def with_members(scope: Scope) -> str:
    """The common CTEs (after WITH): the course's lessons, the scope's members and groups, and
    the members' progress in the course's lessons (with each one's group)."""
    return f"""
    course_lessons AS (
        SELECT l.id, l.kind FROM lessons l JOIN modules m ON m.id = l.module_id
        WHERE m.course_id = :course_id
    ),
    members AS ({scope.members}),
    groups AS ({scope.groups}),
    progress AS (
        SELECT lp.*, mb.group_name FROM lesson_progress lp
        JOIN course_lessons cl ON cl.id = lp.lesson_id
        JOIN members mb ON mb.account_id = lp.account_id
    )
    """


# The course's assignments and quizzes, and each member's best percentage on each (CTEs to
# follow ``with_members``).
BEST = """
    items AS (
        SELECT 'assignment'::text AS kind, id AS item_id, title FROM assignments
        WHERE course_id = :course_id
        UNION ALL
        SELECT 'quiz', id, title FROM quizzes WHERE course_id = :course_id
    ),
    best AS (
        SELECT 'assignment'::text AS kind, s.assignment_id AS item_id, s.account_id,
               mb.group_name, max(100.0 * g.final_score / nullif(g.max_score, 0)) AS percent
        FROM submissions s
        JOIN assignments a ON a.id = s.assignment_id AND a.course_id = :course_id
        JOIN grades g ON g.submission_id = s.id
        JOIN members mb ON mb.account_id = s.account_id
        GROUP BY s.assignment_id, s.account_id, mb.group_name
        UNION ALL
        SELECT 'quiz', t.quiz_id, t.account_id, mb.group_name,
               max(100.0 * t.score / nullif(t.max_score, 0))
        FROM quiz_attempts t
        JOIN quizzes q ON q.id = t.quiz_id AND q.course_id = :course_id
        JOIN members mb ON mb.account_id = t.account_id
        WHERE t.score IS NOT NULL
        GROUP BY t.quiz_id, t.account_id, mb.group_name
    )
"""


def _lessons(scope: Scope) -> TextClause:
    """Per lesson: students who opened it, completed it, their time in it; for a video,
    students per tenth of it watched, plays of each twentieth summed over students and
    students who played that twentieth more than once."""
    return text(
        f"""
        WITH {with_members(scope)},
        funnel AS (
            SELECT gs.group_name, cl.id AS lesson_id, count(p.id) AS started,
                   count(p.completed_at) AS completed,
                   coalesce(sum(p.time_spent_seconds), 0) AS seconds_total,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY p.time_spent_seconds)
                       AS median_seconds,
                   CASE WHEN cl.kind = 'VIDEO'
                        THEN {tenths("p.video_watched_fraction", "count(p.id)")} END AS buckets
            FROM groups gs CROSS JOIN course_lessons cl
            LEFT JOIN progress p ON p.lesson_id = cl.id AND p.group_name = gs.group_name
            GROUP BY gs.group_name, cl.id, cl.kind
        ),
        parts AS (
            SELECT p.group_name, p.lesson_id, v.n, sum(v.views::int) AS views,
                   count(*) FILTER (WHERE v.views::int > 1) AS again
            FROM progress p
            JOIN course_lessons cl ON cl.id = p.lesson_id AND cl.kind = 'VIDEO'
            CROSS JOIN LATERAL jsonb_array_elements_text(p.video_views)
                WITH ORDINALITY AS v(views, n)
            WHERE p.video_views IS NOT NULL
            GROUP BY p.group_name, p.lesson_id, v.n
        ),
        videos AS (
            SELECT group_name, lesson_id, jsonb_agg(views ORDER BY n) AS views,
                   jsonb_agg(again ORDER BY n) AS again
            FROM parts GROUP BY group_name, lesson_id
        )
        INSERT INTO {scope.lessons}
            ({scope.key()}lesson_id, course_id, started, completed, seconds_total,
             median_seconds, video_buckets, video_views, video_rewatched)
        SELECT {scope.pick("f")}f.lesson_id, :course_id, f.started, f.completed,
               f.seconds_total, f.median_seconds, f.buckets, v.views, v.again
        FROM funnel f
        LEFT JOIN videos v ON v.group_name = f.group_name AND v.lesson_id = f.lesson_id
        """
    )


def _items(scope: Scope) -> TextClause:
    """Per assignment and quiz: the members' best percentages, median, mean and tenths."""
    return text(
        f"""
        WITH {with_members(scope)}, {BEST}
        INSERT INTO {scope.items}
            ({scope.key()}kind, item_id, course_id, title, students, median_percent,
             mean_percent, histogram)
        SELECT {scope.pick("gs")}i.kind, i.item_id, :course_id, i.title, count(b.percent),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY b.percent), avg(b.percent),
               {tenths("b.percent / 100.0", "count(b.percent)")}
        FROM groups gs CROSS JOIN items i
        LEFT JOIN best b
            ON b.kind = i.kind AND b.item_id = i.item_id AND b.group_name = gs.group_name
        GROUP BY gs.group_name, i.kind, i.item_id, i.title
        """
    )


def _test_cells(scope: Scope) -> TextClause:
    """Per autograded test cell: graded attempts and those passing, students and those who
    passed, attempts until a first pass, hours from release to it, commonest failures."""
    return text(
        f"""
        WITH members AS ({scope.members}),
        results AS (
            SELECT mb.group_name, s.assignment_id, s.account_id, s.attempt, s.received_at,
                   coalesce(a.released_at, a.created_at) AS released_at,
                   c.value ->> 'grade_id' AS grade_id,
                   coalesce((c.value ->> 'score')::float, 0)
                       >= coalesce((c.value ->> 'max_points')::float, 0) AS passed,
                   coalesce(c.value ->> 'feedback', '') AS feedback
            FROM assignments a
            JOIN submissions s ON s.assignment_id = a.id
            JOIN members mb ON mb.account_id = s.account_id
            JOIN grades g ON g.submission_id = s.id
            CROSS JOIN LATERAL jsonb_array_elements(g.cells) c
            WHERE a.course_id = :course_id AND c.value ->> 'kind' = 'autograded_test'
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
        INSERT INTO {scope.test_cells}
            ({scope.key()}assignment_id, grade_id, course_id, position, attempts, passed,
             students, students_passed, mean_attempts_to_pass, median_hours_to_pass, failures)
        SELECT {scope.pick("t")}t.assignment_id, t.grade_id, :course_id,
               coalesce(p.position, 0), t.attempts, t.passed, s.students, s.passed,
               s.mean_attempts, s.median_hours, coalesce(f.list, '[]'::jsonb)
        FROM attempts t
        JOIN students s USING (group_name, assignment_id, grade_id)
        LEFT JOIN failures f USING (group_name, assignment_id, grade_id)
        LEFT JOIN positions p USING (assignment_id, grade_id)
        """
    )


def _days(scope: Scope) -> TextClause:
    """Per day in ``:time_zone``: enrolments, active members (anything but enrolling),
    lessons and courses completed, attempts submitted."""
    return text(
        f"""
        WITH {with_members(scope)},
        events AS (
            SELECT e.account_id, mb.group_name, e.enrolled_at AS at, 'enrolled' AS what
            FROM enrollments e JOIN members mb ON mb.account_id = e.account_id
            WHERE e.course_id = :course_id
            UNION ALL
            SELECT e.account_id, mb.group_name, e.completed_at, 'course_completed'
            FROM enrollments e JOIN members mb ON mb.account_id = e.account_id
            WHERE e.course_id = :course_id AND e.completed_at IS NOT NULL
            UNION ALL
            SELECT account_id, group_name, last_opened_at, 'opened' FROM progress
            UNION ALL
            SELECT account_id, group_name, completed_at, 'lesson_completed' FROM progress
            WHERE completed_at IS NOT NULL
            UNION ALL
            SELECT s.account_id, mb.group_name, s.received_at, 'submitted' FROM submissions s
            JOIN assignments a ON a.id = s.assignment_id AND a.course_id = :course_id
            JOIN members mb ON mb.account_id = s.account_id
        )
        INSERT INTO {scope.days}
            ({scope.key()}course_id, time_zone, day, enrolments, active_students,
             lesson_completions, course_completions, submissions)
        SELECT {scope.pick()}:course_id, CAST(:time_zone AS text),
               (at AT TIME ZONE CAST(:time_zone AS text))::date AS day,
               count(*) FILTER (WHERE what = 'enrolled'),
               count(DISTINCT account_id) FILTER (WHERE what <> 'enrolled'),
               count(*) FILTER (WHERE what = 'lesson_completed'),
               count(*) FILTER (WHERE what = 'course_completed'),
               count(*) FILTER (WHERE what = 'submitted')
        FROM events WHERE at IS NOT NULL GROUP BY group_name, day
        """
    )


@dataclass(frozen=True)
class _Statements:
    delete: tuple[TextClause, ...]
    figures: tuple[TextClause, ...]  # lessons, items, test cells
    days: TextClause  # run once per time zone


_BUILT = {
    scope.name: _Statements(
        delete=tuple(
            text(f"DELETE FROM {table} WHERE course_id = :course_id") for table in scope.tables
        ),
        figures=(_lessons(scope), _items(scope), _test_cells(scope)),
        days=_days(scope),
    )
    for scope in SCOPES
}


async def refresh_scope(
    session: AsyncSession, scope: Scope, params: dict[str, Any], zones: list[str]
) -> None:
    """Rewrite the scope's rows of the course ``params`` names, with its days in each of
    ``zones`` (the caller holds the course's refresh lock and commits)."""
    built = _BUILT[scope.name]
    for statement in (*built.delete, *built.figures):
        await session.execute(statement, params)
    for zone in zones:
        await session.execute(built.days, {**params, "time_zone": zone})
