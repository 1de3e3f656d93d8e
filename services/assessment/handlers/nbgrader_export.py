"""A course's assignments as an nbgrader course directory, for its staff (the instructor and
administrators), from the course's assignments page:

- ``POST /courses/<slug>/assignments/nbgrader-export``: a small course's zip at once; a large
  one's is queued for the worker (``nbgrader_export_jobs``), and the assignments page shows
  its link when it is ready
- ``GET /courses/<slug>/assignments/nbgrader-export/<token>.zip``: a built export

Graders, students and everyone else are refused: grades of every student and the
instructor's solutions are in it.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from coursehub.services.assessment import nbgrader_export, nbgrader_export_jobs
from coursehub.services.assessment.handlers.assignments import AssignmentsHandler
from coursehub.services.errors import Refusal
from coursehub.services.models import Course

STAFF_ONLY = (
    "Only the course's instructor and administrators can export it for nbgrader: the export "
    "holds the solutions and every student's work and grades."
)


class NbgraderExportHandler(AssignmentsHandler):
    async def staff_course(self, slug: str, *, read_only: bool) -> Course:
        async with self.db(read_only=read_only) as session:
            _, course = await self.course(session, slug)
        if not self.staff:
            raise Refusal(STAFF_ONLY, 403)
        return course

    async def send_zip(self, path: Path, name: str) -> None:
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.set_header("Cache-Control", "private, no-store")
        with path.open("rb") as file:
            while chunk := await asyncio.to_thread(file.read, 1 << 20):
                self.write(chunk)
                await self.flush()
        self.finish()


class NbgraderExport(NbgraderExportHandler):
    async def post(self, slug: str) -> None:
        async with self.db() as session:
            account, course = await self.course(session, slug)
            if not self.staff:
                raise Refusal(STAFF_ONLY, 403)
            size = await nbgrader_export_jobs.estimated_size(session, course)
            if nbgrader_export_jobs.builds_in_background(size):
                data_dir = self.settings_obj.data_dir
                await nbgrader_export_jobs.queue_export(session, data_dir, course, account)
                await session.commit()
                self.redirect(
                    f"{self.settings_obj.service_prefix}/courses/{course.slug}/assignments"
                    "?nbgrader_export=queued#nbgrader_export",
                    status=303,
                )
                return
            export = await nbgrader_export.collect(session, course)
        with tempfile.TemporaryDirectory(prefix="coursehub-nbgrader-zip-") as scratch:
            path = Path(scratch) / "export.zip"
            await asyncio.to_thread(nbgrader_export.write_zip, path, export)
            await self.send_zip(path, f"{course.slug}-nbgrader.zip")


class NbgraderExportDownload(NbgraderExportHandler):
    async def get(self, slug: str, token: str) -> None:
        course = await self.staff_course(slug, read_only=True)
        data_dir = self.settings_obj.data_dir
        state = nbgrader_export_jobs.find(data_dir, course.id, token)
        if state is None:
            raise Refusal(
                "There is no such export of this course (a newer one replaced it); export it "
                "again from the assignments page.",
                404,
            )
        if state.state == nbgrader_export_jobs.QUEUED:
            raise Refusal(
                "This export is still being built; its link works once the assignments page "
                "says it is ready.",
                409,
            )
        path = nbgrader_export_jobs.zip_path(data_dir, course.id, token)
        if state.state != nbgrader_export_jobs.READY or not path.is_file():
            raise Refusal("This export failed; export the course again.", 410)
        await self.send_zip(path, f"{course.slug}-nbgrader.zip")


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    base = rf"{prefix}/courses/([^/]+)/assignments/nbgrader-export"
    return [
        (base, NbgraderExport),
        (rf"{base}/([0-9a-f]{{32}})\.zip", NbgraderExportDownload),
    ]
