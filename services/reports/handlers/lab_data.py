"""A report's course data in the staff member's JupyterLab.

- ``GET /courses/<slug>/reports/<id>/lab`` ("Open course data in JupyterLab" on the report's
  page): checks that the signed-in person may run the report, starts their notebook server
  through the hub if needed, then sends the browser to ``/user/<name>/coursehub/course-data/
  <slug>/<id>`` in their own server, where the CourseHub extension fetches the copy below and
  opens ``~/course-data/<slug>/`` in JupyterLab.
- ``GET /api/courses/<slug>/reports/<id>/lab-data``: the snapshot (``reports.lab_data``).
"""

from __future__ import annotations

from tornado import web

from coursehub.services.lessons import user_servers
from coursehub.services.reports import lab_data
from coursehub.services.reports.handlers.reports import ReportHandler


class OpenCourseDataPage(ReportHandler):
    async def get(self, slug: str, report_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, course, place, report = await self.report(session, slug, report_id)
            if not place.grades:
                raise web.HTTPError(403, "Course data is for the course's staff.")
        try:
            server_url = await user_servers.running_server_url(
                self.settings_obj, self.current_user["name"]
            )
        except user_servers.ServerStartError as error:
            raise web.HTTPError(503, str(error)) from None
        self.redirect(f"{server_url.rstrip('/')}/coursehub/course-data/{course.slug}/{report.id}")


class CourseDataAPI(ReportHandler):
    async def get(self, slug: str, report_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, course, place, report = await self.report(session, slug, report_id)
            copy = await lab_data.course_data_for_lab(session, course, report, place)
        self.set_header("Cache-Control", "no-store")
        self.write_json(copy)


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (rf"{prefix}/courses/([^/]+)/reports/(\d+)/lab", OpenCourseDataPage),
        (rf"{prefix}/api/courses/([^/]+)/reports/(\d+)/lab-data", CourseDataAPI),
    ]
