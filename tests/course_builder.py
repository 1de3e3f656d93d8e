"""Arranging courses for the learning tests the way instructors make them: through
``coursehub.services.courses.authoring`` (so search documents are built as in production), plus
enrollments and lesson progress written as the course player would write them."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from coursehub.services.content.notebooks import DEFAULT_MAX_NOTEBOOK_BYTES
from coursehub.services.courses import authoring
from coursehub.services.models import (
    Account,
    Category,
    CourseStatus,
    Enrollment,
    LessonKind,
    LessonProgress,
)
from coursehub.services.settings import sqlalchemy_url

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end from a sync test, on a thread of its own: browser tests
    already run Playwright's event loop on the test's thread."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


def unique_word(stem: str = "quasar") -> str:
    """A word no other test's course contains, so searches see only this test's courses."""
    return f"{stem}{secrets.token_hex(4)}".replace("0", "o").replace("1", "l")


def notebook_bytes(markdown: str) -> bytes:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
            "cells": [
                {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": markdown},
                {
                    "cell_type": "code",
                    "id": "code",
                    "metadata": {},
                    "execution_count": None,
                    "outputs": [],
                    "source": "print('hello')",
                },
            ],
        }
    ).encode()


@dataclass
class LessonPlan:
    title: str
    kind: LessonKind = LessonKind.NOTEBOOK
    markdown: str = "A lesson."
    preview: bool = False
    required: bool = True
    publish: bool = True  # notebook lessons: publish a version


@dataclass
class BuiltCourse:
    id: int
    slug: str
    title: str
    lesson_ids: list[int] = field(default_factory=list)


DEFAULT_MODULES: dict[str, list[LessonPlan]] = {
    "Getting started": [LessonPlan("Welcome", preview=True), LessonPlan("First steps")],
    "Going further": [LessonPlan("Deeper"), LessonPlan("Quiz time", kind=LessonKind.QUIZ)],
}


async def _build(
    database_url: str,
    instructor_id: int,
    fields: dict[str, Any],
    modules: dict[str, list[LessonPlan]],
) -> BuiltCourse:
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            instructor = await session.get_one(Account, instructor_id)
            status = fields.pop("status", CourseStatus.PUBLISHED)
            course = await authoring.create_course(session, instructor, fields)
            built = BuiltCourse(course.id, course.slug, course.title)
            for module_title, lessons in modules.items():
                module = await authoring.add_module(session, course, module_title)
                for plan in lessons:
                    text = plan.markdown if plan.kind is not LessonKind.NOTEBOOK else ""
                    lesson = await authoring.add_lesson(
                        session,
                        module,
                        {
                            "title": plan.title,
                            "kind": plan.kind.value,
                            "is_preview": plan.preview,
                            "is_required": plan.required,
                            "text_markdown": text,
                        },
                    )
                    if plan.kind is LessonKind.NOTEBOOK and plan.publish:
                        await authoring.publish_notebook(
                            session,
                            lesson,
                            notebook_bytes(plan.markdown),
                            instructor,
                            DEFAULT_MAX_NOTEBOOK_BYTES,
                        )
                    built.lesson_ids.append(lesson.id)
            await authoring.update_course(session, course, {"status": status.value})
            await session.commit()
            return built
    finally:
        await engine.dispose()


def make_course(
    database_url: str,
    instructor: Account,
    *,
    title: str,
    modules: dict[str, list[LessonPlan]] | None = None,
    **fields: Any,
) -> BuiltCourse:
    """A course made through the authoring functions; PUBLISHED unless ``status`` says."""
    return run_async(
        _build(
            database_url,
            instructor.id,
            {"title": title, **fields},
            DEFAULT_MODULES if modules is None else modules,
        )
    )


async def _change(database_url: str, author_id: int, course_id: int, fields: dict) -> None:
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with AsyncSession(engine) as session:
            author = await session.get_one(Account, author_id)
            course = await authoring.course_for_editing(session, author, course_id)
            await authoring.update_course(session, course, fields)
            await session.commit()
    finally:
        await engine.dispose()


def change_course(database_url: str, author: Account, course: BuiltCourse, **fields: Any) -> None:
    """Change a course as its instructor does on the teaching pages (status, price, ...)."""
    run_async(_change(database_url, author.id, course.id, fields))


def make_category(db: Callable[[], Session], name: str) -> Category:
    slug = name.lower().replace(" ", "-")
    with db() as session:
        category = Category(name=name, slug=slug)
        session.add(category)
        session.commit()
        return category


def enroll(
    db: Callable[[], Session], account: Account, course: BuiltCourse, **columns: Any
) -> None:
    with db() as session:
        session.add(Enrollment(account_id=account.id, course_id=course.id, **columns))
        session.commit()


def complete_lessons(
    db: Callable[[], Session],
    account: Account,
    lesson_ids: list[int],
    start: datetime | None = None,
) -> None:
    """Mark lessons completed one hour apart, in the given order (as the player would)."""
    start = start or datetime.now(UTC) - timedelta(days=1)
    with db() as session:
        for index, lesson_id in enumerate(lesson_ids):
            session.add(
                LessonProgress(
                    account_id=account.id,
                    lesson_id=lesson_id,
                    completed_at=start + timedelta(hours=index),
                )
            )
        session.commit()


def enrollment_of(db: Callable[[], Session], account: Account, course: BuiltCourse):
    with db() as session:
        return session.scalar(
            select(Enrollment).where(
                Enrollment.account_id == account.id, Enrollment.course_id == course.id
            )
        )


def enrollment_count(db: Callable[[], Session], course: BuiltCourse) -> int:
    with db() as session:
        return len(
            list(session.scalars(select(Enrollment).where(Enrollment.course_id == course.id)))
        )
