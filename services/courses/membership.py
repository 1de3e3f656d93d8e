"""What a person is in a course: the one answer every access check asks.

``membership(session, account, course)`` finds it (one query): an administrator, the
course's instructor, one of its graders, an enrolled student, or none of these; with the
enrollment when there is one.

Teaching and studying one course exclude each other (a conflict of interest: a grader who is
also a student would grade their own work and see their classmates'). Nobody can enroll in
a course they teach or grade, nor be made a grader of a course they are enrolled in
(``enrollment.enroll``, ``course_staff.add_grader``). A grader who is enrolled all the same
(from before that rule, or by an nbgrader import) is a student there, not a grader, until
one of the two ends. The course's instructor owns it and stays its instructor;
administrators stay administrators. Code that already read the two
facts in a query of its own (the forums' page query, the course player's) asks
``place_of`` instead, and queries about many people or courses at once (who may message
whom, who hears of a forum post) join ``members``, the same rule in SQL, so it stays here.

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

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, Subquery, case, literal, select, true, union
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
    graders and whether it is enrolled (the highest place counts, except that a grader who
    is enrolled is a student: their own work is never in their hands)."""
    if account is None:
        return Place.NONE
    if account.role is Role.ADMIN:
        return Place.ADMIN
    if course.instructor_id == account.id:
        return Place.INSTRUCTOR
    if enrolled:
        return Place.STUDENT
    return Place.GRADER if grader else Place.NONE


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


Ids = Iterable[int] | Select[tuple[int]] | None


def _among(column: ColumnElement[int], ids: Ids) -> ColumnElement[bool]:
    if ids is None:
        return true()
    return column.in_(ids if isinstance(ids, Select) else list(ids))


def members(courses: Ids = None, people: Ids = None, *, administrators: bool = True) -> Subquery:
    """``place_of`` for many at once: a subquery of ``(account_id, course_id, place)``, one
    row for each person with a place in each course (``Place`` values, never NONE), for
    the ``courses`` and ``people`` given (None: all). ``administrators=False`` leaves out
    administrators who are not tied to the course (its instructor, one of its graders or
    enrolled): they have a place in every course, but not every list wants them all."""
    ties = [
        select(Course.instructor_id.label("account_id"), Course.id.label("course_id")).where(
            _among(Course.id, courses), _among(Course.instructor_id, people)
        ),
        select(CourseGrader.account_id, CourseGrader.course_id).where(
            _among(CourseGrader.course_id, courses), _among(CourseGrader.account_id, people)
        ),
        select(Enrollment.account_id, Enrollment.course_id).where(
            _among(Enrollment.course_id, courses), _among(Enrollment.account_id, people)
        ),
    ]
    if administrators:
        ties.append(
            select(Account.id, Course.id)
            .join(Course, true())  # administrators have a place in every course
            .where(
                Account.role == Role.ADMIN, _among(Account.id, people), _among(Course.id, courses)
            )
        )
    pair = union(*ties).subquery("pair")
    grader = (
        select(CourseGrader.id)
        .where(
            CourseGrader.course_id == pair.c.course_id,
            CourseGrader.account_id == pair.c.account_id,
        )
        .exists()
    )
    enrolled = (
        select(Enrollment.id)
        .where(Enrollment.course_id == pair.c.course_id, Enrollment.account_id == pair.c.account_id)
        .exists()
    )
    place = case(  # place_of, in the same order
        (Account.role == Role.ADMIN, literal(Place.ADMIN.value)),
        (Course.instructor_id == Account.id, literal(Place.INSTRUCTOR.value)),
        (enrolled, literal(Place.STUDENT.value)),  # an enrolled grader is a student
        (grader, literal(Place.GRADER.value)),
        else_=literal(Place.NONE.value),
    )
    return (
        select(pair.c.account_id, pair.c.course_id, place.label("place"))
        .join(Account, Account.id == pair.c.account_id)
        .join(Course, Course.id == pair.c.course_id)
        .subquery("members")
    )
