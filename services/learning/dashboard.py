"""A student's dashboard: their courses with progress, where to continue, what they finished.

Progress is counted from lesson progress, not copied: the share of a course's required
lessons the student has completed (optional lessons do not count), the same measure the
course player stores in ``Enrollment.progress``; counting it here keeps the dashboard right
even for progress written before that column was kept up to date. "Continue" opens the
lesson the student was last in (``Enrollment.last_lesson_id``), or the course's first lesson
before they have opened any.

Both statements start from the student's own rows (``enrollments`` by account, and
``lesson_progress`` through its ``(account_id, completed_at)`` index) and reach courses,
modules and lessons by key, so their cost follows one student's data, not the table sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from coursehub.services.courses import course_pictures

RECENT_LIMIT = 5

# Each course's numbers come from a LATERAL aggregate: PostgreSQL runs it once per enrolled
# course through the modules(course_id), lessons(module_id) and lesson_progress(account_id,
# lesson_id) indexes, instead of joining whole tables (which it may do when they are small).
MY_COURSES = text(
    """
    SELECT c.slug, c.title, c.status::text AS status, c.thumbnail_upload_id,
           e.enrolled_at, e.completed_at,
           coalesce(e.last_active_at, e.enrolled_at) AS active_at, numbers.*
    FROM enrollments e
    JOIN courses c ON c.id = e.course_id
    CROSS JOIN LATERAL (
        SELECT count(l.id) AS lessons,
               count(done.lesson_id) AS lessons_done,
               count(l.id) FILTER (WHERE l.is_required) AS required,
               count(done.lesson_id) FILTER (WHERE l.is_required) AS required_done,
               (array_agg(l.id ORDER BY m.position, m.id, l.position, l.id))[1]
                   AS first_lesson_id,
               (array_agg(l.title ORDER BY m.position, m.id, l.position, l.id))[1]
                   AS first_lesson_title,
               max(l.id) FILTER (WHERE l.id = e.last_lesson_id) AS last_lesson_id,
               max(l.title) FILTER (WHERE l.id = e.last_lesson_id) AS last_lesson_title
        FROM modules m
        JOIN lessons l ON l.module_id = m.id
        LEFT JOIN lesson_progress done
               ON done.account_id = e.account_id AND done.lesson_id = l.id
              AND done.completed_at IS NOT NULL
        WHERE m.course_id = e.course_id
    ) AS numbers
    WHERE e.account_id = :account_id AND c.status <> 'DRAFT'
    ORDER BY active_at DESC, c.title
    """
)

# Newest completions first, straight from the (account_id, completed_at) index: each one is
# looked up by key (OFFSET 0 keeps the lookup per row) until five are found.
RECENTLY_COMPLETED = text(
    """
    SELECT lp.lesson_id, lp.completed_at, lesson.*
    FROM lesson_progress lp
    CROSS JOIN LATERAL (
        SELECT l.title, l.kind::text AS kind, c.slug AS course_slug, c.title AS course_title
        FROM lessons l
        JOIN modules m ON m.id = l.module_id
        JOIN courses c ON c.id = m.course_id
        WHERE l.id = lp.lesson_id AND c.status <> 'DRAFT'
          AND EXISTS (SELECT 1 FROM enrollments e
                      WHERE e.account_id = lp.account_id AND e.course_id = c.id)
        OFFSET 0
    ) AS lesson
    WHERE lp.account_id = :account_id AND lp.completed_at IS NOT NULL
    ORDER BY lp.completed_at DESC
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class Dashboard:
    courses: list[dict[str, Any]]
    recently_completed: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"courses": self.courses, "recently_completed": self.recently_completed}


def progress_share(row: Any) -> float:
    """Completed share of the required lessons, as ``learning.progress`` counts it when it
    writes ``Enrollment.progress`` (0 for a course without required lessons)."""
    return row["required_done"] / row["required"] if row["required"] else 0.0


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _course(row: Any, prefix: str) -> dict[str, Any]:
    share = progress_share(row)
    continue_id = row["last_lesson_id"] or row["first_lesson_id"]
    continue_title = row["last_lesson_title"] or row["first_lesson_title"]
    return {
        "slug": row["slug"],
        "title": row["title"],
        "status": row["status"],
        "url": f"{prefix}/courses/{row['slug']}",
        "picture_url": course_pictures.picture_url(prefix, row["slug"], row["thumbnail_upload_id"]),
        "enrolled_at": _iso(row["enrolled_at"]),
        "last_active_at": _iso(row["active_at"]),
        "completed_at": _iso(row["completed_at"]),
        "lessons": row["lessons"],
        "lessons_completed": row["lessons_done"],
        "progress": round(share, 4),
        "progress_percent": int(share * 100),
        "continue": (
            {
                "lesson_id": continue_id,
                "title": continue_title,
                "url": f"{prefix}/learn/{row['slug']}/{continue_id}",
                "resumes": row["last_lesson_id"] is not None,
            }
            if continue_id
            else None
        ),
    }


def _completion(row: Any, prefix: str) -> dict[str, Any]:
    return {
        "lesson_id": row["lesson_id"],
        "title": row["title"],
        "kind": row["kind"],
        "completed_at": _iso(row["completed_at"]),
        "course": {"slug": row["course_slug"], "title": row["course_title"]},
        "url": f"{prefix}/learn/{row['course_slug']}/{row['lesson_id']}",
    }


async def dashboard(connection: AsyncConnection, account_id: int, prefix: str) -> Dashboard:
    """The dashboard of ``account_id`` in two statements."""
    params = {"account_id": account_id}
    courses = (await connection.execute(MY_COURSES, params)).mappings().all()
    recent = (
        await connection.execute(RECENTLY_COMPLETED, {**params, "limit": RECENT_LIMIT})
    ).mappings()
    return Dashboard(
        courses=[_course(row, prefix) for row in courses],
        recently_completed=[_completion(row, prefix) for row in recent],
    )
