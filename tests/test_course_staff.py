"""``courses.course_staff``: the course's instructor and administrators choose its graders
by username; a grader is added once, the instructor is not added to their own course, and
removing a grader who is not one says so."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from coursehub.services.courses import course_staff
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, Course
from tests.service_data import course_with


async def test_the_instructor_adds_a_grader_once_and_removes_them(db, make_account, sessions):
    teacher, helper, admin = (make_account(r) for r in (Role.INSTRUCTOR, Role.STUDENT, Role.ADMIN))
    made = course_with(db, teacher)
    async with sessions() as session:
        course = await session.get_one(Course, made.id)
        me = await session.get_one(Account, teacher.id)

        grader, added = await course_staff.add_grader(session, course, f" {helper.username} ", me)
        assert grader.id == helper.id and added
        _, added_again = await course_staff.add_grader(session, course, helper.username, me)
        assert not added_again
        assert [a.id for a in await course_staff.course_graders(session, course)] == [helper.id]
        assert course_staff.grader_json(grader)["username"] == helper.username

        someone_else = await session.get_one(Account, admin.id)  # administrators may too
        assert await course_staff.remove_grader(session, course, helper.id, someone_else)
        assert not await course_staff.remove_grader(session, course, helper.id, me)
        assert await course_staff.course_graders(session, course) == []
        await session.rollback()


@pytest.mark.parametrize(
    ("who", "name", "status", "says"),
    [
        ("helper", "helper", 403, "Only the course's instructor"),
        ("teacher", "  ", 400, "Type the username"),
        ("teacher", "nobody-by-this-name", 404, "no CourseHub account"),
        ("teacher", "teacher", 409, "is the course's instructor"),
        ("teacher", "student", 409, "is enrolled in Cell Biology as a student"),
    ],
    ids=["a-grader-adding", "no-name", "unknown", "the-instructor", "a-student-of-it"],
)
async def test_what_cannot_be_a_grader(db, make_account, sessions, who, name, status, says):
    people = {
        "teacher": make_account(Role.INSTRUCTOR),
        "helper": make_account(Role.STUDENT),
        "student": make_account(Role.STUDENT),
    }
    made = course_with(
        db, people["teacher"], graders=[people["helper"]], students=[people["student"]]
    )
    username = people[name].username if name in people else name
    async with sessions() as session:
        course = await session.get_one(Course, made.id)
        by = await session.get_one(Account, people[who].id)
        with pytest.raises(Refusal) as error:
            await course_staff.add_grader(session, course, username, by)
        assert error.value.status == status and says in error.value.message
        if who == "helper":  # graders grade; they do not choose graders
            with pytest.raises(Refusal):
                await course_staff.remove_grader(session, course, by.id, by)
