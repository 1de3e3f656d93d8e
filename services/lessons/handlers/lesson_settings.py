"""A notebook lesson's settings for students' eyes: "show code cells", and its data files.

- ``PUT /api/lessons/<id>/display`` ``{"show_code": true}``; the lesson editor's form posts
  ``/teach/lessons/<id>/display``.
- ``GET /api/lessons/<id>/files`` lists the lesson's data files; ``POST`` adds one (the raw
  file as the body, its path as ``?path=data/weather.csv``); ``DELETE
  /api/lessons/<id>/files/<file id>`` removes one. The lesson editor's forms post
  ``/teach/lessons/<id>/files`` (multipart, field ``file``, optional ``folder``) and
  ``/teach/lessons/<id>/files/<file id>/delete``.

Only the lesson's course staff (``authoring.lesson_for_editing``) change them; the files are
written into the course's files folder at once (``lessons.lesson_files``), where the lesson's
kernels find them, read-only.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.courses import authoring
from coursehub.services.errors import Refusal
from coursehub.services.lessons import lesson_files
from coursehub.services.models import Lesson, LessonFile, LessonKind
from coursehub.services.web.teach_base import TeachHandler, row_id


def file_json(row: LessonFile) -> dict[str, Any]:
    return {"id": row.id, "path": row.path, "size": row.size, "updated_at": row.updated_at}


class LessonSettingsHandler(TeachHandler):
    async def notebook_lesson(self, session: AsyncSession, lesson_id: str) -> Lesson:
        account = await self.account(session)
        lesson = await authoring.lesson_for_editing(session, account, row_id(lesson_id))
        if lesson.kind is not LessonKind.NOTEBOOK:
            raise Refusal(
                f"This is a {lesson.kind.value.lower()} lesson; code cells and data files "
                "belong to notebook lessons.",
                409,
            )
        return lesson

    async def set_show_code(self, lesson_id: str, show_code: bool) -> Lesson:
        async with self.db() as session:
            lesson = await self.notebook_lesson(session, lesson_id)
            lesson.show_code = show_code
            await session.commit()
        return lesson

    async def add_file(self, lesson_id: str, name: str, content: bytes, folder: str) -> LessonFile:
        async with self.db() as session:
            lesson = await self.notebook_lesson(session, lesson_id)
            course = await authoring.course_of_lesson(session, lesson)
            path = lesson_files.clean_path(name, folder)
            row = await lesson_files.add_file(
                session, lesson.id, path, content, self.settings_obj.max_notebook_bytes
            )
            await session.commit()
        await asyncio.to_thread(
            lesson_files.write_file, self.settings_obj.course_files_dir, course.id, path, content
        )
        return row

    async def delete_file(self, lesson_id: str, file_id: str) -> None:
        async with self.db() as session:
            lesson = await self.notebook_lesson(session, lesson_id)
            course = await authoring.course_of_lesson(session, lesson)
            row = await lesson_files.delete_file(session, lesson.id, row_id(file_id))
            await session.commit()
        await asyncio.to_thread(
            lesson_files.remove_file, self.settings_obj.course_files_dir, course.id, row.path
        )

    def back_to_editor(self, lesson_id: str, done: str) -> None:
        prefix = self.settings_obj.service_prefix
        self.redirect(f"{prefix}/teach/lessons/{lesson_id}?done={done}#lesson_display")


class LessonDisplayAPI(LessonSettingsHandler):
    async def put(self, lesson_id: str) -> None:
        show_code = self.json_body().get("show_code")
        if not isinstance(show_code, bool):
            raise Refusal("show_code must be true or false.", 400, "show_code")
        lesson = await self.set_show_code(lesson_id, show_code)
        self.write_json({"lesson_id": lesson.id, "show_code": lesson.show_code})


class LessonDisplayPage(LessonSettingsHandler):
    async def post(self, lesson_id: str) -> None:
        await self.set_show_code(lesson_id, bool(self.get_body_argument("show_code", "")))
        self.back_to_editor(lesson_id, "display-saved")


class LessonFilesAPI(LessonSettingsHandler):
    async def get(self, lesson_id: str) -> None:
        async with self.db(read_only=True) as session:
            lesson = await self.notebook_lesson(session, lesson_id)
            rows = await lesson_files.files_of(session, lesson.id)
        self.write_json({"files": [file_json(row) for row in rows]})

    async def post(self, lesson_id: str) -> None:
        name = self.get_query_argument("path", "")
        row = await self.add_file(lesson_id, name, self.request.body, folder="")
        self.write_json(file_json(row), status=201)


class LessonFileAPI(LessonSettingsHandler):
    async def delete(self, lesson_id: str, file_id: str) -> None:
        await self.delete_file(lesson_id, file_id)
        self.set_status(204)
        self.finish()


class LessonFilesPage(LessonSettingsHandler):
    async def post(self, lesson_id: str) -> None:
        uploads = self.request.files.get("file", [])
        if not uploads:
            raise Refusal("Choose a file to upload.", 400, "file")
        folder = self.get_body_argument("folder", lesson_files.DEFAULT_FOLDER)
        for upload in uploads:
            await self.add_file(lesson_id, upload["filename"], upload["body"], folder)
        self.back_to_editor(lesson_id, "files-added")


class LessonFileDeletePage(LessonSettingsHandler):
    async def post(self, lesson_id: str, file_id: str) -> None:
        await self.delete_file(lesson_id, file_id)
        self.back_to_editor(lesson_id, "file-removed")


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    return [
        (rf"{prefix}/api/lessons/(\d+)/display", LessonDisplayAPI),
        (rf"{prefix}/api/lessons/(\d+)/files", LessonFilesAPI),
        (rf"{prefix}/api/lessons/(\d+)/files/(\d+)", LessonFileAPI),
        (rf"{prefix}/teach/lessons/(\d+)/display", LessonDisplayPage),
        (rf"{prefix}/teach/lessons/(\d+)/files", LessonFilesPage),
        (rf"{prefix}/teach/lessons/(\d+)/files/(\d+)/delete", LessonFileDeletePage),
    ]
