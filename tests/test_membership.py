"""``courses.membership``: the one answer to "what is this person in this course"."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from coursehub.services.courses.membership import Membership, Place, place_of
from coursehub.services.models import Account, Course, Enrollment

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
        (person(), True, True, Place.GRADER),  # the highest place counts
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
