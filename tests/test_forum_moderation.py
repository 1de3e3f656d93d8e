"""``community.forum_moderation``: the course's staff keep its forums in order. A thread's
author may retitle it; moderators pin, lock and hide; a post may be reported once by each
reader (not by its author); resolving a report resolves every open report of that post and
hides or deletes the post as chosen."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from coursehub.services.community import forum_moderation as moderation
from coursehub.services.community import forums
from coursehub.services.community.forums import ForumError, Member
from coursehub.services.models import Account, ForumPost
from tests.service_data import course_with


@pytest.fixture
def room(db, make_account):  # type: ignore[no-untyped-def]
    teacher, grader, ann, ben = (
        make_account(role) for role in (Role.INSTRUCTOR, Role.STUDENT, Role.STUDENT, Role.STUDENT)
    )
    course = course_with(db, teacher, graders=[grader], students=[ann, ben])
    return course, {"teacher": teacher, "grader": grader, "ann": ann, "ben": ben}


async def members(session, course, people) -> dict[str, Member]:  # type: ignore[no-untyped-def]
    staff = {"teacher", "grader"}
    return {
        name: Member(await session.get_one(Account, p.id), course, name in staff)
        for name, p in people.items()
    }


async def test_authors_retitle_and_moderators_pin_lock_and_hide(room, sessions):
    course, people = room
    async with sessions() as session:
        m = await members(session, course, people)
        thread, _ = await forums.start_thread(session, m["ann"], None, "Lab 2", "When is it?")

        await moderation.update_thread(session, m["ann"], thread, {"title": "Lab 2 date"})
        assert thread.title == "Lab 2 date"
        with pytest.raises(ForumError, match="Only the thread's author") as error:
            await moderation.update_thread(session, m["teacher"], thread, {"title": "Mine"})
        assert error.value.status == 403
        with pytest.raises(ForumError, match="staff") as error:
            await moderation.update_thread(session, m["ann"], thread, {"is_pinned": True})
        assert error.value.status == 403
        for wrong, says in [({}, "Send one or more"), ({"colour": 1}, "Send one or more")]:
            with pytest.raises(ForumError, match=says):
                await moderation.update_thread(session, m["grader"], thread, wrong)
        with pytest.raises(ForumError, match="true or false"):
            await moderation.update_thread(session, m["grader"], thread, {"is_locked": "yes"})

        await moderation.update_thread(
            session, m["grader"], thread, {"is_pinned": True, "is_locked": True}
        )
        assert thread.is_pinned and thread.is_locked and not thread.is_hidden
        await session.rollback()


async def test_a_reported_post_is_reported_once_per_reader_and_resolving_settles_all_reports(
    room, sessions
):
    course, people = room
    async with sessions() as session:
        m = await members(session, course, people)
        thread, opening = await forums.start_thread(session, m["ann"], None, "Notes", "Mine.")
        rude, _ = await forums.reply(session, m["ben"], thread, None, "Something rude.")

        with pytest.raises(ForumError, match="your own post"):
            await moderation.report_post(session, m["ben"], rude.id, "Oops")
        first = await moderation.report_post(session, m["ann"], rude.id, "Rude")
        await moderation.report_post(session, m["grader"], rude.id, "Agreed")
        with pytest.raises(ForumError, match="reported this post already") as error:
            await moderation.report_post(session, m["ann"], rude.id, "Again")
        assert error.value.status == 409
        assert await moderation.open_report_count(session, m["teacher"]) == 2
        with pytest.raises(ForumError):
            await moderation.report_queue(session, m["ann"])  # students see no queue
        queue = await moderation.report_queue(session, m["teacher"])
        assert [(r.reason, r.post_state) for r in queue] == [
            ("Rude", "visible"),
            ("Agreed", "visible"),
        ]

        assert await moderation.resolve_report(session, m["teacher"], first, "hide") == (
            "hidden",
            2,
        )
        assert (await session.get_one(ForumPost, rude.id)).is_hidden
        assert await moderation.open_report_count(session, m["teacher"]) == 0
        with pytest.raises(ForumError, match="resolved already") as error:
            await moderation.resolve_report(session, m["teacher"], first, "delete")
        assert error.value.status == 409
        with pytest.raises(ForumError, match="dismiss, hide, delete"):
            await moderation.resolve_report(session, m["teacher"], first, "ban")
        resolved = await moderation.report_queue(session, m["teacher"], resolved=True)
        assert {r.resolution for r in resolved} == {"hidden"}
        assert opening.id is not None
        await session.rollback()


def test_a_report_gives_a_reason_of_bounded_length():
    assert moderation.checked_reason("  spam  ") == "spam"
    for wrong in (None, "   ", "x" * (moderation.MAX_REASON + 1)):
        with pytest.raises(ForumError):
            moderation.checked_reason(wrong)
