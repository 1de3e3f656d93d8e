"""CourseHub and JupyterLab: "Open in JupyterLab" for a lesson, and what the CourseHub server
extension inside every notebook server asks the course service.

- ``GET /lab/open/<lesson id>`` (the player links here): checks that the signed-in person may
  open the lesson, starts their server through the hub if it is not running and waits for
  it, then sends the browser to ``/user/<name>/coursehub/open/<lesson id>`` in their own
  server. There the extension fetches the copy below (as that person, with the server's hub
  token), writes it to ``~/courses/<course slug>/<file>.ipynb`` unless a copy is already
  there, and redirects to ``/user/<name>/lab/tree/courses/<course slug>/<file>.ipynb``.
- ``GET /api/lab/lessons``: the notebook lessons the caller may publish to (empty for
  students), for JupyterLab's "Publish to course…".
- ``GET /api/lab/lessons/<lesson id>/copy``: the lesson's newest published notebook and where
  it goes in the caller's home, if they may open it.
"""

from __future__ import annotations

from tornado import web

from coursehub.hub.constants import Role
from coursehub.services.lessons import lab_access, user_servers
from coursehub.services.web.base import BaseHandler


class LabHandler(BaseHandler):
    async def openable(self, lesson_id: str) -> lab_access.OpenableLesson:
        async with self.db() as session:
            account = await self.account(session)
            return await lab_access.openable_lesson(session, account, int(lesson_id))


class OpenInLabPage(LabHandler):
    async def get(self, lesson_id: str) -> None:
        await self.openable(lesson_id)
        try:
            server_url = await user_servers.running_server_url(
                self.settings_obj, self.current_user["name"]
            )
        except user_servers.ServerStartError as error:
            raise web.HTTPError(503, str(error)) from None
        self.redirect(f"{server_url.rstrip('/')}/coursehub/open/{int(lesson_id)}")


class PublishTargetsAPI(BaseHandler):
    async def get(self) -> None:
        async with self.db() as session:
            account = await self.account(session)
            lessons = await lab_access.publish_targets(session, account)
            await session.commit()  # a first visit creates the account row
        can_publish = account.role.at_least(Role.INSTRUCTOR)
        self.write_json({"can_publish": can_publish, "lessons": lessons})


class LessonCopyAPI(BaseHandler):
    async def get(self, lesson_id: str) -> None:
        async with self.db() as session:
            account = await self.account(session)
            copy = await lab_access.lesson_copy(session, account, int(lesson_id))
        self.write_json(copy)


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/lab/open/([0-9]{{1,12}})", OpenInLabPage),
        (f"{prefix}/api/lab/lessons", PublishTargetsAPI),
        (f"{prefix}/api/lab/lessons/([0-9]{{1,12}})/copy", LessonCopyAPI),
    ]
