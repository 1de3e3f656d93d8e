"""Announcements: news from a course's instructor (or an administrator) to its students.

An announcement is a title and markdown (kept with the sanitised HTML made from it, as forum
posts are), optionally pinned (listed first); the course page and the course's
announcements page list them, newest first. The course's students and staff (graders too)
read them; its instructor and administrators post, change and delete them.

Posting one notifies every enrolled student (kind "announcement") in the same transaction.
Whether that also sends email is each student's preference for the kind (the notification
routing decides); ``email_requested`` in the payload says the instructor ticked "also email".

Functions take an ``AsyncSession`` and leave committing to the caller; refusals raise
``forums.ForumError`` with a sentence and the HTTP status.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.community.forums import ForumError, Member, checked_body, checked_title
from coursehub.services.content.markdown import to_safe_html
from coursehub.services.courses.enrollment import is_staff_of
from coursehub.services.models import (
    Account,
    Announcement,
    CourseStatus,
    Enrollment,
    Notification,
    utcnow,
)
from coursehub.services.notifications import notifications

LATEST = 100
NO_SUCH_ANNOUNCEMENT = "There is no such announcement in this course. It may have been deleted."


def require_author(member: Member) -> None:
    if not is_staff_of(member.account, member.course):
        raise ForumError(
            "Only the course's instructor and administrators can post or change its announcements.",
            403,
        )


def checked_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The announcement fields of a request body, checked; only those present when editing."""
    fields: dict[str, Any] = {}
    if "title" in body or creating:
        fields["title"] = checked_title(body.get("title"), "announcement")
    if "body" in body or creating:
        fields["body"] = checked_body(body.get("body"), "announcement")
    for name in ("is_pinned", "email") if creating else ("is_pinned",):
        if name in body:
            if not isinstance(body[name], bool):
                raise ForumError(f"{name} must be true or false.")
            fields[name] = body[name]
    if not creating and not fields:
        raise ForumError("Send one or more of: title, body, is_pinned.")
    return fields


def announcements_url(prefix: str, slug: str, announcement_id: int | None = None) -> str:
    url = f"{prefix}/courses/{slug}/announcements"
    return f"{url}#announcement-{announcement_id}" if announcement_id else url


async def post_announcement(
    session: AsyncSession, prefix: str, member: Member, fields: dict[str, Any]
) -> tuple[Announcement, list[Notification]]:
    """A new announcement, and a notification for each of the course's students."""
    require_author(member)
    course = member.course
    email = bool(fields.get("email", False))
    announcement = Announcement(
        course_id=course.id,
        author_id=member.account.id,
        title=fields["title"],
        body=fields["body"],
        body_html=to_safe_html(fields["body"]),
        is_pinned=bool(fields.get("is_pinned", False)),
        email_requested=email,
    )
    session.add(announcement)
    await session.flush()
    if course.status is CourseStatus.DRAFT:  # nobody but staff can see it yet
        return announcement, []
    students = await session.scalars(
        select(Enrollment.account_id).where(
            Enrollment.course_id == course.id, Enrollment.account_id != member.account.id
        )
    )
    payload = {
        "title": f"New announcement in {course.title}: {announcement.title}",
        "url": announcements_url(prefix, course.slug, announcement.id),
        "course_slug": course.slug,
        "course_title": course.title,
        "announcement_id": announcement.id,
        "email_requested": email,
    }
    made = [
        notifications.add(session, student_id, "announcement", dict(payload))
        for student_id in students
    ]
    await session.flush()
    return announcement, made


async def course_announcements(
    session: AsyncSession, member: Member
) -> list[tuple[Announcement, Account | None]]:
    """The course's announcements with their authors: pinned first, then newest first."""
    rows = await session.execute(
        select(Announcement, Account)
        .outerjoin(Account, Account.id == Announcement.author_id)
        .where(Announcement.course_id == member.course.id)
        .order_by(
            Announcement.is_pinned.desc(), Announcement.created_at.desc(), Announcement.id.desc()
        )
        .limit(LATEST)
    )
    return [(row[0], row[1]) for row in rows]


async def announcement_for(
    session: AsyncSession, member: Member, announcement_id: int
) -> Announcement:
    require_author(member)
    found = await session.scalar(
        select(Announcement).where(
            Announcement.id == announcement_id, Announcement.course_id == member.course.id
        )
    )
    if found is None:
        raise ForumError(NO_SUCH_ANNOUNCEMENT, 404)
    return found


async def update_announcement(
    session: AsyncSession, announcement: Announcement, fields: dict[str, Any]
) -> Announcement:
    """Change title, text or pin; students are not notified again."""
    if "title" in fields:
        announcement.title = fields["title"]
    if "body" in fields:
        announcement.body = fields["body"]
        announcement.body_html = to_safe_html(fields["body"])
    if "is_pinned" in fields:
        announcement.is_pinned = fields["is_pinned"]
    if "title" in fields or "body" in fields:
        announcement.edited_at = utcnow()
    await session.flush()
    return announcement


def announcement_json(
    announcement: Announcement, author: Account | None, *, editable: bool
) -> dict[str, Any]:
    return {
        "id": announcement.id,
        "title": announcement.title,
        "html": announcement.body_html,
        "body": announcement.body if editable else None,
        "is_pinned": announcement.is_pinned,
        "email_requested": announcement.email_requested,
        "created_at": announcement.created_at.isoformat(),
        "edited_at": announcement.edited_at.isoformat() if announcement.edited_at else None,
        "author": (
            {"username": author.username, "name": author.name or author.username}
            if author
            else None
        ),
    }
