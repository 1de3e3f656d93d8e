"""Demo data: the demo course from ``course_content/`` and one account per role.

Each course folder's ``course.toml`` names the course and lists what it holds, and the seed
makes each thing with the same domain functions the pages and the API use:

- ``modules``: modules and their notebook lessons; every notebook is published as a lesson
  version, so the catalog's search finds words inside the lessons;
- ``data``: the course's data folder (``data/weather.csv``), published to the course's files,
  which every lesson kernel sees read-only beside its lesson;
- ``assignments``: nbgrader source notebooks (with their data files), made into assignments as
  an upload is, released, and placed in the syllabus as assignment lessons;
- ``quizzes``: quiz notebooks, imported, published and placed in the syllabus as quiz lessons;
- ``announcements`` and ``threads``: what the instructor (and the demo student) wrote.

Seeding is idempotent: a second run finds what the first made and changes nothing, except
that it prints the demo logins again (their passwords are kept in the data directory). An
edited lesson notebook becomes the lesson's next version and an edited assignment source
replaces the assignment's source, as an instructor's upload would.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from coursehub.hub.constants import SERVICE_PREFIX, Role
from coursehub.services.accounts import accounts
from coursehub.services.assessment import assignments
from coursehub.services.community import announcements, forums
from coursehub.services.content import notebooks
from coursehub.services.courses import authoring
from coursehub.services.lessons import lesson_files
from coursehub.services.models import (
    Account,
    Announcement,
    Assignment,
    Course,
    CourseStatus,
    Enrollment,
    ForumThread,
    Lesson,
    LessonKind,
    LessonVersion,
    Module,
    Quiz,
    utcnow,
)
from coursehub.services.notebook_runs import source_check_records
from coursehub.services.quizzes import quiz_notebooks, quizzes

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


def course_meta(course_dir: Path) -> dict[str, Any]:
    return tomllib.loads((course_dir / "course.toml").read_text())


async def seed_course(session: AsyncSession, course_dir: Path, instructor: Account) -> Course:
    meta = course_meta(course_dir)
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
    await seed_lessons(
        session,
        course,
        course_dir,
        meta.get("modules", []),
        instructor,
        show_code=bool(meta.get("show_code", False)),
    )
    await authoring.refresh_search_document(session, course.id)
    return course


async def seed_lessons(
    session: AsyncSession,
    course: Course,
    course_dir: Path,
    listed_modules: list[dict[str, Any]],
    instructor: Account,
    *,
    show_code: bool = False,
) -> None:
    """Modules and notebook lessons as ``course.toml`` lists them; each notebook is published
    as a version of its lesson unless that version is already the newest (so seeding twice
    changes nothing, and an edited notebook becomes the next version). ``show_code``: the
    lessons' "show code cells" setting, given to a new lesson and with each new version (in
    between, the instructor's choice in the lesson editor stands)."""
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
                lesson.show_code = show_code


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


# -- assessments --------------------------------------------------------------------------------


async def assessment_lesson(
    session: AsyncSession, course: Course, module_title: str, title: str, kind: LessonKind
) -> Lesson:
    """The syllabus place of an assignment or quiz: a lesson of ``kind`` titled as it is, at
    the end of the module ``module_title`` (made when missing)."""
    module = await session.scalar(
        select(Module).where(Module.course_id == course.id, Module.title == module_title)
    )
    if module is None:
        module = await authoring.add_module(session, course, module_title)
    lesson = await session.scalar(
        select(Lesson).where(Lesson.module_id == module.id, Lesson.title == title)
    )
    if lesson is None:
        lesson = await authoring.add_lesson(session, module, {"title": title, "kind": kind.value})
    return lesson


async def seed_assignment(
    session: AsyncSession,
    course: Course,
    course_dir: Path,
    listed: dict[str, Any],
    instructor: Account,
    data_dir: Path,
) -> Assignment:
    """An nbgrader source notebook and its data files made into a released assignment, as an
    instructor's upload is; an edited source replaces the stored one."""
    title = listed["title"]
    data = (course_dir / listed["source"]).read_bytes()
    files = {name: (course_dir / name).read_bytes() for name in listed.get("files", [])}
    hidden = (str(data_dir),)
    limit = notebooks.DEFAULT_MAX_NOTEBOOK_BYTES
    assignment = await session.scalar(
        select(Assignment).where(Assignment.course_id == course.id, Assignment.title == title)
    )
    if assignment is not None:
        if assignment.source_sha256 != hashlib.sha256(data).hexdigest():
            await assignments.replace_source(
                session, assignment, data, max_bytes=limit, files=files, hidden=hidden
            )
            await source_check_records.queue_check(session, assignment)
        return assignment
    lesson = await assessment_lesson(
        session, course, listed["module"], title, LessonKind.ASSIGNMENT
    )
    assignment = await assignments.create_assignment(
        session,
        course,
        instructor,
        data,
        title=title,
        lesson_id=lesson.id,
        max_bytes=limit,
        files=files,
        hidden=hidden,
    )
    fields: dict[str, Any] = {"release": True}
    if listed.get("due_in_days"):
        fields["due_at"] = (utcnow() + timedelta(days=listed["due_in_days"])).isoformat()
    if listed.get("max_attempts"):
        fields["max_attempts"] = listed["max_attempts"]
    await assignments.update_settings(session, assignment, fields)
    # checked as an upload is: the solution passes its tests, the released version fails
    await source_check_records.queue_check(session, assignment)
    return assignment


