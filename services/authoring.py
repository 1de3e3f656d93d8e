"""Instructors' side of courses: courses, modules and lessons, ordering, and lesson versions.

Functions take an ``AsyncSession`` and leave committing to the caller. Problems a person can
fix raise ``AuthoringError`` with a sentence to show and the HTTP status to answer with.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services import notebooks
from coursehub.services.models import (
    Account,
    Course,
    CourseStatus,
    Lesson,
    LessonKind,
    LessonVersion,
    Module,
    utcnow,
)

MAX_TITLE = 200


class AuthoringError(ValueError):
    def __init__(self, message: str, status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:100] or "course"


def clean_title(raw: str, what: str = "title") -> str:
    title = raw.strip()
    if not title:
        raise AuthoringError(f"Give it a {what}.", field="title")
    if len(title) > MAX_TITLE:
        raise AuthoringError(f"A {what} can be at most {MAX_TITLE} characters.", field="title")
    return title


async def unique_slug(session: AsyncSession, wanted: str, course_id: int | None = None) -> str:
    """``wanted`` if free, else ``wanted-2``, ``wanted-3``…"""
    taken = set(
        await session.scalars(
            select(Course.slug).where(Course.slug.like(f"{wanted}%"), Course.id != (course_id or 0))
        )
    )
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted}-{number}" in taken:
        number += 1
    return f"{wanted}-{number}"


def may_edit(account: Account, course: Course) -> bool:
    return account.role is Role.ADMIN or course.instructor_id == account.id


async def course_for_editing(session: AsyncSession, account: Account, course_id: int) -> Course:
    course = await session.get(Course, course_id)
    if course is None:
        raise AuthoringError("There is no such course.", status=404)
    if not may_edit(account, course):
        raise AuthoringError(
            "Only the course's instructor and administrators can change it.", status=403
        )
    return course


async def create_course(
    session: AsyncSession, instructor: Account, fields: dict[str, Any]
) -> Course:
    if not instructor.role.at_least(Role.INSTRUCTOR):
        raise AuthoringError("Only instructors and administrators can create courses.", 403)
    title = clean_title(str(fields.get("title", "")))
    course = Course(title=title, instructor_id=instructor.id, status=CourseStatus.DRAFT)
    wanted_slug = slugify(str(fields.get("slug") or title))
    course.slug = await unique_slug(session, wanted_slug)
    apply_course_fields(course, fields)
    session.add(course)
    await session.flush()
    await refresh_search_document(session, course.id)
    return course


def apply_course_fields(course: Course, fields: dict[str, Any]) -> None:
    if "title" in fields:
        course.title = clean_title(str(fields["title"]))
    if "summary" in fields:
        summary = str(fields["summary"]).strip()
        if len(summary) > 500:
            raise AuthoringError("A summary can be at most 500 characters.", field="summary")
        course.summary = summary
    if "description" in fields:
        course.description = str(fields["description"])
    if "price_cents" in fields:
        try:
            price = int(fields["price_cents"])
        except (TypeError, ValueError):
            raise AuthoringError(
                "The price must be a whole number of cents.", field="price"
            ) from None
        if price < 0:
            raise AuthoringError("The price cannot be negative.", field="price")
        course.price_cents = price
    if "category_id" in fields:
        value = fields["category_id"]
        course.category_id = int(value) if value not in (None, "") else None
    if "status" in fields:
        try:
            course.status = CourseStatus(str(fields["status"]))
        except ValueError:
            raise AuthoringError(
                "The status must be DRAFT, PUBLISHED or ARCHIVED.", field="status"
            ) from None
    course.updated_at = utcnow()


async def update_course(session: AsyncSession, course: Course, fields: dict[str, Any]) -> Course:
    if "slug" in fields:
        wanted = slugify(str(fields["slug"]))
        clash = await session.scalar(
            select(Course.id).where(Course.slug == wanted, Course.id != course.id)
        )
        if clash is not None:
            raise AuthoringError(
                f"The address {wanted!r} is taken by another course; choose another.",
                status=409,
                field="slug",
            )
        course.slug = wanted
    apply_course_fields(course, fields)
    await session.flush()
    await refresh_search_document(session, course.id)
    return course


async def course_modules(session: AsyncSession, course_id: int) -> list[Module]:
    return list(
        await session.scalars(
            select(Module).where(Module.course_id == course_id).order_by(Module.position, Module.id)
        )
    )


async def course_lessons(session: AsyncSession, course_id: int) -> list[Lesson]:
    """Every lesson of the course in syllabus order (module order, then lesson order)."""
    return list(
        await session.scalars(
            select(Lesson)
            .join(Module, Lesson.module_id == Module.id)
            .where(Module.course_id == course_id)
            .order_by(Module.position, Module.id, Lesson.position, Lesson.id)
        )
    )


async def add_module(
    session: AsyncSession, course: Course, title: str, description: str = ""
) -> Module:
    position = await session.scalar(
        select(func.coalesce(func.max(Module.position) + 1, 0)).where(Module.course_id == course.id)
    )
    module = Module(
        course_id=course.id,
        title=clean_title(title, "module title"),
        description=description,
        position=position or 0,
    )
    session.add(module)
    await session.flush()
    return module


async def module_for_editing(session: AsyncSession, account: Account, module_id: int) -> Module:
    module = await session.get(Module, module_id)
    if module is None:
        raise AuthoringError("There is no such module.", status=404)
    await course_for_editing(session, account, module.course_id)
    return module


async def lesson_for_editing(session: AsyncSession, account: Account, lesson_id: int) -> Lesson:
    lesson = await session.get(Lesson, lesson_id)
    if lesson is None:
        raise AuthoringError("There is no such lesson.", status=404)
    await module_for_editing(session, account, lesson.module_id)
    return lesson


async def add_lesson(session: AsyncSession, module: Module, fields: dict[str, Any]) -> Lesson:
    try:
        kind = LessonKind(str(fields.get("kind", "")).upper())
    except ValueError:
        raise AuthoringError(
            "The lesson kind must be NOTEBOOK, TEXT, VIDEO, QUIZ or ASSIGNMENT.", field="kind"
        ) from None
    position = await session.scalar(
        select(func.coalesce(func.max(Lesson.position) + 1, 0)).where(Lesson.module_id == module.id)
    )
    lesson = Lesson(
        module_id=module.id,
        title=clean_title(str(fields.get("title", "")), "lesson title"),
        kind=kind,
        position=position or 0,
        is_preview=bool(fields.get("is_preview", False)),
        is_required=bool(fields.get("is_required", True)),
        text_markdown=str(fields.get("text_markdown", "")),
    )
    session.add(lesson)
    await session.flush()
    return lesson


def apply_lesson_fields(lesson: Lesson, fields: dict[str, Any]) -> None:
    if "title" in fields:
        lesson.title = clean_title(str(fields["title"]), "lesson title")
    for flag in ("is_preview", "is_required"):
        if flag in fields:
            setattr(lesson, flag, bool(fields[flag]))
    if "text_markdown" in fields:
        lesson.text_markdown = str(fields["text_markdown"])


async def reorder_modules(session: AsyncSession, course: Course, module_ids: Sequence[int]) -> None:
    current = {module.id for module in await course_modules(session, course.id)}
    _check_same_set(current, module_ids, "modules of this course")
    for position, module_id in enumerate(module_ids):
        await session.execute(
            update(Module).where(Module.id == module_id).values(position=position)
        )


async def reorder_lessons(session: AsyncSession, module: Module, lesson_ids: Sequence[int]) -> None:
    """Put ``lesson_ids`` into ``module`` in this order; they may come from its course's
    other modules (a lesson dragged across modules), never from another course."""
    course_lesson_ids = {lesson.id for lesson in await course_lessons(session, module.course_id)}
    foreign = [lesson_id for lesson_id in lesson_ids if lesson_id not in course_lesson_ids]
    if foreign or len(set(lesson_ids)) != len(lesson_ids):
        raise AuthoringError(
            "The new order names lessons that are not in this course (or names one twice). "
            "Reload the page and try again.",
            status=400,
        )
    in_module = set(await session.scalars(select(Lesson.id).where(Lesson.module_id == module.id)))
    missing = in_module - set(lesson_ids)
    if missing:
        raise AuthoringError(
            "The new order leaves out lessons of this module. Reload the page and try again."
        )
    for position, lesson_id in enumerate(lesson_ids):
        await session.execute(
            update(Lesson)
            .where(Lesson.id == lesson_id)
            .values(position=position, module_id=module.id)
        )


def _check_same_set(current: set[int], given: Sequence[int], what: str) -> None:
    if set(given) != current or len(given) != len(current):
        raise AuthoringError(
            f"The new order must name exactly the {what}, each once. Reload the page and try again."
        )


async def publish_notebook(
    session: AsyncSession, lesson: Lesson, data: bytes, author: Account, max_bytes: int
) -> LessonVersion:
    """Keep ``data`` as the lesson's newest version; students see it from now on."""
    if lesson.kind is not LessonKind.NOTEBOOK:
        raise AuthoringError("Only notebook lessons take notebooks.", status=409)
    try:
        notebook = notebooks.read_notebook(data, max_bytes)
    except notebooks.NotebookError as error:
        raise AuthoringError(str(error), status=413 if "limit is" in str(error) else 400) from None
    number = await session.scalar(
        select(func.coalesce(func.max(LessonVersion.number) + 1, 1)).where(
            LessonVersion.lesson_id == lesson.id
        )
    )
    version = LessonVersion(
        lesson_id=lesson.id,
        number=number or 1,
        notebook=notebook,
        plain_text=notebooks.plain_text(notebook),
        sha256=notebooks.digest(notebook),
        created_by_id=author.id,
    )
    session.add(version)
    await session.flush()
    lesson.published_version_id = version.id
    module = await session.get_one(Module, lesson.module_id)
    await session.flush()
    await refresh_search_document(session, module.course_id)
    return version


_SEARCH_DOCUMENT = text(
    """
    UPDATE courses SET search_document =
        setweight(to_tsvector('english', courses.title), 'A')
        || setweight(to_tsvector('english', coalesce(courses.summary, '')), 'B')
        || setweight(to_tsvector('english', coalesce(courses.description, '')), 'B')
        || setweight(to_tsvector('english', coalesce((
            SELECT string_agg(lessons.title || ' ' || coalesce(lesson_versions.plain_text, '')
                              || ' ' || lessons.text_markdown, ' ')
            FROM lessons
            JOIN modules ON modules.id = lessons.module_id
            LEFT JOIN lesson_versions ON lesson_versions.id = lessons.published_version_id
            WHERE modules.course_id = courses.id), '')), 'C')
    WHERE courses.id = :course_id
    """
)


async def refresh_search_document(session: AsyncSession, course_id: int) -> None:
    await session.execute(_SEARCH_DOCUMENT, {"course_id": course_id})
