"""Course review in the service's own functions: with "new courses need approval" an
instructor cannot publish a course the review has not approved, an approval of a course
edited after it was submitted (and after the admin opened it) is refused with a sentence
saying so, and every step is in the history and the audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.administration import course_review
from coursehub.services.audit import audit_log
from coursehub.services.courses import authoring
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, Course, CourseStatus, Notification, ReviewEvent
from coursehub.services.site_settings import site_settings
from tests.course_builder import make_course, unique_word


@pytest.fixture
async def approval_required(sessions, redis_url, make_account) -> AsyncIterator[None]:
    admin = make_account(Role.ADMIN)
    client = redis.from_url(redis_url)

    async def set_to(value: bool) -> None:
        async with sessions() as session:
            actor = await session.get_one(Account, admin.id)
            await site_settings.change(session, client, actor, {"course_approval": value})
            await session.commit()
        await site_settings.bump_version(client)

    await set_to(True)
    try:
        yield
    finally:
        await set_to(False)
        await client.aclose()


async def test_a_course_is_published_only_as_it_was_reviewed(
    approval_required, sessions, database_url, make_account
):
    teacher, admin = make_account(Role.INSTRUCTOR), make_account(Role.ADMIN)
    built = make_course(
        database_url, teacher, title=f"Review {unique_word()}", status=CourseStatus.DRAFT
    )

    async with sessions() as session:
        me = await session.get_one(Account, teacher.id)
        course = await session.get_one(Course, built.id)
        with pytest.raises(Refusal, match="need an administrator's approval"):
            await authoring.update_course(session, course, {"status": "PUBLISHED"})
        await session.rollback()
        me = await session.get_one(Account, teacher.id)
        course = await session.get_one(Course, built.id)
        await course_review.submit(session, me, course, "Ready, I think.")
        await session.commit()
        with pytest.raises(Refusal, match="already waiting"):
            await course_review.submit(session, me, course)

    async with sessions() as session:  # the admin returns it with comments
        boss = await session.get_one(Account, admin.id)
        course = await session.get_one(Course, built.id)
        with pytest.raises(Refusal, match="Write what should change"):
            await course_review.return_course(session, boss, course, "  ")
        await course_review.return_course(session, boss, course, "Add a summary, please.")
        await session.commit()

    async with sessions() as session:  # the instructor fixes it and submits again
        me = await session.get_one(Account, teacher.id)
        course = await session.get_one(Course, built.id)
        await authoring.update_course(session, course, {"summary": "Now with a summary."})
        await course_review.submit(session, me, course)
        await session.commit()

    async with sessions() as session:  # the admin opens it ...
        course = await session.get_one(Course, built.id)
        seen = (await course_review.view(session, course)).fingerprint

    async with sessions() as session:  # ... and meanwhile the instructor edits it again
        course = await session.get_one(Course, built.id)
        await authoring.update_course(session, course, {"summary": "Changed after submitting."})
        await session.commit()

    async with sessions() as session:
        boss = await session.get_one(Account, admin.id)
        course = await session.get_one(Course, built.id)
        view = await course_review.view(session, course)
        assert view.waiting and view.edited_since_submitted
        with pytest.raises(Refusal, match="was edited after it was submitted") as refused:
            await course_review.approve(session, boss, course, seen)
        assert refused.value.status == 409
        await session.rollback()
        boss = await session.get_one(Account, admin.id)
        course = await session.get_one(Course, built.id)
        assert course.status == CourseStatus.DRAFT
        # Looking again (the page's fingerprint now) approves what the admin saw.
        await course_review.approve(session, boss, course, view.fingerprint)
        await session.commit()

    async with sessions() as session:
        course = await session.get_one(Course, built.id)
        view = await course_review.view(session, course)
        told = list(
            await session.scalars(
                select(Notification.payload)
                .where(Notification.account_id == teacher.id, Notification.kind == "course_review")
                .order_by(Notification.id)
            )
        )
        logged = await audit_log.history(session, "course", built.id)
    assert course.status == CourseStatus.PUBLISHED
    assert [event.event for event, _ in view.history] == [
        ReviewEvent.SUBMITTED,
        ReviewEvent.RETURNED,
        ReviewEvent.SUBMITTED,
        ReviewEvent.APPROVED,
    ]
    assert view.history[1][0].comment == "Add a summary, please."
    assert [payload["title"] for payload in told] == [
        f"{built.title} was returned with comments from the review.",
        f"{built.title} was approved and is now published.",
    ]
    assert [entry.action for entry in logged] == [
        "course.submitted",
        "course.returned",
        "course.submitted",
        "course.approved",
    ]


async def test_an_admin_unpublishes_or_archives_a_course_with_a_reason(
    sessions, database_url, make_account
):
    teacher, admin = make_account(Role.INSTRUCTOR), make_account(Role.ADMIN)
    built = make_course(database_url, teacher, title=f"Down {unique_word()}")
    async with sessions() as session:
        boss = await session.get_one(Account, admin.id)
        me = await session.get_one(Account, teacher.id)
        course = await session.get_one(Course, built.id)
        with pytest.raises(Refusal, match="Only administrators"):
            await course_review.take_down(session, me, course, ReviewEvent.UNPUBLISHED, "mine")
        with pytest.raises(Refusal, match="Write the reason"):
            await course_review.take_down(session, boss, course, ReviewEvent.UNPUBLISHED, "")
        await course_review.take_down(
            session, boss, course, ReviewEvent.UNPUBLISHED, "The videos break copyright."
        )
        await session.commit()
        assert course.status == CourseStatus.DRAFT
        await course_review.take_down(session, boss, course, ReviewEvent.ARCHIVED, "Retired.")
        await session.commit()
        assert course.status == CourseStatus.ARCHIVED
        with pytest.raises(Refusal, match="already archived"):
            await course_review.take_down(session, boss, course, ReviewEvent.ARCHIVED, "Again")
