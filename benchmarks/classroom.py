"""A class for the lesson benchmarks: an instructor's published course with one published
notebook lesson, and enrolled students who all share one password (one argon2 hash: it is
slow on purpose). Written straight into the benchmark platform's database."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import httpx
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.content.notebooks import digest, plain_text
from coursehub.services.models import (
    Account,
    Course,
    CourseStatus,
    Enrollment,
    Lesson,
    LessonKind,
    LessonVersion,
    Module,
)
from coursehub.services.settings import sqlalchemy_url


@dataclass(frozen=True)
class ClassRoom:
    course_id: int
    course_slug: str
    lesson_id: int
    students: list[tuple[str, str]]  # (username, email)
    password: str

    @property
    def emails(self) -> list[str]:
        return [email for _, email in self.students]


@dataclass(frozen=True)
class LessonPlan:
    """What the class learns: the course and lesson titles, and the lesson's notebook."""

    course_title: str
    module_title: str
    lesson_title: str
    notebook: dict


def add_class(database_url: str, size: int, plan: LessonPlan, stem: str) -> ClassRoom:
    """``size`` students enrolled in a new published course teaching ``plan``; accounts and
    the course slug are named after ``stem``."""
    suffix = secrets.token_hex(3)
    password = f"{stem} {secrets.token_hex(8)}"
    password_hash = hash_password(password)
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with Session(engine) as session:
            instructor = Account(
                username=f"{stem}-instructor-{suffix}",
                email=f"{stem}-instructor-{suffix}@coursehub.example",
                password_hash=password_hash,
                role=Role.INSTRUCTOR,
            )
            students = [
                Account(
                    username=f"{stem}-student-{number:02d}-{suffix}",
                    email=f"{stem}-student-{number:02d}-{suffix}@coursehub.example",
                    password_hash=password_hash,
                    role=Role.STUDENT,
                )
                for number in range(1, size + 1)
            ]
            session.add_all([instructor, *students])
            session.flush()
            course = Course(
                slug=f"{stem}-{suffix}",
                title=plan.course_title,
                status=CourseStatus.PUBLISHED,
                instructor_id=instructor.id,
            )
            session.add(course)
            session.flush()
            module = Module(course_id=course.id, title=plan.module_title)
            session.add(module)
            session.flush()
            lesson = Lesson(module_id=module.id, title=plan.lesson_title, kind=LessonKind.NOTEBOOK)
            session.add(lesson)
            session.flush()
            version = LessonVersion(
                lesson_id=lesson.id,
                number=1,
                notebook=plan.notebook,
                plain_text=plain_text(plan.notebook),
                sha256=digest(plan.notebook),
                created_by_id=instructor.id,
            )
            session.add(version)
            session.flush()
            lesson.published_version_id = version.id
            session.add_all(Enrollment(account_id=s.id, course_id=course.id) for s in students)
            session.commit()
            return ClassRoom(
                course_id=course.id,
                course_slug=course.slug,
                lesson_id=lesson.id,
                students=[(s.username, s.email or "") for s in students],
                password=password,
            )
    finally:
        engine.dispose()


def hub_sign_in_form(page: httpx.Response) -> str:
    """The XSRF value of the hub's sign-in form."""
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert xsrf, "the sign-in page has no XSRF field"
    return xsrf.group(1)


def signed_in_or_fail(answer: httpx.Response, email: str, landing: str = "") -> None:
    """Raise unless the sign-in ``answer`` landed, after redirects, past the sign-in form (and
    on a path containing ``landing``)."""
    if (
        answer.status_code != 200
        or "/hub/login" in answer.url.path
        or landing not in answer.url.path
    ):
        raise RuntimeError(f"{email} could not sign in: {answer.status_code} {answer.url}")
