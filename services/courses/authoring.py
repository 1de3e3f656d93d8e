"""Instructors' side of courses: courses, modules and lessons, ordering, and lesson versions.

Functions take an ``AsyncSession`` and leave committing to the caller. Problems a person can
fix raise ``AuthoringError`` with a sentence to show and the HTTP status to answer with.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from coursehub.hub.constants import Role
from coursehub.services.content import notebooks, uploads
from coursehub.services.courses import review_gate
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Account,
    Category,
    Course,
    CourseStatus,
    Enrollment,
    Lesson,
    LessonKind,
    LessonVersion,
    Module,
    utcnow,
)
from coursehub.services.notifications import notification_events

MAX_TITLE = 200


class AuthoringError(Refusal):
    """A refusal about authorings; the message says what to do instead."""


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
    if str(fields.get("slug") or "").strip():
        # An address the instructor typed is theirs to choose: a clash is reported, not renamed.
        course.slug = await free_slug(session, str(fields["slug"]))
    else:
        course.slug = await unique_slug(session, slugify(title))
    await check_category(session, fields)
    if _publishing(course, fields):
        await review_gate.check_publish(session, course)
    apply_course_fields(course, fields)
    session.add(course)
    await _flush_course(session, course)
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
        course.category_id = category_id_of(fields["category_id"])
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
        course.slug = await free_slug(session, str(fields["slug"]), course.id)
    await check_category(session, fields)
    if _publishing(course, fields):
        await review_gate.check_publish(session, course)
    apply_course_fields(course, fields)
    await _flush_course(session, course)
    await refresh_search_document(session, course.id)
    return course


def _publishing(course: Course, fields: dict[str, Any]) -> bool:
    """Whether ``fields`` publish a course that is not published yet."""
    return (
        str(fields.get("status", "")) == CourseStatus.PUBLISHED
        and course.status != CourseStatus.PUBLISHED
    )


async def free_slug(session: AsyncSession, raw: str, course_id: int | None = None) -> str:
    """``raw`` as a course address, if no other course has it (else a 409 that says so)."""
    wanted = slugify(raw)
    clash = await session.scalar(
        select(Course.id).where(Course.slug == wanted, Course.id != (course_id or 0))
    )
    if clash is not None:
        raise _slug_taken(wanted)
    return wanted


def _slug_taken(slug: str) -> AuthoringError:
    return AuthoringError(
        f"The address {slug!r} is taken by another course; choose another.",
        status=409,
        field="slug",
    )


async def _flush_course(session: AsyncSession, course: Course) -> None:
    try:
        await session.flush()
    except IntegrityError:  # another course took the address in the same instant
        raise _slug_taken(course.slug) from None


def category_id_of(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AuthoringError("Choose a category from the list.", field="category") from None


async def check_category(session: AsyncSession, fields: dict[str, Any]) -> None:
    category_id = category_id_of(fields.get("category_id"))
    if category_id is not None and await session.get(Category, category_id) is None:
        raise AuthoringError(
            "That category no longer exists; reload the page and choose another.",
            field="category",
        )


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


async def lessons_of_kind(
    session: AsyncSession, course_id: int, kind: LessonKind
) -> list[tuple[Lesson, str]]:
    """The course's lessons of one kind (quiz or assignment places) in syllabus order, each
    with its module's title: what the pickers of quizzes and assignments offer."""
    rows = await session.execute(
        select(Lesson, Module.title)
        .join(Module, Lesson.module_id == Module.id)
        .where(Module.course_id == course_id, Lesson.kind == kind)
        .order_by(Module.position, Module.id, Lesson.position, Lesson.id)
    )
    return [(lesson, module_title) for lesson, module_title in rows]


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
    return await _keep_version(session, lesson, _read_notebook(data, max_bytes), author)


def _read_notebook(data: bytes, max_bytes: int) -> dict[str, Any]:
    try:
        return notebooks.read_notebook(data, max_bytes)
    except notebooks.NotebookError as error:
        raise AuthoringError(str(error), status=413 if "limit is" in str(error) else 400) from None


