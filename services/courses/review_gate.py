"""Whether a course may be published now: with the site setting "new courses need approval",
only after an administrator approved it (``coursehub.services.administration.course_review``).

Also the course's fingerprint (its fields, syllabus and lesson versions), which a review
keeps so that an approval can tell whether the course changed since it was submitted.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Course,
    CourseReviewEvent,
    Lesson,
    LessonVersion,
    Module,
    ReviewEvent,
)
from coursehub.services.site_settings import site_settings

NEEDS_APPROVAL = (
    "On this platform new courses need an administrator's approval before they are published: "
    "submit the course for review from its Review page (Teaching, then the course)."
)


async def latest_event(session: AsyncSession, course_id: int) -> CourseReviewEvent | None:
    return await session.scalar(
        select(CourseReviewEvent)
        .where(CourseReviewEvent.course_id == course_id)
        .order_by(CourseReviewEvent.id.desc())
        .limit(1)
    )


async def check_publish(session: AsyncSession, course: Course) -> None:
    """Refuse publishing ``course`` when approval is required and it has none."""
    if not (await site_settings.load(session)).course_approval:
        return
    latest = await latest_event(session, course.id) if course.id is not None else None
    if latest is None or latest.event != ReviewEvent.APPROVED:
        raise Refusal(NEEDS_APPROVAL, 409, field="status")


async def fingerprint(session: AsyncSession, course: Course) -> str:
    """SHA-256 of what a reviewer sees of the course."""
    newest = (
        select(LessonVersion.lesson_id, func.max(LessonVersion.id).label("version"))
        .group_by(LessonVersion.lesson_id)
        .subquery()
    )
    modules = await session.execute(
        select(Module.id, Module.title, Module.description, Module.position)
        .where(Module.course_id == course.id)
        .order_by(Module.id)
    )
    lessons = await session.execute(
        select(
            Lesson.id,
            Lesson.module_id,
            Lesson.title,
            Lesson.kind,
            Lesson.position,
            Lesson.is_preview,
            Lesson.text_markdown,
            Lesson.video_upload_id,
            Lesson.published_version_id,
            newest.c.version,
        )
        .join(Module, Module.id == Lesson.module_id)
        .outerjoin(newest, newest.c.lesson_id == Lesson.id)
        .where(Module.course_id == course.id)
        .order_by(Lesson.id)
    )
    document = {
        "course": [
            course.title,
            course.slug,
            course.summary,
            course.description,
            course.price_cents,
            course.category_id,
            course.thumbnail_upload_id,
        ],
        "modules": [list(row) for row in modules],
        "lessons": [[str(value) for value in row] for row in lessons],
    }
    encoded = json.dumps(document, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()
