"""Courses for the course-player tests, written straight into the test database (``db``).

A course is built from a list of lessons; notebook lessons get a published version, video
lessons an upload row. Enrollments are made as the catalog's "Enroll" button would.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.models import (
    Account,
    Course,
    CourseStatus,
    Enrollment,
    Lesson,
    LessonKind,
    LessonVersion,
    Module,
    Upload,
)
from tests.conftest import PASSWORD

REPO = Path(__file__).resolve().parent.parent
DEMO_COURSE = REPO / "course_content" / "python-for-data"
SLIDER_NOTEBOOK = DEMO_COURSE / "04-summarising-data.ipynb"


def notebook(*cells: str, markdown: str = "A notebook lesson.") -> dict[str, Any]:
    """A small nbformat-4 notebook: one markdown cell, then one code cell per source."""
    code = [
        {
            "cell_type": "code",
            "id": f"code-{index}",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": source,
        }
        for index, source in enumerate(cells)
    ]
    intro = {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": markdown}
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "cells": [intro, *code],
    }


@dataclass
class LessonSpec:
    title: str
    kind: LessonKind = LessonKind.TEXT
    preview: bool = False
    required: bool = True
    text: str = "Read this lesson to the end."
    notebook: dict[str, Any] | None = None  # NOTEBOOK lessons: the published version
    video: bool = False  # VIDEO lessons: an upload row to point the player at
    module: str = "Module one"


@dataclass
class BuiltCourse:
    id: int
    slug: str
    title: str
    lessons: dict[str, int] = field(default_factory=dict)  # title -> lesson id
    instructor_id: int = 0

    def url(self, service_url: str, title: str, suffix: str = "") -> str:
        return f"{service_url}/learn/{self.slug}/{self.lessons[title]}{suffix}"

    def api(self, service_url: str, title: str, action: str) -> str:
        return f"{service_url}/api/learn/{self.slug}/{self.lessons[title]}/{action}"


def build_course(
    db: Callable[[], Session],
    instructor: Account,
    lessons: list[LessonSpec],
    status: CourseStatus = CourseStatus.PUBLISHED,
) -> BuiltCourse:
    slug = f"player-{secrets.token_hex(4)}"
    with db() as session:
        course = Course(
            slug=slug, title=f"Course {slug}", status=status, instructor_id=instructor.id
        )
        session.add(course)
        session.flush()
        built = BuiltCourse(course.id, slug, course.title, instructor_id=instructor.id)
        modules: dict[str, Module] = {}
        for position, spec in enumerate(lessons):
            if spec.module not in modules:
                modules[spec.module] = Module(
                    course_id=course.id, title=spec.module, position=len(modules)
                )
                session.add(modules[spec.module])
                session.flush()
            lesson = Lesson(
                module_id=modules[spec.module].id,
                title=spec.title,
                kind=spec.kind,
                position=position,
                is_preview=spec.preview,
                is_required=spec.required,
                text_markdown=spec.text if spec.kind is LessonKind.TEXT else "",
            )
            session.add(lesson)
            session.flush()
            if spec.notebook is not None:
                _publish(session, lesson, spec.notebook, instructor)
            if spec.video:
                upload = Upload(
                    owner_id=instructor.id,
                    purpose="video",
                    content_type="video/mp4",
                    size=1,
                    storage_name=f"video-{secrets.token_hex(8)}.mp4",
                )
                session.add(upload)
                session.flush()
                lesson.video_upload_id = upload.id
                lesson.duration_seconds = 120
            built.lessons[spec.title] = lesson.id
        session.commit()
    return built


def _publish(session: Session, lesson: Lesson, content: dict[str, Any], author: Account) -> None:
    version = LessonVersion(
        lesson_id=lesson.id,
        number=1,
        notebook=content,
        plain_text="",
        sha256=hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest(),
        created_by_id=author.id,
    )
    session.add(version)
    session.flush()
    lesson.published_version_id = version.id


def new_account(db: Callable[[], Session], role: Role, stem: str, password: str) -> Account:
    """An account made outside a test function (for module-wide courses)."""
    name = f"{stem}-{secrets.token_hex(3)}"
    account = Account(
        username=name,
        email=f"{name}@coursehub.example",
        name=name.title(),
        password_hash=hash_password(password),
        role=role,
    )
    with db() as session:
        session.add(account)
        session.commit()
    return account


def enroll(db: Callable[[], Session], account: Account, course: BuiltCourse) -> None:
    with db() as session:
        session.add(Enrollment(account_id=account.id, course_id=course.id))
        session.commit()


def give_course_files(data_dir: Path, course: BuiltCourse, source: Path = DEMO_COURSE) -> None:
    """The course's data files (what an instructor uploads next to the notebooks)."""
    target = data_dir / "course-files" / str(course.id) / "data"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "data", target, dirs_exist_ok=True)


def slider_notebook() -> dict[str, Any]:
    return json.loads(SLIDER_NOTEBOOK.read_text())


def sign_in(page: Any, platform: Any, login: str, password: str = PASSWORD) -> None:
    """Sign in through the hub's form in a Playwright page."""
    page.goto(f"{platform.url}/hub/login")
    page.locator("#username_input").fill(login)
    page.locator("#password_input").fill(password)
    page.locator("#login_submit").click()
    page.wait_for_url(re.compile(r"/services/coursehub/"))


def xsrf_headers(http: httpx.Client, page: httpx.Response) -> dict[str, str]:
    """The X-XSRFToken header a page's script sends (the token is in the page)."""
    match = re.search(r'data-xsrf="([^"]+)"', page.text)
    token = match.group(1) if match else http.cookies.get("_xsrf", path="/services/coursehub/")
    assert token, f"no XSRF token on {page.url}"
    return {"X-XSRFToken": token}
