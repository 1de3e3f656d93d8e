"""``community.messages``, its rules one by one: who may write to whom (students and their
course's staff, staff and staff, students and students only where the course allows it),
whom one may start a conversation with, one conversation per pair, unread counts, and what
a message may hold."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from coursehub.services.community import messages
from coursehub.services.community.messages import MessageError
from coursehub.services.models import Account, Course
from tests.service_data import course_with

PREFIX = "/services/coursehub"


def test_a_message_is_text_of_a_bounded_length_and_its_preview_is_one_plain_line():
    assert messages.checked_body("Hi\x00there") == "Hi\ufffdthere"
    for wrong, says in [
        (42, "as text"),
        ("   \n", "empty"),
        ("x" * (messages.MAX_BODY_CHARS + 1), "the most is 10,000"),
    ]:
        with pytest.raises(MessageError, match=says):
            messages.checked_body(wrong)
    assert messages.plain_preview("**Bold**, _it_ and\n\n`code`") == "Bold, it and code"
    long = messages.plain_preview("word " * 100, limit=20)
    assert len(long) == 20 and long.endswith("…")


async def test_who_may_write_to_whom_follows_the_courses_they_share(db, make_account, sessions):
    teacher, grader, ann, ben, other, admin = (
        make_account(role)
        for role in (
            Role.INSTRUCTOR,
            Role.STUDENT,
            Role.STUDENT,
            Role.STUDENT,
            Role.STUDENT,
            Role.ADMIN,
        )
    )
    course = course_with(db, teacher, graders=[grader], students=[ann, ben])
    course_with(db, make_account(Role.INSTRUCTOR), students=[other])
    async with sessions() as session:
        t, g, a, b, o, ad = [
            await session.get_one(Account, p.id) for p in (teacher, grader, ann, ben, other, admin)
        ]
        assert await messages.course_roles(session, a) == {course.id: False}
        assert await messages.course_roles(session, g) == {course.id: True}
        # Students and their course's staff, both ways; staff and staff.
        for one, two in [(a, t), (a, g), (g, t), (ad, a)]:
            assert await messages.may_message(session, one, two)
            assert await messages.may_message(session, two, one)
        # Students of the same course only when it lets them; nobody with a stranger or self.
        assert not await messages.may_message(session, a, b)
        assert not await messages.may_message(session, a, o)
        assert not await messages.may_message(session, a, a)
        (await session.get_one(Course, course.id)).students_may_message = True
        await session.flush()
        assert await messages.may_message(session, a, b)
        await session.rollback()


async def test_a_student_may_start_conversations_with_staff_and_with_classmates_if_allowed(
    db, make_account, sessions
):
    teacher, grader, ann, ben = (
        make_account(role) for role in (Role.INSTRUCTOR, Role.STUDENT, Role.STUDENT, Role.STUDENT)
    )
    course_with(db, teacher, graders=[grader], students=[ann, ben], title="Algebra")
    async with sessions() as session:
        a = await session.get_one(Account, ann.id)
        listed = {person.id: titles for person, titles in await messages.contacts(session, a)}
        assert listed == {teacher.id: ["Algebra"], grader.id: ["Algebra"]}
        # The teacher sees everyone of the course.
        t = await session.get_one(Account, teacher.id)
        assert {p.id for p, _ in await messages.contacts(session, t)} == {
            grader.id,
            ann.id,
            ben.id,
        }
    course_with(db, teacher, students=[ann, ben], title="Botany", students_may_message=True)
    async with sessions() as session:
        a = await session.get_one(Account, ann.id)
        listed = {person.id: titles for person, titles in await messages.contacts(session, a)}
        assert listed[ben.id] == ["Botany"] and listed[teacher.id] == ["Algebra", "Botany"]


async def test_a_pair_has_one_conversation_and_messages_count_as_unread_until_opened(
    db, make_account, sessions
):
    teacher, ann, stranger = (
        make_account(role) for role in (Role.INSTRUCTOR, Role.STUDENT, Role.STUDENT)
    )
    course_with(db, teacher, students=[ann])
    async with sessions() as session:
        t, a, s = [await session.get_one(Account, p.id) for p in (teacher, ann, stranger)]
        conversation, made = await messages.start_conversation(session, a, t)
        again, made_again = await messages.start_conversation(session, t, a)
        assert made and not made_again and again.id == conversation.id

        for refused in (s, None):
            with pytest.raises(MessageError) as error:
                await messages.start_conversation(session, a, refused)
            assert error.value.status == 403
        with pytest.raises(MessageError) as error:
            await messages.own_conversation(session, s, conversation.id)
        assert error.value.status == 404

        message, notification = await messages.send(
            session, a, conversation, "Hello **you**", PREFIX
        )
        await messages.send(session, a, conversation, "Are you there?", PREFIX)
        assert notification.account_id == teacher.id and notification.kind == "direct_message"
        assert notification.payload["url"] == f"{PREFIX}/messages/{conversation.id}"
        assert notification.payload["preview"] == "Hello you"
        assert await messages.unread_total(session, t) == 2
        assert await messages.unread_total(session, a) == 0  # one's own messages are read

        [summary] = await messages.conversation_list(session, t)
        assert summary.other.id == ann.id and summary.unread == 2
        assert summary.last_message.body == "Are you there?"
        assert [m.id for m in await messages.messages_of(session, conversation, after=message.id)]

        marked = await messages.mark_read(session, t, conversation)
        assert marked.messages == 2 and len(marked.notification_ids) == 2
        assert await messages.unread_total(session, t) == 0
        await session.rollback()


def test_only_the_instructor_or_an_administrator_decides_whether_students_may_write():
    teacher = Account(id=1, username="t", role=Role.INSTRUCTOR)
    grader = Account(id=2, username="g", role=Role.STUDENT)
    course = Course(id=1, slug="c", title="C", instructor_id=1, students_may_message=False)
    messages.set_students_may_message(teacher, course, True)
    assert course.students_may_message is True
    with pytest.raises(MessageError, match="true or false"):
        messages.set_students_may_message(teacher, course, "yes")
    with pytest.raises(MessageError) as error:
        messages.set_students_may_message(grader, course, False)
    assert error.value.status == 403 and course.students_may_message is True
