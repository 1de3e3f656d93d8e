"""``courses.membership``: the one answer to "what is this person in this course", for one
person (``membership``, ``place_of``) and for many at once (``members``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.courses.membership import Membership, Place, members, membership, place_of
from coursehub.services.models import Account, Course, Enrollment
from tests.service_data import course_with

INSTRUCTOR_ID = 7


def person(role: Role = Role.STUDENT, account_id: int = 1) -> Account:
    return Account(id=account_id, username=f"p{account_id}", name="P", role=role)


COURSE = Course(id=1, slug="c", title="C", instructor_id=INSTRUCTOR_ID)


@pytest.mark.parametrize(
    ("account", "grader", "enrolled", "place"),
    [
        (None, False, False, Place.NONE),
        (person(Role.ADMIN), False, False, Place.ADMIN),
        (person(Role.INSTRUCTOR, INSTRUCTOR_ID), False, True, Place.INSTRUCTOR),
        (person(Role.INSTRUCTOR), True, False, Place.GRADER),
        (person(), True, True, Place.STUDENT),  # a conflict of interest: a student there
        (person(), False, True, Place.STUDENT),
        (person(Role.INSTRUCTOR), False, False, Place.NONE),  # another course's instructor
    ],
    ids=["nobody", "admin", "instructor", "grader", "enrolled grader", "student", "stranger"],
)
def test_the_place_of_a_person(account, grader, enrolled, place):
    assert place_of(account, COURSE, grader=grader, enrolled=enrolled) is place


@pytest.mark.parametrize(
    ("place", "manages", "grades"),
    [
        (Place.ADMIN, True, True),
        (Place.INSTRUCTOR, True, True),
        (Place.GRADER, False, True),
        (Place.STUDENT, False, False),
        (Place.NONE, False, False),
    ],
)
def test_what_each_place_may_do(place, manages, grades):
    found = Membership(person(), COURSE, place)
    assert (found.manages, found.grades, found.enrolled) == (manages, grades, False)


def test_an_enrollment_makes_one_enrolled_whatever_the_place():
    enrolled = Enrollment(account_id=1, course_id=1)
    assert Membership(person(), COURSE, Place.GRADER, enrolled).enrolled


# -- ``members``: the same rule in SQL, for many people and courses at once ---------------


def places(db, **filters) -> dict[tuple[int, int], Place]:  # type: ignore[no-untyped-def]
    found = members(**filters)
    with db() as session:
        rows = session.execute(select(found.c.account_id, found.c.course_id, found.c.place))
        return {(account_id, course_id): Place(place) for account_id, course_id, place in rows}


async def test_members_gives_everyone_of_a_course_the_place_membership_gives_them(
    db, make_account, sessions
):
    """A course with an instructor, a grader who also enrolled (before enrolling graders was
    refused: a student there), a student and an administrator who enrolled to try it: each
    has one row, with the place ``membership`` answers; a stranger (even another course's
    instructor) has none."""
    teacher, grader, student = (make_account(r) for r in (Role.INSTRUCTOR,) * 2 + (Role.STUDENT,))
    admin, stranger = make_account(Role.ADMIN), make_account(Role.INSTRUCTOR)
    course = course_with(db, teacher, graders=[grader], students=[grader, student, admin])
    people = [teacher, grader, student, admin, stranger]

    found = places(db, courses=[course.id], people=[p.id for p in people])
    assert found == {
        (teacher.id, course.id): Place.INSTRUCTOR,
        (grader.id, course.id): Place.STUDENT,
        (student.id, course.id): Place.STUDENT,
        (admin.id, course.id): Place.ADMIN,
    }
    async with sessions() as session:
        loaded = await session.get(Course, course.id)
        for person_ in people:
            account = await session.get(Account, person_.id)
            expected = (await membership(session, account, loaded)).place
            assert found.get((person_.id, course.id), Place.NONE) is expected


def test_an_administrator_has_a_place_in_every_course_unless_only_ties_are_asked_for(
    db, make_account
):
    teacher, admin, student = (make_account(r) for r in (Role.INSTRUCTOR, Role.ADMIN, Role.STUDENT))
    first = course_with(db, teacher, students=[student])
    second = course_with(db, teacher, students=[admin])
    courses = [first.id, second.id]

    everyone = places(db, courses=courses, people=[admin.id, student.id])
    assert everyone == {
        (admin.id, first.id): Place.ADMIN,
        (admin.id, second.id): Place.ADMIN,
        (student.id, first.id): Place.STUDENT,
    }
    # Lists of people to write to: an administrator shows where they teach, grade or study.
    tied = places(db, courses=courses, people=[admin.id, student.id], administrators=False)
    assert tied == {(admin.id, second.id): Place.ADMIN, (student.id, first.id): Place.STUDENT}


def test_members_of_one_person_are_their_courses(db, make_account):
    teacher, helper = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    taught = course_with(db, teacher)
    graded = course_with(db, make_account(Role.INSTRUCTOR), graders=[teacher, helper])
    studied = course_with(db, make_account(Role.INSTRUCTOR), students=[teacher])
    assert places(db, people=[teacher.id]) == {
        (teacher.id, taught.id): Place.INSTRUCTOR,
        (teacher.id, graded.id): Place.GRADER,
        (teacher.id, studied.id): Place.STUDENT,
    }
