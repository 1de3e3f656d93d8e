"""``python -m benchmarks.analytics_page``: a course's analytics page on a large course
beside the same page on a 100-student course, in one throwaway database.

The data is made with SQL (``generate_series``), in a database of its own that is dropped
afterwards:

- the large course: 10,000 students, 100 lessons in 10 modules, 1,000,000 lesson progress
  rows, 10 assignments with two autograded test cells each and 100,000 graded attempts;
- the small course: 100 of those students, the same shape (10,000 progress rows, 1,000
  attempts);
- every student in one of four groups (``Section 1`` … ``Section 4``);
- the first lesson of each module a video, each student's progress in it with plays per
  twentieth (the video coverage, counted for the course and for each group).

Both courses' rollups are computed once by ``rollups.refresh_course`` (the job's work; its
time is reported too). Then the page's work is timed, alternating between the courses:
everything ``CourseAnalyticsPage.get`` does after sign-in (the rollup reads of
``course_analytics``, the SVG charts, rendering ``analytics_course.html``), and the large
course's page filtered by one group (``large/group``). Goals from the issue: p95 ≤ 300 ms on
the large course and ≤ 1.2 times the small course's p95.

Options: ``--rounds N`` (page views per course, 200), ``--keep`` (keep the database).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import psycopg
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from coursehub.services.analytics import course_analytics, rollups
from coursehub.services.analytics.filters import period_from
from coursehub.services.analytics.handlers.analytics import course_charts
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.lms import template_dirs
from coursehub.services.migrate import upgrade
from coursehub.services.models import Course, utcnow
from coursehub.services.settings import sqlalchemy_url
from coursehub.services.site_settings.site_settings import SiteSettings
from tests.platform import create_database, drop_database

LARGE, SMALL = 10_000, 100
MODULES, LESSONS_PER_MODULE, ASSIGNMENTS = 10, 10, 10

DATA = [
    """INSERT INTO accounts (username, email, name, role)
       SELECT 'bench-' || n, 'bench-' || n || '@coursehub.example', 'Student ' || n, 'STUDENT'
       FROM generate_series(1, %(large)s) n""",
    """INSERT INTO accounts (username, email, name, role)
       VALUES ('bench-teacher', 'bench-teacher@coursehub.example', 'Teacher', 'INSTRUCTOR')""",
    """INSERT INTO courses (slug, title, summary, description, status, instructor_id,
                           price_cents, students_may_message, created_at, updated_at)
       SELECT 'bench-' || size, 'Course of ' || size, '', '', 'PUBLISHED',
              (SELECT id FROM accounts WHERE username = 'bench-teacher'), 0, false, now(), now()
       FROM unnest(ARRAY['large', 'small']) size""",
    """INSERT INTO modules (course_id, title, description, position)
       SELECT c.id, 'Module ' || m, '', m FROM courses c, generate_series(1, %(modules)s) m
       WHERE c.slug LIKE 'bench-%%'""",
    """INSERT INTO lessons (module_id, title, kind, position, is_preview, is_required,
                           text_markdown, show_code)
       SELECT m.id, 'Lesson ' || m.position || '.' || l,
              CASE WHEN l = 1 THEN 'VIDEO' ELSE 'TEXT' END::lesson_kind, l, false, true, '',
              false
       FROM modules m JOIN courses c ON c.id = m.course_id AND c.slug LIKE 'bench-%%',
            generate_series(1, %(lessons)s) l""",
    """INSERT INTO enrollments (account_id, course_id, enrolled_at, progress, last_active_at)
       SELECT a.id, c.id, now() - (a.id %% 90) * interval '1 day', (a.id %% 101) / 100.0,
              now() - (a.id %% 30) * interval '1 day'
       FROM accounts a JOIN courses c ON c.slug = 'bench-large'
       WHERE a.username LIKE 'bench-%%' AND a.role = 'STUDENT'
       UNION ALL
       SELECT a.id, c.id, now() - (a.id %% 90) * interval '1 day', (a.id %% 101) / 100.0,
              now() - (a.id %% 30) * interval '1 day'
       FROM accounts a JOIN courses c ON c.slug = 'bench-small'
       WHERE a.username LIKE 'bench-%%' AND a.role = 'STUDENT'
         AND substring(a.username FROM 7)::int <= %(small)s""",
    """UPDATE enrollments SET group_name = 'Section ' || (account_id %% 4 + 1)""",
    """INSERT INTO lesson_progress (account_id, lesson_id, first_opened_at, last_opened_at,
                                   completed_at, time_spent_seconds, video_position_seconds,
                                   video_watched_fraction)
       SELECT e.account_id, l.id, now() - interval '60 days',
              now() - ((e.account_id + l.id) %% 60) * interval '1 day',
              CASE WHEN (e.account_id + l.id) %% 3 > 0
                   THEN now() - ((e.account_id + l.id) %% 60) * interval '1 day' END,
              (e.account_id * 7 + l.id) %% 1800, 0, ((e.account_id + l.id) %% 11) / 10.0
       FROM enrollments e
       JOIN modules m ON m.course_id = e.course_id
       JOIN lessons l ON l.module_id = m.id
       JOIN courses c ON c.id = e.course_id AND c.slug LIKE 'bench-%%'""",
    """UPDATE lesson_progress lp SET video_views = (
           SELECT jsonb_agg(CASE WHEN n <= (lp.account_id + lp.lesson_id) %% 21
                                 THEN 1 + ((lp.account_id + n) %% 3 = 0)::int ELSE 0 END
                            ORDER BY n)
           FROM generate_series(1, 20) n)
       FROM lessons l WHERE l.id = lp.lesson_id AND l.kind = 'VIDEO'""",
    """INSERT INTO assignments (course_id, title, source_notebook, student_notebook,
                               source_sha256, grade_cells, max_score, released_at,
                               late_penalty_percent, late_penalty_unit, created_at, updated_at)
       SELECT c.id, 'Assignment ' || n, '{}', '{}', repeat('0', 64),
              '[{"grade_id": "test_a", "kind": "autograded_test", "max_points": 1},
                {"grade_id": "test_b", "kind": "autograded_test", "max_points": 1}]',
              2, now() - interval '30 days', 0, 'DAY', now(), now()
       FROM courses c, generate_series(1, %(assignments)s) n WHERE c.slug LIKE 'bench-%%'""",
    """INSERT INTO submissions (assignment_id, account_id, attempt, received_at, sha256,
                               notebook, size, late_penalty_percent, status, status_message)
       SELECT a.id, e.account_id, 1,
              a.released_at + ((e.account_id + a.id) %% 200) * interval '1 hour',
              md5(a.id || '-' || e.account_id), '\\x7b7d', 2, 0, 'GRADED', ''
       FROM assignments a JOIN enrollments e ON e.course_id = a.course_id
       JOIN courses c ON c.id = a.course_id AND c.slug LIKE 'bench-%%'""",
    """INSERT INTO grades (submission_id, outcome, message, cells, score, max_score,
                          late_penalty_percent, final_score, flags, needs_manual, graded_at)
       SELECT s.id, 'graded', '',
              jsonb_build_array(
                jsonb_build_object('grade_id', 'test_a', 'kind', 'autograded_test',
                  'max_points', 1, 'score', (s.account_id %% 4 > 0)::int,
                  'feedback', CASE WHEN s.account_id %% 4 > 0 THEN 'Passed.'
                                   ELSE 'NameError: name ''x'' is not defined' END),
                jsonb_build_object('grade_id', 'test_b', 'kind', 'autograded_test',
                  'max_points', 1, 'score', (s.account_id %% 3 = 0)::int,
                  'feedback', CASE WHEN s.account_id %% 3 = 0 THEN 'Passed.'
                                   WHEN s.account_id %% 2 = 0 THEN 'A hidden test failed.'
                                   ELSE 'AssertionError: wrong mean' END)),
              (s.account_id %% 4 > 0)::int + (s.account_id %% 3 = 0)::int, 2, 0,
              (s.account_id %% 4 > 0)::int + (s.account_id %% 3 = 0)::int, '[]', false,
              s.received_at
       FROM submissions s""",
    "ANALYZE",
]


def make_data(url: str) -> None:
    params = {
        "large": LARGE,
        "small": SMALL,
        "modules": MODULES,
        "lessons": LESSONS_PER_MODULE,
        "assignments": ASSIGNMENTS,
    }
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in DATA:
            started = time.perf_counter()
            conn.execute(statement, params)  # type: ignore[arg-type]
            label = " ".join(statement.split()[:3:2])
            print(f"  {label:<28}{time.perf_counter() - started:6.1f} s", flush=True)
        counts = conn.execute(
            """SELECT (SELECT count(*) FROM lesson_progress), (SELECT count(*) FROM submissions),
                      (SELECT count(*) FROM enrollments)"""
        ).fetchone()
    print(f"  lesson progress rows {counts[0]:,}, attempts {counts[1]:,}, enrolments {counts[2]:,}")


def page_context() -> dict[str, Any]:
    return {
        "prefix": "/services/coursehub",
        "hub_prefix": "/hub/",
        "user": {"name": "bench-teacher"},
        "nav_role": "INSTRUCTOR",
        "xsrf_form_html": lambda: '<input type="hidden" name="_xsrf" value="x">',
        "csp_nonce": "bench",
        "site": SiteSettings(),  # the platform's name and logo in the navigation
    }


async def measure(url: str, rounds: int) -> dict[str, list[float]]:
    engine = make_engine(sqlalchemy_url(url), pool_size=2)
    sessions = make_sessionmaker(engine)
    env = Environment(
        loader=FileSystemLoader([str(p) for p in template_dirs()]),
        autoescape=select_autoescape(["html"]),
    )
    template = env.get_template("analytics_course.html")
    courses: dict[str, int] = {}
    async with sessions() as session:
        for size in ("large", "small"):
            course_id = await session.scalar(
                select(Course.id).where(Course.slug == f"bench-{size}")
            )
            courses[size] = int(course_id)
            started = time.perf_counter()
            await rollups.refresh_course(session, courses[size])
            await session.commit()
            print(f"  refresh_course ({size}): {time.perf_counter() - started:.1f} s", flush=True)
    timings: dict[str, list[float]] = {"large": [], "small": [], "large/group": []}
    period = period_from(None, None, utcnow().date())
    for round_number in range(rounds):
        order = ("large", "small", "large/group")
        for size in order if round_number % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            async with sessions() as session:
                course = await session.get_one(Course, courses[size.split("/")[0]])
                found = await course_analytics.course_analytics(
                    session, course, period, None, group="Section 1" if "/" in size else None
                )
            template.render(
                **page_context(),
                found=found,
                course=found.course,
                period=period,
                charts=course_charts(found),
                query="",
                done="",
                xsrf_token="x",
            )
            timings[size].append((time.perf_counter() - started) * 1000)
    await engine.dispose()
    return timings


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    url = create_database("coursehub_bench_analytics")
    try:
        upgrade(sqlalchemy_url(url))
        print(f"Database {url.rsplit('/', 1)[1]}: making the data", flush=True)
        make_data(url)
        timings = asyncio.run(measure(url, options.rounds))
    finally:
        if not options.keep:
            drop_database(url)
    large, small = p95(timings["large"]), p95(timings["small"])
    print(f"\n{'course':<12}{'views':>7}{'p50 ms':>9}{'p95 ms':>9}")
    for size in ("large", "small", "large/group"):
        values = timings[size]
        print(f"{size:<12}{len(values):>7}{statistics.median(values):>9.1f}{p95(values):>9.1f}")
    print(
        f"\nratio of p95 large/small: {large / small:.2f} (goal ≤ 1.2); "
        f"large p95 {large:.1f} ms (goal ≤ 300 ms); one group of the large course: p95 "
        f"{p95(timings['large/group']):.1f} ms"
    )


if __name__ == "__main__":
    main()
