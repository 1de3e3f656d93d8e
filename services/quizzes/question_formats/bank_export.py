"""A course's bank, or one quiz's questions, as a Moodle XML file or a QTI 1.2 zip, with the
images they show (only the course's own). Code and calculated questions have no counterpart
elsewhere and are left out, as are fill-in questions whose every answer is a pattern."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.content.uploads import stored_path
from coursehub.services.models import Course, Quiz, QuizImage, QuizQuestion, Upload
from coursehub.services.quizzes import calculated_questions, quiz_questions, quizzes
from coursehub.services.quizzes.question_formats import common, moodle_xml, qti
from coursehub.services.quizzes.question_formats.html_markdown import OWN_IMAGE
from coursehub.services.quizzes.quiz_errors import QuizError
from coursehub.services.settings import Settings

EXPORT_FORMATS = (moodle_xml.FORMAT, qti.FORMAT)


@dataclass
class Export:
    filename: str
    content_type: str
    body: bytes
    left_out: list[str]


def _exportable(question: QuizQuestion, fmt: str) -> str | None:
    """Why a question cannot be exported, or None."""
    if question.kind.value == "CODE":
        return "code questions have no counterpart in other LMSs"
    if calculated_questions.is_calculated(question.spec):
        return "calculated questions run CourseHub notebooks"
    if question.kind.value == "FILL_IN":
        answers = question.spec["answers"]
        numeric = all(a["mode"] == "numeric" for a in answers)
        wildcards = fmt == moodle_xml.FORMAT
        texts = [common.answer_text_for_export(a, wildcards=wildcards) for a in answers]
        if not numeric and not any(texts):
            return "its accepted answers are patterns, which other LMSs do not read"
    return None


async def _questions(
    session: AsyncSession, course: Course, quiz: Quiz | None
) -> list[QuizQuestion]:
    if quiz is None:
        return await quiz_questions.bank(session, course)
    return [question for _, question in await quizzes.slots_of(session, quiz) if question]


async def _images(
    session: AsyncSession, settings: Settings, course: Course, questions: list[dict[str, Any]]
) -> dict[int, tuple[str, bytes]]:
    """The course's images the questions show, by upload id: a file name and the bytes."""
    ids = {int(n) for n in OWN_IMAGE.findall(repr(questions))}
    if not ids:
        return {}
    rows = await session.scalars(
        select(Upload)
        .join(QuizImage, QuizImage.upload_id == Upload.id)
        .where(QuizImage.course_id == course.id, Upload.id.in_(ids))
    )
    images = {}
    for upload in rows:
        extension = upload.storage_name.rsplit(".", 1)[-1]
        try:
            body = await asyncio.to_thread(stored_path(settings, upload).read_bytes)
        except FileNotFoundError:
            continue
        images[upload.id] = (f"image-{upload.id}.{extension}", body)
    return images


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "questions"


async def export(
    session: AsyncSession, settings: Settings, course: Course, quiz: Quiz | None, fmt: str
) -> Export:
    if fmt not in EXPORT_FORMATS:
        raise QuizError(f"format must be one of {', '.join(EXPORT_FORMATS)}.")
    left_out, kept = [], []
    for question in await _questions(session, course, quiz):
        reason = _exportable(question, fmt)
        if reason:
            left_out.append(f"{question.title}: {reason}")
        else:
            kept.append(quiz_questions.question_json(question))
    images = await _images(session, settings, course, kept)
    title = quiz.title if quiz else f"{course.title} question bank"
    name = _slug(title)
    if fmt == moodle_xml.FORMAT:
        body = moodle_xml.write(kept, images)
        return Export(f"{name}.xml", "application/xml", body, left_out)
    return Export(f"{name}-qti.zip", "application/zip", qti.write(title, kept, images), left_out)
