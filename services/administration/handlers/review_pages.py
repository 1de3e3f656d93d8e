"""Course review pages.

- ``/admin/courses`` (``?status=&q=``): courses waiting for review first, then every course
- ``/admin/courses/<id>``: one course's review: its outline, history and fingerprint; POST
  ``action`` = approve (with the ``fingerprint`` the admin saw), return (``comment``),
  unpublish or archive (``comment``: the reason)
- ``/teach/courses/<id>/review``: the instructor's side: where the review stands, the
  history with every comment, and submitting (POST, optional ``note``)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.administration import course_review
from coursehub.services.administration.handlers.admin_base import AdminHandler
from coursehub.services.courses import authoring
from coursehub.services.errors import Refusal
from coursehub.services.models import Course, CourseStatus, ReviewEvent
from coursehub.services.web.base import BaseHandler

ADMIN_DONE = {
    "approve": "The course is approved and published.",
    "return": "The course went back to its instructor with your comments.",
    "unpublish": "The course is unpublished (a draft again); its instructor was told why.",
    "archive": "The course is archived; its instructor was told why.",
}
SUBMITTED = "Submitted: an administrator will review it."


class CoursesPage(AdminHandler):
    async def get(self) -> None:
        status = self.get_argument("status", "")
        text = self.get_argument("q", "").strip()[:200]
        async with self.db(read_only=True) as session:
            await self.account(session)
            waiting = await course_review.waiting_courses(session)
            query = select(Course).order_by(Course.title)
            if status in CourseStatus.__members__:
                query = query.where(Course.status == CourseStatus(status))
            if text:
                query = query.where(Course.title.ilike(f"%{text.replace('%', '')}%"))
            courses = list(await session.scalars(query.limit(500)))
            approval = (self.site.course_approval) if getattr(self, "site", None) else False
        self.render_page(
            "admin_courses.html",
            waiting=waiting,
            courses=courses,
            args={"status": status, "q": text},
            statuses=list(CourseStatus),
            approval=approval,
        )


class CourseReviewPage(AdminHandler):
    async def show(self, course_id: int, **context: Any) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
            course = await session.get(Course, course_id)
            if course is None:
                raise Refusal("There is no such course.", 404)
            view = await course_review.view(session, course)
            outline = await authoring.course_outline(session, course.id)
        self.render_page("admin_course_review.html", view=view, outline=outline, **context)

    async def get(self, course_id: str) -> None:
        done = ADMIN_DONE.get(self.get_argument("done", ""), "")
        await self.show(int(course_id), done=done)

    async def post(self, course_id: str) -> None:
        action = self.get_body_argument("action", "")
        comment = self.get_body_argument("comment", "")
        try:
            async with self.db() as session:
                actor = await self.account(session)
                course = await session.scalar(
                    select(Course).where(Course.id == int(course_id)).with_for_update(of=Course)
                )
                if course is None:
                    raise Refusal("There is no such course.", 404)
                if action == "approve":
                    await course_review.approve(
                        session, actor, course, self.get_body_argument("fingerprint", ""), comment
                    )
                elif action == "return":
                    await course_review.return_course(session, actor, course, comment)
                elif action in ("unpublish", "archive"):
                    event = (
                        ReviewEvent.UNPUBLISHED if action == "unpublish" else ReviewEvent.ARCHIVED
                    )
                    await course_review.take_down(session, actor, course, event, comment)
                else:
                    raise Refusal("Choose approve, return, unpublish or archive.", 400)
                await session.commit()
        except Refusal as error:
            self.set_status(error.status)
            await self.show(int(course_id), problem=error.message, comment=comment)
            return
        # After a change, a page of its own: reloading it changes nothing again.
        self.redirect(
            f"{self.settings_obj.service_prefix}/admin/courses/{course_id}?done={action}",
            status=303,
        )


class InstructorReviewPage(BaseHandler):
    min_role = Role.INSTRUCTOR

    async def show(self, course_id: int, **context: Any) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            course = await authoring.course_for_editing(session, account, course_id)
            view = await course_review.view(session, course)
        self.render_page("teach_review.html", view=view, course=course, **context)

    async def get(self, course_id: str) -> None:
        submitted = self.get_argument("done", "") == "submitted"
        await self.show(int(course_id), done=SUBMITTED if submitted else "")

    async def post(self, course_id: str) -> None:
        try:
            async with self.db() as session:
                account = await self.account(session)
                course = await authoring.course_for_editing(session, account, int(course_id))
                await course_review.submit(
                    session, account, course, self.get_body_argument("note", "")
                )
                await session.commit()
        except Refusal as error:
            if error.status in (403, 404):
                raise
            self.set_status(error.status)
            await self.show(int(course_id), problem=error.message)
            return
        self.redirect(
            f"{self.settings_obj.service_prefix}/teach/courses/{course_id}/review?done=submitted",
            status=303,
        )


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/admin/courses", CoursesPage),
        (rf"{prefix}/admin/courses/(\d+)", CourseReviewPage),
        (rf"{prefix}/teach/courses/(\d+)/review", InstructorReviewPage),
    ]
