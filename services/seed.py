"""Demo data: the demo course from ``course_content/`` and one account per role.

Each course folder's ``course.toml`` names the course and lists its modules and their
notebook lessons; every notebook is published as a lesson version, so the catalog's search
finds words inside the lessons.

Seeding is idempotent: a second run finds what the first made and changes nothing, except
that it prints the demo logins again (their passwords are kept in the data directory).
"""

from __future__ import annotations

import json
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from coursehub.hub.constants import Role
from coursehub.services.accounts import accounts
from coursehub.services.content import notebooks
from coursehub.services.courses import authoring
from coursehub.services.models import (
    Account,
    Course,
    CourseStatus,
    Enrollment,
    Lesson,
    LessonKind,
    LessonVersion,
)

CONTENT_DIR = Path(__file__).resolve().parent.parent / "course_content"


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    email: str
    password: str


DEMO_PEOPLE = [
    (Role.ADMIN, "admin@coursehub.example", "Ada Admin"),
    (Role.INSTRUCTOR, "instructor@coursehub.example", "Ivan Instructor"),
    (Role.STUDENT, "student@coursehub.example", "Sam Student"),
]


def demo_passwords(data_dir: Path) -> dict[str, str]:
    """Random demo passwords, made once per data directory and kept there (mode 0600)."""
    path = data_dir / "demo-logins.json"
    if path.exists():
        return json.loads(path.read_text())
    passwords = {email: secrets.token_urlsafe(12) for _, email, _ in DEMO_PEOPLE}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(passwords, indent=2))
    return passwords


async def seed_demo_people(session: AsyncSession, data_dir: Path) -> list[DemoLogin]:
    passwords = demo_passwords(data_dir)
    logins = []
    for role, email, name in DEMO_PEOPLE:
        if await accounts.find_by_email(session, email) is None:
            await accounts.register(
                session, email=email, password=passwords[email], name=name, role=role
            )
        logins.append(DemoLogin(role, email, passwords[email]))
    return logins


async def seed_course(session: AsyncSession, course_dir: Path, instructor: Account) -> Course:
    meta = tomllib.loads((course_dir / "course.toml").read_text())
    course = await session.scalar(
        select(Course).where(Course.slug == meta["slug"]).options(defer(Course.search_document))
    )
    if course is None:
        course = Course(
            slug=meta["slug"],
            title=meta["title"],
            summary=meta.get("summary", ""),
            description=meta.get("description", ""),
            status=CourseStatus.PUBLISHED,
            instructor_id=instructor.id,
        )
        session.add(course)
        await session.flush()
    await seed_lessons(session, course, course_dir, meta.get("modules", []), instructor)
    await authoring.refresh_search_document(session, course.id)
    return course


async def seed_lessons(
    session: AsyncSession,
    course: Course,
    course_dir: Path,
    listed_modules: list[dict[str, Any]],
    instructor: Account,
) -> None:
    """Modules and notebook lessons as ``course.toml`` lists them; each notebook is published
    as a version of its lesson unless that version is already the newest (so seeding twice
    changes nothing, and an edited notebook becomes the next version)."""
    existing = {
        module.title: module for module in await authoring.course_modules(session, course.id)
    }
    first_lesson = not existing
    for listed in listed_modules:
        module = existing.get(listed["title"])
        if module is None:
            module = await authoring.add_module(session, course, listed["title"])
        lessons = {
            lesson.title: lesson
            for lesson in await session.scalars(select(Lesson).where(Lesson.module_id == module.id))
        }
        for file_name in listed.get("lessons", []):
            data = (course_dir / file_name).read_bytes()
            notebook = notebooks.read_notebook(data)
            title = lesson_title(notebook, file_name)
            lesson = lessons.get(title)
            if lesson is None:
                lesson = await authoring.add_lesson(
                    session,
                    module,
                    {"title": title, "kind": LessonKind.NOTEBOOK.value, "is_preview": first_lesson},
                )
            first_lesson = False
            if not await is_newest_version(session, lesson, notebooks.digest(notebook)):
                await authoring.publish_notebook(
                    session, lesson, data, instructor, notebooks.DEFAULT_MAX_NOTEBOOK_BYTES
                )


async def is_newest_version(session: AsyncSession, lesson: Lesson, sha256: str) -> bool:
    if lesson.published_version_id is None:
        return False
    published = await session.scalar(
        select(LessonVersion.sha256).where(LessonVersion.id == lesson.published_version_id)
    )
    return published == sha256


def lesson_title(notebook: dict[str, Any], file_name: str) -> str:
    """The notebook's first heading without its "Lesson 3 ·" numbering (the syllabus numbers
    lessons), else the file name: ``03-lists-and-loops.ipynb`` -> "Lists and loops"."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        for line in text.splitlines():
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
                heading = re.sub(r"^Lesson\s+\d+\s*[·:.\-\u2013\u2014]\s*", "", heading)
                if heading:
                    return heading[: authoring.MAX_TITLE]
    stem = re.sub(r"^\d+[-_ ]*", "", Path(file_name).stem).replace("-", " ").replace("_", " ")
    return (stem or Path(file_name).stem).capitalize()


async def seed_demo(session: AsyncSession, data_dir: Path) -> list[DemoLogin]:
    logins = await seed_demo_people(session, data_dir)
    instructor = await accounts.find_by_email(session, "instructor@coursehub.example")
    student = await accounts.find_by_email(session, "student@coursehub.example")
    assert instructor is not None and student is not None
    for course_dir in sorted(p.parent for p in CONTENT_DIR.glob("*/course.toml")):
        course = await seed_course(session, course_dir, instructor)
        enrolled = await session.scalar(
            select(Enrollment).where(
                Enrollment.account_id == student.id, Enrollment.course_id == course.id
            )
        )
        if enrolled is None:
            session.add(Enrollment(account_id=student.id, course_id=course.id))
    return logins