async def seed_quiz(
    session: AsyncSession,
    course: Course,
    course_dir: Path,
    listed: dict[str, Any],
    instructor: Account,
) -> Quiz:
    """A quiz notebook imported into the course's bank and a quiz, published, with its quiz
    lesson in the syllabus."""
    data = (course_dir / listed["source"]).read_bytes()
    settings = json.loads(data).get("metadata", {}).get("coursehub", {}).get("quiz", {})
    title = listed.get("title") or settings.get("title") or Path(listed["source"]).stem
    quiz = await session.scalar(
        select(Quiz).where(Quiz.course_id == course.id, Quiz.title == title)
    )
    if quiz is not None:
        return quiz
    lesson = await assessment_lesson(session, course, listed["module"], title, LessonKind.QUIZ)
    quiz = await quiz_notebooks.import_quiz(session, course, instructor, data, title=title)
    await quizzes.update_settings(session, quiz, {"published": True, "lesson_id": lesson.id})
    return quiz


# -- announcements and discussion ---------------------------------------------------------------


async def seed_announcement(
    session: AsyncSession, course: Course, listed: dict[str, Any], author: Account
) -> None:
    """An announcement by ``author``; each enrolled student is notified as when it is posted."""
    fields = announcements.checked_fields(
        {
            "title": listed["title"],
            "body": listed["body"].strip(),
            "is_pinned": bool(listed.get("pinned", False)),
        },
        creating=True,
    )
    exists = await session.scalar(
        select(Announcement.id).where(
            Announcement.course_id == course.id, Announcement.title == fields["title"]
        )
    )
    if exists is None:
        member = await forums.member_of(session, author, course.slug)
        await announcements.post_announcement(session, SERVICE_PREFIX, member, fields)


async def seed_thread(
    session: AsyncSession, course: Course, listed: dict[str, Any], people: dict[str, Account]
) -> None:
    """A thread of the course's general forum with its replies, each by its demo person."""
    title = forums.checked_title(listed["title"])
    exists = await session.scalar(
        select(ForumThread.id).where(ForumThread.course_id == course.id, ForumThread.title == title)
    )
    if exists is not None:
        return
    author = await forums.member_of(session, people[listed["author"]], course.slug)
    body = forums.checked_body(listed["body"].strip())
    thread, _ = await forums.start_thread(session, author, None, title, body)
    for answer in listed.get("replies", []):
        member = await forums.member_of(session, people[answer["author"]], course.slug)
        await forums.reply(session, member, thread, None, forums.checked_body(answer["body"]))


# -- all of it ----------------------------------------------------------------------------------


async def enroll(session: AsyncSession, student: Account, course: Course) -> None:
    enrolled = await session.scalar(
        select(Enrollment).where(
            Enrollment.account_id == student.id, Enrollment.course_id == course.id
        )
    )
    if enrolled is None:
        session.add(Enrollment(account_id=student.id, course_id=course.id))
        await session.flush()


async def seed_course_extras(
    session: AsyncSession,
    course: Course,
    course_dir: Path,
    people: dict[str, Account],
    data_dir: Path,
) -> None:
    """Everything of ``course.toml`` beyond the syllabus's notebook lessons."""
    meta = course_meta(course_dir)
    instructor = people["instructor"]
    if meta.get("data"):
        # Settings.course_files_dir: where the lesson server's kernels find a course's files.
        lesson_files.publish_course_data(
            data_dir / "course-files", course.id, course_dir / meta["data"]
        )
    for listed in meta.get("assignments", []):
        await seed_assignment(session, course, course_dir, listed, instructor, data_dir)
    for listed in meta.get("quizzes", []):
        await seed_quiz(session, course, course_dir, listed, instructor)
    for listed in meta.get("announcements", []):
        await seed_announcement(session, course, listed, instructor)
    for listed in meta.get("threads", []):
        await seed_thread(session, course, listed, people)
    await authoring.refresh_search_document(session, course.id)


async def seed_demo(session: AsyncSession, data_dir: Path) -> list[DemoLogin]:
    logins = await seed_demo_people(session, data_dir)
    instructor = await accounts.find_by_email(session, "instructor@coursehub.example")
    student = await accounts.find_by_email(session, "student@coursehub.example")
    assert instructor is not None and student is not None
    for course_dir in sorted(p.parent for p in CONTENT_DIR.glob("*/course.toml")):
        course = await seed_course(session, course_dir, instructor)
        await enroll(session, student, course)
        # The course's own instructor writes its assessments and announcements (the demo
        # instructor, unless the course was there before the demo people).
        teacher = await session.get_one(Account, course.instructor_id)
        people = {"instructor": teacher, "student": student}
        await seed_course_extras(session, course, course_dir, people, data_dir)
    return logins
