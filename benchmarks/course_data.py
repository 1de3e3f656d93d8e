"""The benchmark's course data: one instructor, a few published courses, one enrolled student."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.models import Account, Course, CourseStatus, Enrollment
from coursehub.services.settings import sqlalchemy_url


@dataclass(frozen=True)
class Student:
    username: str
    email: str
    password: str
    course_count: int


def add_enrolled_student(database_url: str, courses: int = 4) -> Student:
    """A STUDENT enrolled in ``courses`` published courses (plus one course not taken)."""
    suffix = secrets.token_hex(3)
    password = f"bench passphrase {secrets.token_hex(8)}"
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with Session(engine) as session:
            instructor = Account(
                username=f"bench-instructor-{suffix}",
                email=f"bench-instructor-{suffix}@coursehub.example",
                name="Benchmark Instructor",
                password_hash=hash_password(secrets.token_urlsafe(16)),
                role=Role.INSTRUCTOR,
            )
            student = Account(
                username=f"bench-student-{suffix}",
                email=f"bench-student-{suffix}@coursehub.example",
                name="Benchmark Student",
                password_hash=hash_password(password),
                role=Role.STUDENT,
            )
            session.add_all([instructor, student])
            session.flush()
            catalog = [
                Course(
                    slug=f"bench-course-{number}-{suffix}",
                    title=f"Benchmark course {number}",
                    summary=f"Course {number} of the benchmark catalog.",
                    description="Lessons and assessments as notebooks.",
                    status=CourseStatus.PUBLISHED,
                    instructor_id=instructor.id,
                )
                for number in range(1, courses + 2)
            ]
            session.add_all(catalog)
            session.flush()
            start = datetime.now(UTC) - timedelta(days=30)
            session.add_all(
                Enrollment(
                    account_id=student.id,
                    course_id=course.id,
                    enrolled_at=start + timedelta(days=index),
                    progress=round(index / courses, 2),
                )
                for index, course in enumerate(catalog[:courses])
            )
            session.commit()
            return Student(
                username=student.username,
                email=student.email or "",
                password=password,
                course_count=courses,
            )
    finally:
        engine.dispose()
