"""``courses.enrollment``: who may see a course and who may join it. Drafts exist only for
their staff (everyone else gets the same 404 as for a missing course); published free
courses are joined with one click, once; archived and paid ones take nobody; leaving keeps
nothing but the student's progress."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.courses import enrollment
from coursehub.services.courses.enrollment import EnrollmentError
from coursehub.services.models import Account, Course, CourseStatus, Notification
from tests.service_data import course_with


def course(status: CourseStatus, price_cents: int = 0) -> Course:
    return Course(
        id=1, slug="c", title="Botany", instructor_id=7, status=status, price_cents=price_cents
    )


def test_a_draft_is_seen_only_by_its_instructor_and_administrators():
    teacher = Account(id=7, username="t", role=Role.INSTRUCTOR)
    admin = Account(id=8, username="a", role=Role.ADMIN)
    student = Account(id=9, username="s", role=Role.STUDENT)
    draft = course(CourseStatus.DRAFT)
    assert enrollment.check_visible(teacher, draft) is draft
    assert enrollment.check_visible(admin, draft) is draft
    for nobody in (student, None):
        with pytest.raises(EnrollmentError) as error:
            enrollment.check_visible(nobody, draft)
        assert (error.value.status, error.value.message) == (404, enrollment.NOT_FOUND)
    with pytest.raises(EnrollmentError) as error:
        enrollment.check_visible(student, None)  # missing: the very same answer
    assert (error.value.status, error.value.message) == (404, enrollment.NOT_FOUND)
    assert enrollment.check_visible(None, course(CourseStatus.ARCHIVED))


@pytest.mark.parametrize(
    ("status", "price", "answer", "says"),
    [
        (CourseStatus.PUBLISHED, 0, None, None),
        (CourseStatus.DRAFT, 0, 404, "is a draft"),
        (CourseStatus.ARCHIVED, 0, 409, "archived"),
        (CourseStatus.PUBLISHED, 4900, 402, "costs"),
    ],
    ids=["free", "draft", "archived", "paid"],
)
def test_only_a_published_free_course_can_be_joined(status, price, answer, says):
    refused = enrollment.refusal(course(status, price))
    if answer is None:
        assert refused is None
    else:
        assert refused is not None and refused.status == answer and says in refused.message


async def test_a_student_joins_once_is_told_so_and_leaves_once(db, make_account, sessions):
    teacher, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    made = course_with(db, teacher, title="Botany")
    async with sessions() as session:
        me = await session.get_one(Account, student.id)
        botany = await enrollment.course_by_slug(session, made.slug)
        assert botany is not None

        joined = await enrollment.enroll(session, me, botany)
        assert (joined.enrolled, joined.changed) == (True, True)
        assert joined.message == "You are enrolled in Botany. Enjoy!"
        again = await enrollment.enroll(session, me, botany)
        assert (again.enrolled, again.changed) == (True, False)
        assert await enrollment.is_enrolled(session, me, botany)
        await session.flush()
        told = await session.scalars(
            select(Notification.kind).where(Notification.account_id == student.id)
        )
        assert list(told) == ["enrolled"]  # joining twice tells once

        left = await enrollment.unenroll(session, me, botany)
        assert (left.enrolled, left.changed) == (False, True) and "progress is kept" in left.message
        assert (await enrollment.unenroll(session, me, botany)).changed is False
        await session.rollback()


async def test_a_course_archived_while_a_student_joins_says_what_it_is_now(
    db, make_account, sessions
):
    """The request read the course while it was open; the insert itself checks again."""
    teacher, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    made = course_with(db, teacher, title="Botany")
    async with sessions() as session:
        me = await session.get_one(Account, student.id)
        botany = await enrollment.course_by_slug(session, made.slug)
        with db() as other:  # another request archives it meanwhile
            other.get_one(Course, made.id).status = CourseStatus.ARCHIVED
            other.commit()
        with pytest.raises(EnrollmentError) as error:
            await enrollment.enroll(session, me, botany)
        assert error.value.status == 409 and "archived" in error.value.message
        assert not await enrollment.is_enrolled(session, me, botany)