async def _keep_version(
    session: AsyncSession, lesson: Lesson, notebook: dict[str, Any], author: Account
) -> LessonVersion:
    # One publisher at a time per lesson, so two uploads cannot both become version N.
    await session.execute(select(Lesson.id).where(Lesson.id == lesson.id).with_for_update())
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
    await notification_events.lesson_published(session, lesson, version)
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


# -- teaching pages: versions, prices, deleting, editing modules and lessons --------------------


async def publish_notebook_version(
    session: AsyncSession, lesson: Lesson, data: bytes, author: Account, max_bytes: int
) -> tuple[LessonVersion, bool]:
    """Like ``publish_notebook``, but the same notebook as the newest version is not kept
    twice: returns that version and ``False`` instead (a repeated "Publish" is harmless)."""
    if lesson.kind is not LessonKind.NOTEBOOK:
        raise AuthoringError(
            "Only notebook lessons take notebooks; this one is a "
            f"{lesson.kind.value.lower()} lesson.",
            status=409,
        )
    # Parsing and validating a large notebook takes a while; keep the event loop free.
    notebook = await asyncio.to_thread(_read_notebook, data, max_bytes)
    newest = await session.scalar(
        select(LessonVersion)
        .where(LessonVersion.lesson_id == lesson.id)
        .order_by(LessonVersion.number.desc())
        .limit(1)
    )
    if newest is not None and newest.sha256 == notebooks.digest(notebook):
        lesson.published_version_id = newest.id
        await session.flush()
        return newest, False
    return await _keep_version(session, lesson, notebook, author), True


async def lesson_versions(session: AsyncSession, lesson_id: int) -> list[LessonVersion]:
    """The lesson's kept versions, newest first, without their (large) notebooks."""
    return list(
        await session.scalars(
            select(LessonVersion)
            .options(defer(LessonVersion.notebook), defer(LessonVersion.plain_text))
            .where(LessonVersion.lesson_id == lesson_id)
            .order_by(LessonVersion.number.desc())
        )
    )


async def version_by_number(session: AsyncSession, lesson_id: int, number: int) -> LessonVersion:
    version = await session.scalar(
        select(LessonVersion).where(
            LessonVersion.lesson_id == lesson_id, LessonVersion.number == number
        )
    )
    if version is None:
        raise AuthoringError(f"This lesson has no version {number}.", status=404)
    return version


_PRICE = re.compile(r"^(\d{1,7})(?:[.,](\d{1,2}))?$")


def parse_price(raw: str) -> int:
    """A price typed in a form ("12", "12.5", "12.50"; empty is free) as whole cents."""
    text_price = raw.strip().lstrip("$€£").strip()
    if not text_price:
        return 0
    match = _PRICE.match(text_price)
    if match is None:
        raise AuthoringError(
            "Write the price as a number such as 0, 19 or 19.99 (0 means free).", field="price"
        )
    whole, fraction = match.groups()
    return int(whole) * 100 + int((fraction or "0").ljust(2, "0"))


async def set_thumbnail(
    session: AsyncSession, account: Account, course: Course, upload_id: Any
) -> None:
    """Show the thumbnail ``account`` uploaded (or none, for an empty id) on ``course``."""
    if upload_id in (None, ""):
        course.thumbnail_upload_id = None
        return
    try:
        upload = await uploads.upload_for_attaching(session, account, upload_id, uploads.THUMBNAIL)
    except uploads.UploadError as error:
        raise AuthoringError(error.message, error.status, field="thumbnail") from None
    course.thumbnail_upload_id = upload.id
    course.updated_at = utcnow()


async def delete_course(session: AsyncSession, course: Course) -> None:
    """Delete a course nobody is enrolled in; with students, archiving keeps their work."""
    students = await session.scalar(
        select(func.count()).select_from(Enrollment).where(Enrollment.course_id == course.id)
    )
    if students:
        raise AuthoringError(
            f"{students} student{'s are' if students != 1 else ' is'} enrolled in this course, "
            "so deleting it would delete their progress. Archive the course instead.",
            status=409,
        )
    await session.execute(delete(Course).where(Course.id == course.id))


