"""Large course data for the catalog and dashboard benchmarks, made by SQL in seconds.

``add_catalog`` fills a database with people, categories, courses, modules, lessons with
published notebook text, enrollments and lesson progress using ``INSERT ... SELECT
generate_series``; every course's search document is then built by the same statement
authors' changes run (``coursehub.services.courses.authoring.refresh_search_document``).

Lesson text is made of pseudo-words ("kalomi", "rusavi", ...) drawn log-uniformly from
160,000 of them, so a few words are in nearly every course and most are in few, like words in
real lessons. ``enroll_with_progress`` gives one person the same courses and progress in any
database, so a page can be measured on a large and on a small database alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from coursehub.services.accounts.accounts import hash_password
from coursehub.services.courses import authoring
from coursehub.services.models import Course
from coursehub.services.settings import sqlalchemy_url

SYLLABLES = "ka lo mi ne ru sa to vi de po la gu fe zo ri ba ce du ho ji".split()
VOCABULARY = len(SYLLABLES) ** 4
BENCH_CATEGORIES = 12


@dataclass(frozen=True)
class CatalogSize:
    people: int = 10_000
    instructors: int = 50
    courses: int = 1_000
    modules_per_course: int = 2
    lessons_per_module: int = 5
    words_per_lesson: int = 400
    courses_per_student: int = 10
    completed_share: float = 0.7  # of a student's lessons, completed

    @property
    def lessons(self) -> int:
        return self.courses * self.modules_per_course * self.lessons_per_module

    @property
    def progress_rows(self) -> int:
        lessons = self.modules_per_course * self.lessons_per_module
        return (self.people - self.instructors) * self.courses_per_student * lessons


def word_sql(number: str) -> str:
    """SQL for pseudo-word ``number`` (0 .. VOCABULARY - 1)."""
    parts = [f"(ARRAY{SYLLABLES})[(({number}) / {20**k})::bigint %% 20 + 1]" for k in range(4)]
    return " || ".join(parts)


def word(number: int) -> str:
    """The pseudo-word SQL's ``word_sql`` makes for ``number``."""
    return "".join(SYLLABLES[(number // 20**k) % 20] for k in range(4))


# log-uniform over [1, VOCABULARY): word n is about 1/n as common as word 1.
RANDOM_WORD = word_sql(f"floor(exp(random() * ln({VOCABULARY}))) - 1")


def _people(size: CatalogSize, password_hash: str) -> list[tuple[str, dict]]:
    return [
        (
            "INSERT INTO categories (name, slug) SELECT 'Bench category ' || n, "
            "'bench-category-' || n FROM generate_series(1, %(categories)s) n",
            {"categories": BENCH_CATEGORIES},
        ),
        (
            """
            INSERT INTO accounts (username, email, name, password_hash, role, created_at)
            SELECT 'bench-person-' || n, 'bench-person-' || n || '@coursehub.example',
                   'Bench Person ' || n, %(hash)s,
                   (CASE WHEN n <= %(instructors)s THEN 'INSTRUCTOR' ELSE 'STUDENT' END)
                       ::account_role,
                   now() - n * interval '1 minute'
            FROM generate_series(1, %(people)s) n
            """,
            {"hash": password_hash, "instructors": size.instructors, "people": size.people},
        ),
    ]


def _courses(size: CatalogSize) -> list[tuple[str, dict]]:
    title_word = word_sql("(n * 7919) %% 20000 + 20000")
    return [
        (
            f"""
            INSERT INTO courses (slug, title, summary, description, status, instructor_id,
                                 category_id, price_cents, created_at, updated_at)
            SELECT 'bench-catalog-' || n,
                   initcap({title_word}) || ' for analysts, part ' || n,
                   'Course ' || n || ' of the benchmark catalog.',
                   'A course of notebooks about ' || {title_word} || '.',
                   (CASE WHEN n %% 50 = 0 THEN 'DRAFT' WHEN n %% 50 = 1 THEN 'ARCHIVED'
                         ELSE 'PUBLISHED' END)::course_status,
                   (SELECT id FROM accounts WHERE username = 'bench-person-'
                        || (n %% %(instructors)s + 1)),
                   (SELECT id FROM categories WHERE slug = 'bench-category-'
                        || (n %% {BENCH_CATEGORIES} + 1)),
                   CASE WHEN n %% 5 = 0 THEN 1900 + (n %% 7) * 1000 ELSE 0 END,
                   now() - n * interval '1 hour', now()
            FROM generate_series(1, %(courses)s) n
            """,
            {"instructors": size.instructors, "courses": size.courses},
        ),
        (
            """
            INSERT INTO modules (course_id, title, description, position)
            SELECT c.id, 'Module ' || (m + 1), '', m
            FROM courses c CROSS JOIN generate_series(0, %(modules)s - 1) m
            WHERE c.slug LIKE 'bench-catalog-%%'
            """,
            {"modules": size.modules_per_course},
        ),
        (
            """
            INSERT INTO lessons (module_id, title, kind, position, is_preview, is_required,
                                 text_markdown)
            SELECT m.id, 'Lesson ' || (m.position * %(lessons)s + p + 1),
                   (CASE WHEN p = %(lessons)s - 1 THEN 'QUIZ' ELSE 'NOTEBOOK' END)::lesson_kind,
                   p, m.position = 0 AND p = 0, p <> %(lessons)s - 2, ''
            FROM modules m JOIN courses c ON c.id = m.course_id
            CROSS JOIN generate_series(0, %(lessons)s - 1) p
            WHERE c.slug LIKE 'bench-catalog-%%'
            """,
            {"lessons": size.lessons_per_module},
        ),
        (
            f"""
            INSERT INTO lesson_versions (lesson_id, number, notebook, plain_text, sha256)
            SELECT l.id, 1,
                   jsonb_build_object('nbformat', 4, 'nbformat_minor', 5, 'metadata', '{{}}'::jsonb,
                       'cells', jsonb_build_array(jsonb_build_object(
                           'cell_type', 'markdown', 'metadata', '{{}}'::jsonb,
                           'source', words.text))),
                   words.text, md5(words.text) || md5(l.id::text)
            FROM lessons l
            JOIN modules m ON m.id = l.module_id
            JOIN courses c ON c.id = m.course_id
            CROSS JOIN LATERAL (
                SELECT string_agg({RANDOM_WORD}, ' ') AS text
                FROM generate_series(1, %(words)s) g WHERE g > l.id * 0
            ) AS words
            WHERE c.slug LIKE 'bench-catalog-%%' AND l.kind = 'NOTEBOOK'
            """,
            {"words": size.words_per_lesson},
        ),
        (
            """
            UPDATE lessons l SET published_version_id = v.id
            FROM lesson_versions v WHERE v.lesson_id = l.id AND v.number = 1
            """,
            {},
        ),
    ]


def _learning(size: CatalogSize) -> list[tuple[str, dict]]:
    return [
        (
            # Every student takes courses_per_student published courses, spread evenly.
            """
            WITH students AS (
                SELECT id, row_number() OVER (ORDER BY id) AS n FROM accounts
                WHERE username LIKE 'bench-person-%%' AND role = 'STUDENT'),
            open AS (
                SELECT id, row_number() OVER (ORDER BY id) - 1 AS n, count(*) OVER () AS total
                FROM courses WHERE slug LIKE 'bench-catalog-%%' AND status = 'PUBLISHED')
            INSERT INTO enrollments (account_id, course_id, enrolled_at, progress, last_active_at)
            SELECT s.id, o.id, now() - (k + 1) * interval '3 days', 0,
                   now() - k * interval '2 days' - s.n * interval '1 second'
            FROM students s CROSS JOIN generate_series(0, %(per_student)s - 1) k
            JOIN open o ON o.n = (s.n * 37 + k * 101) %% o.total
            """,
            {"per_student": size.courses_per_student},
        ),
        (
            """
            INSERT INTO lesson_progress (account_id, lesson_id, first_opened_at,
                                         last_opened_at, completed_at, time_spent_seconds)
            SELECT e.account_id, l.id, e.enrolled_at, e.enrolled_at + interval '1 day',
                   CASE WHEN random() < %(completed)s
                        THEN e.enrolled_at + (l.position + 1) * interval '7 hours' END,
                   (random() * 1800)::int
            FROM enrollments e
            JOIN courses c ON c.id = e.course_id AND c.slug LIKE 'bench-catalog-%%'
            JOIN modules m ON m.course_id = e.course_id
            JOIN lessons l ON l.module_id = m.id
            """,
            {"completed": size.completed_share},
        ),
        (
            """
            UPDATE enrollments e SET last_lesson_id = syllabus.lesson_ids[e.id %% 7 + 1]
            FROM (
                SELECT m.course_id, array_agg(l.id ORDER BY m.position, l.position) AS lesson_ids
                FROM modules m JOIN lessons l ON l.module_id = m.id
                JOIN courses c ON c.id = m.course_id AND c.slug LIKE 'bench-catalog-%%'
                GROUP BY m.course_id
            ) AS syllabus
            WHERE syllabus.course_id = e.course_id
            """,
            {},
        ),
    ]


async def _refresh_search_documents(database_url: str) -> None:
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with AsyncSession(engine) as session:
            ids = list(await session.scalars(select(Course.id).order_by(Course.id)))
            for course_id in ids:
                await authoring.refresh_search_document(session, course_id)
            await session.commit()
    finally:
        await engine.dispose()


def refresh_search_documents(database_url: str) -> None:
    """Every course's search document, by the function authors' changes call."""
    asyncio.run(_refresh_search_documents(database_url))


def add_catalog(database_url: str, size: CatalogSize, log: Callable[[str], None] = print) -> None:
    """Fill ``database_url`` (migrated, without bench data yet) with a catalog of ``size``."""
    password_hash = hash_password("bench people never sign in")
    steps = [
        ("people and categories", _people(size, password_hash)),
        ("courses, modules, lessons and notebook text", _courses(size)),
        ("search documents", None),
        ("enrollments and lesson progress", _learning(size)),
    ]
    with psycopg.connect(database_url) as conn:
        for label, statements in steps:
            started = time.monotonic()
            if statements is None:
                refresh_search_documents(database_url)
            else:
                for sql, params in statements:
                    conn.execute(sql, params)
            conn.commit()
            log(f"  {label}: {time.monotonic() - started:.1f}s")
    vacuum_analyze(database_url)


def vacuum_analyze(database_url: str) -> None:
    """Fresh statistics and visibility maps, as autovacuum would give a live database."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def enroll_with_progress(database_url: str, username: str, courses: int) -> list[str]:
    """Enroll ``username`` in the first ``courses`` published bench courses with lessons,
    complete about half of each course's lessons and leave a last lesson; returns the slugs.
    Done the same way in any database that holds those courses."""
    with psycopg.connect(database_url) as conn:
        slugs = [
            row[0]
            for row in conn.execute(
                """
                SELECT slug FROM courses
                WHERE slug LIKE 'bench-catalog-%%' AND status = 'PUBLISHED'
                  AND price_cents = 0
                ORDER BY id LIMIT %(courses)s
                """,
                {"courses": courses},
            )
        ]
        conn.execute(
            """
            INSERT INTO enrollments (account_id, course_id, enrolled_at, progress, last_active_at)
            SELECT a.id, c.id, now() - interval '20 days', 0, now() - interval '1 day'
            FROM accounts a, courses c WHERE a.username = %(username)s AND c.slug = ANY(%(slugs)s)
            ON CONFLICT DO NOTHING
            """,
            {"username": username, "slugs": slugs},
        )
        conn.execute(
            """
            INSERT INTO lesson_progress (account_id, lesson_id, first_opened_at, last_opened_at,
                                         completed_at)
            SELECT a.id, l.id, now() - interval '10 days', now() - interval '1 day',
                   CASE WHEN l.position < 3 THEN now() - l.id * interval '1 minute' END
            FROM accounts a
            JOIN courses c ON c.slug = ANY(%(slugs)s)
            JOIN modules m ON m.course_id = c.id
            JOIN lessons l ON l.module_id = m.id
            WHERE a.username = %(username)s
            ON CONFLICT DO NOTHING
            """,
            {"username": username, "slugs": slugs},
        )
        conn.execute(
            """
            UPDATE enrollments e SET last_lesson_id = (
                SELECT l.id FROM lessons l JOIN modules m ON m.id = l.module_id
                WHERE m.course_id = e.course_id ORDER BY m.position, l.position OFFSET 3 LIMIT 1)
            FROM accounts a WHERE a.id = e.account_id AND a.username = %(username)s
            """,
            {"username": username},
        )
        conn.commit()
    return slugs


def add_student(database_url: str, username: str) -> None:
    """A STUDENT account named ``username`` (the benchmark's token names it in every DB)."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """
            INSERT INTO accounts (username, email, name, role)
            VALUES (%(username)s, %(email)s, 'Benchmark Student', 'STUDENT')
            ON CONFLICT (username) DO NOTHING
            """,
            {"username": username, "email": f"{username}@coursehub.example"},
        )
        conn.commit()


def only_bench_enrollments(database_url: str, username: str) -> None:
    """Drop ``username``'s enrollments outside the bench catalog (the harness gives its
    student a few courses without lessons), so both databases show the same dashboard."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """
            DELETE FROM enrollments e USING accounts a, courses c
            WHERE a.id = e.account_id AND c.id = e.course_id AND a.username = %(username)s
              AND c.slug NOT LIKE 'bench-catalog-%%'
            """,
            {"username": username},
        )
        conn.commit()


RECOMMENDED_INDEX = (
    "CREATE INDEX IF NOT EXISTS enrollments_course_id_idx ON enrollments (course_id)"
)


def add_recommended_index(database_url: str) -> None:
    """The index the catalog needs to count each course's students (not in the migrations)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(RECOMMENDED_INDEX)
        conn.execute("VACUUM ANALYZE enrollments")


def matching_courses(database_url: str, words: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM courses WHERE status = 'PUBLISHED' AND "
            "search_document @@ websearch_to_tsquery('english', %(words)s)",
            {"words": words},
        ).fetchone()
    return int(row[0]) if row else 0
