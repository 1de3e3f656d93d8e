"""What a person is in a course: the one answer every access check asks.

``membership(session, account, course)`` finds it (one query): an administrator, the
course's instructor, one of its graders, an enrolled student, or none of these; with the
enrollment when there is one (staff may be enrolled too). Code that already read the two
facts in a query of its own (the forums' page query, the course player's) asks
``place_of`` instead, so the rule stays here.

What each place may do, as the domains ask it:

- ``manages`` (administrators and the instructor): change the course, its assignments,
  quizzes and graders, and see everything in it without enrolling.
- ``grades`` (those, and the course's graders): see every student's work and grades and
  grade it by hand: notebook assignments (manual grading, rubrics, grading runs, released
  feedback) and quiz answers that need a person (essays, code answers). Graders change
  nothing else: not the course, not an assignment, not a quiz or the question bank.
- ``enrolled``: take part as a student (lessons, assignments, quizzes, forums).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services.models import Account, Course, CourseGrader, Enrollment


class Place(StrEnum):
    ADMIN = "admin"
    INSTRUCTOR = "instructor"
    GRADER = "grader"
    STUDENT = "student"
    NONE = "none"


MANAGERS = (Place.ADMIN, Place.INSTRUCTOR)
GRADERS = (*MANAGERS, Place.GRADER)


def place_of(
    account: Account | None, course: Course, *, grader: bool = False, enrolled: bool = False
) -> Place:
    """The place of ``account`` in ``course``, given whether it is one of the course's
    graders and whether it is enrolled (the highest place counts)."""
    if account is None:
        return Place.NONE
    if account.role is Role.ADMIN:
        return Place.ADMIN
    if course.instructor_id == account.id:
        return Place.INSTRUCTOR
    if grader:
        return Place.GRADER
    return Place.STUDENT if enrolled else Place.NONE


@dataclass(frozen=True)
class Membership:
    account: Account | None
    course: Course
    place: Place
    enrollment: Enrollment | None = None

    @property
    def manages(self) -> bool:
        return self.place in MANAGERS

    @property
    def grades(self) -> bool:
        return self.place in GRADERS

    @property
    def enrolled(self) -> bool:
        return self.enrollment is not None


async def membership(session: AsyncSession, account: Account | None, course: Course) -> Membership:
    """``account``'s place in ``course`` and its enrollment, if any."""
    if account is None:
        return Membership(None, course, Place.NONE)
    grader = (
        select(CourseGrader.id)
        .where(CourseGrader.course_id == course.id, CourseGrader.account_id == account.id)
        .exists()
    )
    found, is_grader = (
        await session.execute(
            select(Enrollment, grader)
            .select_from(Account)
            .outerjoin(
                Enrollment,
                (Enrollment.account_id == Account.id) & (Enrollment.course_id == course.id),
            )
            .where(Account.id == account.id)
        )
    ).one()
    place = place_of(account, course, grader=bool(is_grader), enrolled=found is not None)
    return Membership(account, course, place, found)
