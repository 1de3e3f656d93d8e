"""The course's roster from its LMS (Names and Role Provisioning Services), for its staff:
each LMS course (LTI context) that launched into it, its last sync (when, how many added,
updated, left and failed, or why it failed) and its members; *Sync roster now* queues a
sync of every one of them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.services.courses import enrollment
from coursehub.services.courses.membership import membership
from coursehub.services.lti import roster
from coursehub.services.lti.platforms import LtiError
from coursehub.services.models import Course
from coursehub.services.web.base import BaseHandler

SLUG = r"([a-z0-9][a-z0-9-]{0,119})"
NO_ROSTER = (
    "No launch from this course's LMS has offered its roster yet (Names and Role "
    "Provisioning Services): launch CourseHub once from the LMS course, then sync."
)


def roster_json(view: roster.RosterView) -> dict[str, Any]:
    found = view.roster
    return {
        "context_id": view.context.context_id,
        "title": view.context.title,
        "offered": found is not None,
        "state": found.state if found else "never",
        "last_attempt_at": found.last_attempt_at if found else None,
        "last_synced_at": found.last_synced_at if found else None,
        "added": found.added if found else 0,
        "updated": found.updated if found else 0,
        "left": found.left if found else 0,
        "failed": found.failed if found else 0,
        "last_error": found.last_error if found else "",
        "members": [
            {**member.as_dict(), "username": account.username, "name": account.name}
            for member, account in view.members
        ],
    }


class RosterAPI(BaseHandler):
    """``GET|POST /api/lti/courses/<slug>/roster``: the course's LMS rosters and their last
    syncs; POST queues a sync of each (its staff: instructor, graders, administrators)."""

    async def course_for_staff(self, session: AsyncSession, slug: str) -> Course:
        account = await self.account(session)
        course = await enrollment.course_by_slug(session, slug)
        # Graders too: an LMS's instructors and TAs come in as the course's graders.
        if course is None or not (await membership(session, account, course)).grades:
            raise LtiError("There is no course of yours at this address.", 404)
        return course

    async def queue_all(self, session: AsyncSession, course: Course) -> int:
        views = await roster.course_rosters(session, course)
        offered = [view.roster for view in views if view.roster is not None]
        if not offered:
            raise LtiError(NO_ROSTER, 409)
        for found in offered:
            await roster.queue_sync(session, found)
        return len(offered)

    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            course = await self.course_for_staff(session, slug)
            views = await roster.course_rosters(session, course)
        self.write_json({"rosters": [roster_json(view) for view in views]})

    async def post(self, slug: str) -> None:
        async with self.db() as session:
            course = await self.course_for_staff(session, slug)
            queued = await self.queue_all(session, course)
            await session.commit()
        self.write_json({"queued": queued}, 202)


class RosterPage(RosterAPI):
    """``/lti/courses/<slug>/roster``: the same as a page, with *Sync roster now*."""

    async def get(self, slug: str, notice: str = "", problem: str = "") -> None:
        async with self.db(read_only=True) as session:
            course = await self.course_for_staff(session, slug)
            views = await roster.course_rosters(session, course)
        self.render_page(
            "lti_roster.html",
            course=course,
            rosters=[roster_json(view) for view in views],
            notice=notice,
            problem=problem,
        )

    async def post(self, slug: str) -> None:
        async with self.db() as session:
            course = await self.course_for_staff(session, slug)
            try:
                queued = await self.queue_all(session, course)
            except LtiError as error:
                await session.rollback()
                self.set_status(error.status)
                await self.get(slug, problem=error.message)
                return
            await session.commit()
        await self.get(
            slug,
            notice=f"The roster is being synced from the LMS ({queued} LMS "
            f"course{'s' if queued != 1 else ''}); reload this page in a moment.",
        )


def default_handlers(prefix: str) -> list[tuple[str, type[web.RequestHandler]]]:
    return [
        (rf"{prefix}/api/lti/courses/{SLUG}/roster", RosterAPI),
        (rf"{prefix}/lti/courses/{SLUG}/roster", RosterPage),
    ]
