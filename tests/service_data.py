"""Small courses made straight in the database, for unit tests of the course service's rules
(no platform started): a course with its instructor, graders and enrolled students."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable

from sqlalchemy.orm import Session

from coursehub.services.models import Account, Course, CourseGrader, CourseStatus, Enrollment


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
