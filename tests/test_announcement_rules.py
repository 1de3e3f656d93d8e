"""``community.announcements``: news from a course's instructor to its students. Only the
instructor and administrators post and change them; posting tells every enrolled student
(not the author, and nobody while the course is a draft); pinned ones come first; editing
tells nobody again."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from coursehub.services.community import announcements
from coursehub.services.community.forums import ForumError, Member
from coursehub.services.models import Account, CourseStatus
from tests.service_data import course_with

PREFIX = "/services/coursehub"


def test_what_an_announcement_may_hold():
    assert announcements.checked_fields(
        {"title": " Exam ", "body": "On **Friday**", "email": True}, creating=True
    ) == {"title": "Exam", "body": "On **Friday**", "email": True}
    assert announcements.checked_fields({"is_pinned": True}, creating=False) == {"is_pinned": True}
    for body, creating, says in [
        ({"title": "Exam"}, True, "announcement"),
        ({"title": "Exam", "body": "x", "is_pinned": "yes"}, True, "true or false"),
        ({}, False, "Send one or more"),
        ({"email": True}, False, "Send one or more"),  # email goes only with a new one
    ]:
        with pytest.raises(ForumError, match=says):
            announcements.checked_fields(body, creating=creating)
    assert announcements.announcements_url("/p", "bio", 7) == (
        "/p/courses/bio/announcements#announcement-7"
    )


async def test_the_instructor_announces_to_the_students_and_pins_what_matters(
    db, make_account, sessions
):
    teacher, grader, ann, ben = (
        make_account(r) for r in (Role.INSTRUCTOR, Role.STUDENT, Role.STUDENT, Role.STUDENT)
    )
    course = course_with(db, teacher, graders=[grader], students=[ann, ben], title="Ecology")
    draft = course_with(db, teacher, students=[ann], status=CourseStatus.DRAFT)
    async with sessions() as session:
        me = await session.get_one(Account, teacher.id)
        helper = await session.get_one(Account, grader.id)
        as_teacher = Member(me, course, moderator=True)
        fields = {"title": "Field trip", "body": "Bring boots.", "email": True}

        first, told = await announcements.post_announcement(session, PREFIX, as_teacher, fields)
        assert sorted(n.account_id for n in told) == sorted([ann.id, ben.id])
        assert told[0].payload["title"] == "New announcement in Ecology: Field trip"
        assert told[0].payload["email_requested"] is True
        assert told[0].payload["url"].endswith(f"#announcement-{first.id}")

        pinned, _ = await announcements.post_announcement(
            session, PREFIX, as_teacher, {"title": "Exam", "body": "Friday", "is_pinned": True}
        )
        later, _ = await announcements.post_announcement(
            session, PREFIX, as_teacher, {"title": "Later", "body": "News"}
        )
        listed = await announcements.course_announcements(session, as_teacher)
        assert [a.id for a, _ in listed] == [pinned.id, later.id, first.id]

        edited = await announcements.update_announcement(session, first, {"body": "Boots!"})
        assert edited.edited_at is not None and "Boots!" in edited.body_html
        shown = announcements.announcement_json(edited, me, editable=False)
        assert shown["body"] is None and shown["author"]["username"] == teacher.username

        _, nobody = await announcements.post_announcement(
            session, PREFIX, Member(me, draft, moderator=True), fields
        )
        assert nobody == []  # a draft's students cannot see it yet

        as_grader = Member(helper, course, moderator=True)
        with pytest.raises(ForumError) as error:
            await announcements.post_announcement(session, PREFIX, as_grader, fields)
        assert error.value.status == 403
        with pytest.raises(ForumError):
            await announcements.announcement_for(session, as_grader, first.id)
        with pytest.raises(ForumError) as error:
            await announcements.announcement_for(session, as_teacher, first.id + 10_000)
        assert error.value.status == 404
        await session.rollback()