async def update_module(session: AsyncSession, module: Module, fields: dict[str, Any]) -> Module:
    if "title" in fields:
        module.title = clean_title(str(fields["title"]), "module title")
    if "description" in fields:
        module.description = str(fields["description"])
    await session.flush()
    return module


async def delete_module(session: AsyncSession, module: Module) -> None:
    """Delete a module with its lessons (and their versions and progress)."""
    await session.execute(delete(Module).where(Module.id == module.id))
    await refresh_search_document(session, module.course_id)


async def update_lesson(
    session: AsyncSession, account: Account, lesson: Lesson, fields: dict[str, Any]
) -> Lesson:
    apply_lesson_fields(lesson, fields)
    if "duration_seconds" in fields:
        lesson.duration_seconds = _duration(fields["duration_seconds"])
    if "video_upload_id" in fields:
        if lesson.kind is not LessonKind.VIDEO and fields["video_upload_id"] not in (None, ""):
            raise AuthoringError("Only video lessons show a video.", status=409, field="video")
        await _set_video(session, account, lesson, fields["video_upload_id"])
    module = await session.get_one(Module, lesson.module_id)
    await session.flush()
    await refresh_search_document(session, module.course_id)
    return lesson


def _duration(raw: Any) -> int | None:
    if raw in (None, ""):
        return None
    try:
        seconds = int(raw)
    except (TypeError, ValueError):
        seconds = -1
    if not 0 <= seconds <= 24 * 3600:
        raise AuthoringError(
            "The duration is a whole number of seconds, at most one day.", field="duration"
        )
    return seconds


async def _set_video(
    session: AsyncSession, account: Account, lesson: Lesson, upload_id: Any
) -> None:
    if upload_id in (None, ""):
        lesson.video_upload_id = None
        return
    try:
        upload = await uploads.upload_for_attaching(session, account, upload_id, uploads.VIDEO)
    except uploads.UploadError as error:
        raise AuthoringError(error.message, error.status, field="video") from None
    lesson.video_upload_id = upload.id


async def delete_lesson(session: AsyncSession, lesson: Lesson) -> None:
    """Delete a lesson with its versions and its students' progress on it."""
    module = await session.get_one(Module, lesson.module_id)
    await session.execute(delete(Lesson).where(Lesson.id == lesson.id))
    await refresh_search_document(session, module.course_id)


@dataclass(frozen=True)
class ModuleOutline:
    module: Module
    lessons: list[Lesson]


@dataclass(frozen=True)
class CourseOutline:
    """A course's modules and lessons in order, with each lesson's published version number."""

    modules: list[ModuleOutline]
    published_numbers: dict[int, int]

    def lessons(self) -> list[Lesson]:
        return [lesson for part in self.modules for lesson in part.lessons]


async def course_outline(session: AsyncSession, course_id: int) -> CourseOutline:
    modules = await course_modules(session, course_id)
    by_module: dict[int, list[Lesson]] = {module.id: [] for module in modules}
    for lesson in await course_lessons(session, course_id):
        by_module[lesson.module_id].append(lesson)
    numbers = await session.execute(
        select(Lesson.id, LessonVersion.number)
        .join(LessonVersion, LessonVersion.id == Lesson.published_version_id)
        .join(Module, Module.id == Lesson.module_id)
        .where(Module.course_id == course_id)
    )
    return CourseOutline(
        modules=[ModuleOutline(module, by_module[module.id]) for module in modules],
        published_numbers={lesson_id: number for lesson_id, number in numbers},
    )


async def version_authors(
    session: AsyncSession, versions: Sequence[LessonVersion]
) -> dict[int, str]:
    """Who published each version (user names), by version id."""
    author_ids = {version.created_by_id for version in versions if version.created_by_id}
    names = dict(
        (
            await session.execute(
                select(Account.id, Account.username).where(Account.id.in_(author_ids))
            )
        ).all()
    )
    return {
        version.id: names[version.created_by_id]
        for version in versions
        if version.created_by_id in names
    }


async def course_of_lesson(session: AsyncSession, lesson: Lesson) -> Course:
    module = await session.get_one(Module, lesson.module_id)
    return await session.get_one(Course, module.course_id)
