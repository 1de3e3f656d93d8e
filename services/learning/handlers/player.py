"""The course player: ``/learn/<course slug>/<lesson id>``.

One page per lesson: the syllabus with completion marks, the lesson (a notebook rendered live
by the lesson server in a sandboxed frame, a text, a video, or a pointer to its assessments),
previous/next, and the student's own notes. Opening the page records the visit for enrolled
students (``learning.progress.record_open``); for a notebook lesson its frame does,
when the lesson server's page is served.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.learning import player, progress
from coursehub.services.lessons.lesson_access import LessonAccessError, OpenLesson, open_lesson
from coursehub.services.lessons.lesson_proxy import FRAME_SANDBOX
from coursehub.services.models import Account
from coursehub.services.web.base import BaseHandler


async def lesson_for(
    handler: BaseHandler, session: AsyncSession, slug: str, lesson_id: str
) -> tuple[Account, OpenLesson]:
    """The signed-in account and the lesson as they may open it, or the refusal why not."""
    account = await handler.account(session)
    return account, await open_lesson(session, account, slug, int(lesson_id))


async def visitor_or_account(handler: BaseHandler, session: AsyncSession) -> Account | None:
    """The signed-in account, or None for a signed-out visitor."""
    return await handler.account(session) if handler.current_user else None


class PlayerPage(BaseHandler):
    # Preview lessons are open to signed-out visitors; any other lesson sends them to sign in.
    public = True

    async def get(self, slug: str, lesson_id: str) -> None:
        async with self.db() as session:
            account = await visitor_or_account(self, session)
            try:
                opened = await open_lesson(session, account, slug, int(lesson_id))
            except LessonAccessError as refused:
                if account is None and refused.status != 404:
                    self.redirect(self.get_login_url())
                    return
                if refused.status == 403 and refused.course is not None:
                    self.set_status(403)
                    self.render_page(
                        "lesson_locked.html", course=refused.course, message=refused.message
                    )
                    return
                raise
            view = await player.player_view(session, opened)
            # A notebook lesson is opened by its frame (learning/handlers/lesson_frames.py), which
            # records the visit; every other kind is opened by this page.
            if opened.records_progress and opened.notebook_path is None:
                await progress.record_open(
                    session, opened.account_id, opened.course.id, opened.lesson.id
                )
                await session.commit()
        self.set_header("Cache-Control", "no-store")
        self.render_page(
            "player.html",
            view=view,
            course=opened.course,
            lesson=opened.lesson,
            page_data=view.page_data(self.settings_obj.service_prefix),
            frame_sandbox=FRAME_SANDBOX,
            xsrf_token=self.xsrf_token.decode(),
            kind_labels=player.KIND_LABELS,
        )


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    return [(rf"{prefix}/learn/([\w-]+)/(\d+)/?", PlayerPage)]
