"""The gradebook of a course.

- ``GET /api/courses/<slug>/gradebook``: staff get every enrolled student's row; a student
  gets their own row only (their grade view).
- ``GET /api/courses/<slug>/gradebook.csv?format=plain|canvas``: staff only, as a download.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from coursehub.services import gradebook
from coursehub.services.handlers.assignments import STAFF_ONLY, AssignmentsHandler

FORMATS = {"plain": gradebook.plain_csv, "canvas": gradebook.canvas_csv}


class GradebookAPI(AssignmentsHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            account, course = await self.course(session, slug)
            only = None if self.staff else account.id
            book = await gradebook.course_gradebook(session, course, only_account=only)
        self.write_json({**book.to_json(), "staff": self.staff})


class GradebookCSV(AssignmentsHandler):
    async def get(self, slug: str) -> None:
        kind = self.get_argument("format", "plain")
        if kind not in FORMATS:
            raise web.HTTPError(400, "Ask for format=plain or format=canvas.")
        async with self.db(read_only=True) as session:
            _, course = await self.course(session, slug)
            if not self.staff:
                raise web.HTTPError(403, STAFF_ONLY)
            book = await gradebook.course_gradebook(session, course)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header(
            "Content-Disposition", f'attachment; filename="{course.slug}-grades-{kind}.csv"'
        )
        self.finish(FORMATS[kind](book))


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    return [
        (rf"{prefix}/api/courses/([^/]+)/gradebook", GradebookAPI),
        (rf"{prefix}/api/courses/([^/]+)/gradebook\.csv", GradebookCSV),
    ]
