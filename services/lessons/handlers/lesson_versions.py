"""Notebook lesson versions: publishing a notebook, listing and fetching versions, and the
instructor's preview of a version as a student would see it.

``POST /api/lessons/<id>/versions`` is the one endpoint the JupyterLab "Publish to course"
extension calls: the body is the raw ``.ipynb``, authenticated by a hub token or by the
browser session with XSRF. Role, ownership, lesson kind and the declared size are checked
before a byte of the body is read; a notebook that does not parse changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.services.content import notebook_preview
from coursehub.services.courses import authoring
from coursehub.services.models import Account, Lesson, LessonKind, LessonVersion
from coursehub.services.notebook_runs import publish_checks
from coursehub.services.settings import MB
from coursehub.services.web.teach_base import BodyStreamHandler, TeachHandler, row_id

NOTEBOOK_TYPES = ("application/x-ipynb+json", "application/json")


def version_json(
    version: LessonVersion, lesson: Lesson, prefix: str, created_by: str | None = None
) -> dict[str, Any]:
    return {
        "lesson_id": lesson.id,
        "version": version.number,
        "version_id": version.id,
        "sha256": version.sha256,
        "created_at": version.created_at,
        "created_by": created_by,
        "published": lesson.published_version_id == version.id,
        "url": f"{prefix}/api/lessons/{lesson.id}/versions/{version.number}",
        "preview_url": f"{prefix}/teach/lessons/{lesson.id}/versions/{version.number}/preview",
    }


def too_large_message(size: int, limit: int) -> str:
    return (
        f"The notebook is {size / MB:.1f} MB; the limit is {limit / MB:g} MB. Clear large "
        "outputs (Edit > Clear All Outputs) and try again."
    )


class VersionsHandler(TeachHandler):
    async def notebook_lesson(
        self, session: AsyncSession, lesson_id: str
    ) -> tuple[Account, Lesson]:
        account = await self.account(session)
        lesson = await authoring.lesson_for_editing(session, account, row_id(lesson_id))
        if lesson.kind is not LessonKind.NOTEBOOK:
            raise web.HTTPError(
                409,
                f"This is a {lesson.kind.value.lower()} lesson; only notebook lessons have "
                "notebook versions.",
            )
        return account, lesson


@web.stream_request_body
class LessonVersionsAPI(VersionsHandler, BodyStreamHandler):
    """GET: the lesson's versions. POST: publish the body as the lesson's newest version."""

    _body: bytearray

    async def check_upload(self) -> int:
        async with self.db() as session:
            await self.notebook_lesson(session, self.path_args[0])
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in NOTEBOOK_TYPES:
            raise web.HTTPError(
                415,
                "Send the .ipynb file itself as the request body, with Content-Type "
                "application/x-ipynb+json (or application/json).",
            )
        self._body = bytearray()
        return self.settings_obj.max_notebook_bytes

    def too_large(self, size: int) -> str:
        return too_large_message(size, self.settings_obj.max_notebook_bytes)

    def chunk(self, data: bytes) -> None:
        self._body += data

    async def get(self, lesson_id: str) -> None:
        prefix = self.settings_obj.service_prefix
        async with self.db() as session:
            _, lesson = await self.notebook_lesson(session, lesson_id)
            versions = await authoring.lesson_versions(session, lesson.id)
            authors = await authoring.version_authors(session, versions)
        self.write_json(
            {
                "lesson_id": lesson.id,
                "published_version": next(
                    (v.number for v in versions if v.id == lesson.published_version_id), None
                ),
                "versions": [
                    version_json(version, lesson, prefix, authors.get(version.id))
                    for version in versions
                ],
            }
        )

    async def post(self, lesson_id: str) -> None:
        self.raise_refusal()
        limit = self.settings_obj.max_notebook_bytes
        # The publish check (notebook_runs.publish_checks): run first, with no session open.
        anyway = publish_checks.wants_anyway(self.get_query_argument("publish_anyway", ""))
        async with self.db() as session:
            _, lesson = await self.notebook_lesson(session, lesson_id)
            files = await publish_checks.lesson_files_for_check(
                session, lesson, self.settings_obj.course_files_dir
            )
        run = await publish_checks.check_notebook(bytes(self._body), files)
        try:
            publish_checks.refuse_unless_anyway(run, anyway)
        except publish_checks.LessonCheckFailed as failed:
            refused = {"error": failed.message, "status": 422, "field": "notebook"}
            self.write_json({**refused, "check": failed.summary}, 422)
            return
        async with self.db() as session:
            account, lesson = await self.notebook_lesson(session, lesson_id)
            version, created = await authoring.publish_notebook_version(
                session, lesson, bytes(self._body), account, limit
            )
            await publish_checks.keep_check(session, version, run, account.id, anyway)
            await session.commit()
        body = version_json(version, lesson, self.settings_obj.service_prefix, account.username)
        body["created"] = created
        body["check"] = run.summary() if run else None
        self.set_header("Location", body["url"])
        self.write_json(body, 201 if created else 200)


class LessonVersionAPI(VersionsHandler):
    """One version's notebook, as a .ipynb file."""

    async def get(self, lesson_id: str, number: str) -> None:
        async with self.db() as session:
            _, lesson = await self.notebook_lesson(session, lesson_id)
            version = await authoring.version_by_number(session, lesson.id, row_id(number))
        self.set_header("Content-Type", "application/x-ipynb+json")
        self.set_header(
            "Content-Disposition",
            f'attachment; filename="lesson-{lesson.id}-v{version.number}.ipynb"',
        )
        self.finish(json.dumps(version.notebook, indent=1))


class VersionPreviewPage(VersionsHandler):
    """The instructor's page around the sandboxed preview of one version."""

    async def get(self, lesson_id: str, number: str) -> None:
        async with self.db() as session:
            _, lesson = await self.notebook_lesson(session, lesson_id)
            version = await authoring.version_by_number(session, lesson.id, row_id(number))
            course = await authoring.course_of_lesson(session, lesson)
        self.render_page(
            "teach_preview.html",
            course=course,
            lesson=lesson,
            version=version,
            published=lesson.published_version_id == version.id,
        )


class VersionRendering(VersionsHandler):
    """The version rendered to static HTML, meant for the preview page's sandboxed iframe.

    The Content-Security-Policy's ``sandbox`` keeps it harmless even when opened on its own.
    """

    async def get(self, lesson_id: str, number: str) -> None:
        async with self.db() as session:
            _, lesson = await self.notebook_lesson(session, lesson_id)
            version = await authoring.version_by_number(session, lesson.id, row_id(number))
        html = await notebook_preview.render_html_off_loop(version.notebook)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Content-Security-Policy", notebook_preview.CONTENT_SECURITY_POLICY)
        self.set_header("Cache-Control", "private, max-age=3600")
        self.finish(html)


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (rf"{prefix}/api/lessons/(\d+)/versions", LessonVersionsAPI),
        (rf"{prefix}/api/lessons/(\d+)/versions/(\d+)", LessonVersionAPI),
        (rf"{prefix}/teach/lessons/(\d+)/versions/(\d+)/preview", VersionPreviewPage),
        (rf"{prefix}/teach/lessons/(\d+)/versions/(\d+)/notebook\.html", VersionRendering),
    ]
