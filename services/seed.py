"""Demo data: the demo course from ``course_content/`` and one account per role.

Seeding is idempotent: a second run finds what the first made and changes nothing, except
that it prints the demo logins again (their passwords are kept in the data directory).
"""

from __future__ import annotations

import json
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services import accounts
from coursehub.services.models import Account, Course, CourseStatus, Enrollment

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
    course = await session.scalar(select(Course).where(Course.slug == meta["slug"]))
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
    return course


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
