"""Lessons seen from JupyterLab: which notebook lessons a person may publish to, which lessons
they may open in their own JupyterLab, and the copy of a lesson that lands in their home.

Functions take an ``AsyncSession`` and change nothing. Refusals raise ``LabAccessError`` with
the HTTP status to answer and a sentence that says what to do next.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services.courses.membership import MANAGERS, membership, place_of
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Account,
    Course,
    CourseStatus,
    Lesson,
    LessonKind,
    LessonVersion,
    Module,
)

# Where lesson copies go in a person's home: ~/courses/<course slug>/<lesson file>.
COURSES_FOLDER = "courses"


class LabAccessError(Refusal):
    """A refusal about labaccesss; the message says what to do instead."""


@dataclass(frozen=True)
class OpenableLesson:
    """A lesson someone may open in JupyterLab, with where its copy goes in their home."""

    lesson: Lesson
    course: Course
    file_name: str

    @property
    def path(self) -> str:
        return f"{COURSES_FOLDER}/{self.course.slug}/{self.file_name}"


def may_manage(account: Account, course: Course) -> bool:
    return place_of(account, course) in MANAGERS


async def publish_targets(session: AsyncSession, account: Account) -> list[dict[str, Any]]:
    """The notebook lessons of every course ``account`` may change, in syllabus order."""
    if not account.role.at_least(Role.INSTRUCTOR):
        return []
    query = (
        select(Lesson, Module.title, Course.title, Course.slug, LessonVersion.number)
        .join(Module, Lesson.module_id == Module.id)
        .join(Course, Module.course_id == Course.id)
        .outerjoin(LessonVersion, LessonVersion.id == Lesson.published_version_id)
        .where(Lesson.kind == LessonKind.NOTEBOOK)
        .order_by(Course.title, Course.id, Module.position, Module.id, Lesson.position, Lesson.id)
    )
    if account.role is not Role.ADMIN:
        query = query.where(Course.instructor_id == account.id)
    rows = await session.execute(query)
    return [
        {
            "id": lesson.id,
            "title": lesson.title,
            "module_title": module_title,
            "course_title": course_title,
            "course_slug": course_slug,
            "version": version,
        }
        for lesson, module_title, course_title, course_slug, version in rows
    ]


async def openable_lesson(
    session: AsyncSession, account: Account, lesson_id: int
) -> OpenableLesson:
    """The lesson, if ``account`` may open it in JupyterLab: staff of its course, students
    enrolled in it, and anyone for a preview lesson of a published course."""
    found = (
        await session.execute(
            select(Lesson, Course)
            .join(Module, Lesson.module_id == Module.id)
            .join(Course, Module.course_id == Course.id)
            .where(Lesson.id == lesson_id)
        )
    ).first()
    if found is None:
        raise LabAccessError("There is no such lesson; it may have been removed.", 404)
    lesson, course = found
    if not may_manage(account, course) and not await _may_learn(session, account, lesson, course):
        raise LabAccessError(f"Enroll in “{course.title}” to open its lessons in JupyterLab.", 403)
    if lesson.kind is not LessonKind.NOTEBOOK:
        raise LabAccessError(
            "This lesson is not a notebook, so there is nothing to open in JupyterLab; "
            "open it in the course player instead.",
            409,
        )
    if lesson.published_version_id is None:
        raise LabAccessError(
            "This lesson has no published notebook yet. Ask your instructor to publish it.", 409
        )
    return OpenableLesson(lesson, course, await _file_name(session, lesson, course))


async def lesson_copy(session: AsyncSession, account: Account, lesson_id: int) -> dict[str, Any]:
    """What a person's notebook server needs to place the lesson's newest published notebook."""
    openable = await openable_lesson(session, account, lesson_id)
    version = await session.get_one(LessonVersion, openable.lesson.published_version_id)
    return {
        "lesson_id": openable.lesson.id,
        "lesson_title": openable.lesson.title,
        "course_slug": openable.course.slug,
        "course_title": openable.course.title,
        "folder": f"{COURSES_FOLDER}/{openable.course.slug}",
        "file_name": openable.file_name,
        "version": version.number,
        "notebook": version.notebook,
    }


async def _may_learn(
    session: AsyncSession, account: Account, lesson: Lesson, course: Course
) -> bool:
    if lesson.is_preview and course.status is CourseStatus.PUBLISHED:
        return True
    return (await membership(session, account, course)).enrolled


def file_stem(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].strip("-") or "lesson"


async def _file_name(session: AsyncSession, lesson: Lesson, course: Course) -> str:
    """``<lesson title>.ipynb``; a lesson whose title an earlier lesson of the course already
    gives its name gets ``-<lesson id>`` added, so two lessons never share one file."""
    stem = file_stem(lesson.title)
    earlier_titles = await session.scalars(
        select(Lesson.title)
        .join(Module, Lesson.module_id == Module.id)
        .where(
            Module.course_id == course.id,
            Lesson.kind == LessonKind.NOTEBOOK,
            Lesson.id < lesson.id,
        )
    )
    if any(file_stem(title) == stem for title in earlier_titles):
        stem = f"{stem}-{lesson.id}"
    return f"{stem}.ipynb"
