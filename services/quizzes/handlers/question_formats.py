"""Question files of other LMSs, for a course's staff (others: 403, or 404 for a course they
may not see):

- ``POST /api/courses/<slug>/quiz-bank/import/preview``: the file (a multipart ``file`` field,
  or the raw body with ``?filename=``), optionally ``?format=moodle_xml|gift|qti``: what would
  be imported and what is skipped and why; nothing is stored
- ``POST /api/courses/<slug>/quiz-bank/import``: the same file, imported all or nothing into
  the bank (and, with ``?quiz_id=``, onto the end of that quiz); 201 with the new questions
- ``GET /api/courses/<slug>/quiz-bank/export?format=moodle_xml|qti[&quiz_id=]``: the bank or
  one quiz as a Moodle XML file or a QTI 1.2 zip (what was left out in
  ``X-CourseHub-Left-Out``)
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.services.models import Course, Quiz
from coursehub.services.quizzes import quiz_questions, quizzes
from coursehub.services.quizzes.handlers.quizzes import QuizHandler, staff_view
from coursehub.services.quizzes.question_formats import bank_export, bank_import
from coursehub.services.quizzes.question_formats.safe_files import MAX_FILE_BYTES, MB
from coursehub.services.web.teach_base import row_id


class QuestionFileHandler(QuizHandler):
    def question_file(self) -> tuple[bytes, str]:
        """The uploaded file and its name."""
        if len(self.request.body) > MAX_FILE_BYTES + MB:
            raise web.HTTPError(
                413, f"Question files can be at most {MAX_FILE_BYTES // MB} MB; export fewer."
            )
        files = self.request.files
        if files:
            chosen = (files.get("file") or next(iter(files.values())))[0]
            return chosen["body"], chosen.get("filename") or ""
        return self.request.body, self.get_argument("filename", "")

    async def understood(self) -> bank_import.Understood:
        """The file read and checked, in a thread: a large file takes a while to parse."""
        data, filename = self.question_file()
        asked = self.get_argument("format", "").strip()
        return await asyncio.to_thread(bank_import.understand, data, filename, asked)

    async def target_quiz(self, session: AsyncSession, course: Course) -> Quiz | None:
        raw = self.get_argument("quiz_id", "").strip()
        if not raw:
            return None
        if not raw.isdigit():
            raise web.HTTPError(400, "quiz_id must be the number of one of the course's quizzes.")
        return await quizzes.quiz_in_course(session, course, row_id(raw), staff=True)


class ImportPreviewAPI(QuestionFileHandler):
    async def post(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            _, course = await self.course(session, slug, staff_only=True)
            await self.target_quiz(session, course)
        self.write_json(bank_import.preview_json(await self.understood()))


class ImportAPI(QuestionFileHandler):
    async def post(self, slug: str) -> None:
        async with self.db() as session:
            account, course = await self.course(session, slug, staff_only=True)
            quiz = await self.target_quiz(session, course)
            understood = await self.understood()
            files = bank_import.StoredImages(self.settings_obj.uploads_dir)
            try:
                made = await bank_import.import_questions(
                    session, course, account, understood, files, quiz
                )
                await session.commit()
            except BaseException:
                files.discard()
                raise
            body: dict[str, Any] = {
                "questions": [quiz_questions.question_json(q) for q in made],
                "skipped": bank_import.preview_json(understood)["skipped"],
            }
            if quiz is not None:
                body["quiz"] = await staff_view(session, quiz)
        self.write_json(body, 201)


class ExportAPI(QuestionFileHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            _, course = await self.course(session, slug, staff_only=True)
            quiz = await self.target_quiz(session, course)
            made = await bank_export.export(
                session,
                self.settings_obj,
                course,
                quiz,
                self.get_argument("format", bank_export.moodle_xml.FORMAT).strip(),
            )
        self.set_header("Content-Type", made.content_type)
        self.set_header(
            "Content-Disposition", f"attachment; filename*=UTF-8''{quote(made.filename)}"
        )
        self.set_header("Cache-Control", "no-store")
        if made.left_out:
            self.set_header("X-CourseHub-Left-Out", quote("; ".join(made.left_out))[:4000])
        self.finish(made.body)


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    bank = rf"{prefix}/api/courses/([^/]+)/quiz-bank"
    return [
        (rf"{bank}/import/preview", ImportPreviewAPI),
        (rf"{bank}/import", ImportAPI),
        (rf"{bank}/export", ExportAPI),
    ]
