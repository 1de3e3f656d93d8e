"""Small courses made straight in the database, for unit tests of the course service's rules
(no platform started): a course with its instructor, graders and enrolled students."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable

from sqlalchemy.orm import Session

from coursehub.services.models import (
    Account,
    Course,
    CourseGrader,
    CourseStatus,
    Enrollment,
    Lesson,
    LessonKind,
    Module,
)


def course_with(
    db: Callable[[], Session],
    instructor: Account,
    *,
    graders: Iterable[Account] = (),
    students: Iterable[Account] = (),
    status: CourseStatus = CourseStatus.PUBLISHED,
    title: str = "Cell Biology",
    **fields: object,
) -> Course:
    """A course of ``instructor`` with ``graders`` assigned and ``students`` enrolled."""
    with db() as session:
        course = Course(
            slug=f"course-{secrets.token_hex(4)}",
            title=title,
            instructor_id=instructor.id,
            status=status,
            **fields,
        )
        session.add(course)
        session.flush()
        session.add_all(CourseGrader(course_id=course.id, account_id=g.id) for g in graders)
        session.add_all(Enrollment(course_id=course.id, account_id=s.id) for s in students)
        session.commit()
        session.expunge(course)
        return course


def lessons_in(
    db: Callable[[], Session], course: Course, *kinds: LessonKind, optional: Iterable[int] = ()
) -> list[Lesson]:
    """Lessons of ``kinds`` in one module of ``course``, in order; the positions in
    ``optional`` are not required for completing the course."""
    skipped = set(optional)
    with db() as session:
        module = Module(course_id=course.id, title="Week 1")
        session.add(module)
        session.flush()
        made = [
            Lesson(
                module_id=module.id,
                title=f"{kind.value.title()} lesson {position + 1}",
                kind=kind,
                position=position,
                is_required=position not in skipped,
            )
            for position, kind in enumerate(kinds)
        ]
        session.add_all(made)
        session.commit()
        for lesson in made:
            session.expunge(lesson)
        return made
