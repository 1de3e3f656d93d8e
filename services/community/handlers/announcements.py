"""A course's announcements: the page ``/courses/<slug>/announcements`` and its JSON API.

- ``GET /api/courses/<slug>/announcements``: pinned first, then newest first (the course's
  students and staff, graders included)
- ``POST`` the same address ``{"title", "body", "is_pinned"?, "email"?}``: post one and
  notify every enrolled student (the course's instructor and administrators)
- ``PATCH …/announcements/<id>`` ``{"title"?, "body"?, "is_pinned"?}`` and ``DELETE``: the
  course's instructor and administrators

The course page lists them too, and adds new ones while it is open (``forum_live.js``
listens for "announcement" notifications).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from coursehub.services.community import announcements
from coursehub.services.community.handlers.forums import SLUG, ForumHandler, whole_number
from coursehub.services.courses.enrollment import is_staff_of
from coursehub.services.models import Announcement


class AnnouncementsAPI(ForumHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            found = await announcements.course_announcements(session, member)
        editable = is_staff_of(member.account, member.course)
        self.write_json(
            {
                "announcements": [
                    announcements.announcement_json(item, author, editable=editable)
                    for item, author in found
                ],
                "may_post": editable,
            }
        )

    async def post(self, slug: str) -> None:
        fields = announcements.checked_fields(self.json_body(), creating=True)
        async with self.db() as session:
            member = await self.member(session, slug)
            made, sent = await announcements.post_announcement(session, self.prefix, member, fields)
            await session.commit()
        self.write_json(
            {
                **announcements.announcement_json(made, member.account, editable=True),
                "notified": len(sent),
            },
            201,
        )


class AnnouncementAPI(ForumHandler):
    async def patch(self, slug: str, announcement_id: str) -> None:
        number = whole_number(announcement_id, "announcement")
        fields = announcements.checked_fields(self.json_body(), creating=False)
        async with self.db() as session:
            member = await self.member(session, slug)
            found = await announcements.announcement_for(session, member, number)
            await announcements.update_announcement(session, found, fields)
            await session.commit()
        self.write_json(announcements.announcement_json(found, None, editable=True))

    async def delete(self, slug: str, announcement_id: str) -> None:
        number = whole_number(announcement_id, "announcement")
        async with self.db() as session:
            member = await self.member(session, slug)
            found = await announcements.announcement_for(session, member, number)
            await session.execute(delete(Announcement).where(Announcement.id == found.id))
            await session.commit()
        self.set_status(204)
        self.finish()


class AnnouncementsPage(ForumHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            found = await announcements.course_announcements(session, member)
        self.render_page(
            "announcements.html",
            course=member.course,
            items=found,
            may_post=is_staff_of(member.account, member.course),
            xsrf_token=self.xsrf_token.decode(),
        )


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    return [
        (rf"{prefix}/courses/{SLUG}/announcements", AnnouncementsPage),
        (rf"{prefix}/api/courses/{SLUG}/announcements", AnnouncementsAPI),
        (rf"{prefix}/api/courses/{SLUG}/announcements/(\w+)", AnnouncementAPI),
    ]
