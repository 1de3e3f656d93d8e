"""Questions from another LMS's file into a course's bank: first a preview of what was
understood (each question checked as the quiz builder checks it) and what was skipped and
why, then the import itself, all or nothing: every understood question and its images in one
transaction (the caller commits; ``StoredImages`` removes the files if it does not)."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import SERVICE_PREFIX
from coursehub.services.content.markdown import to_safe_html
from coursehub.services.content.uploads import QUIZ_IMAGE, sniff_image
from coursehub.services.errors import StorageFull, storage_full
from coursehub.services.models import Account, Course, Quiz, QuizImage, QuizQuestion, Upload
from coursehub.services.quizzes import quiz_questions, quizzes
from coursehub.services.quizzes.question_formats import gift, moodle_xml, qti
from coursehub.services.quizzes.question_formats.incoming import (
    IMAGE_SCHEME,
    Incoming,
    ReadFile,
)
from coursehub.services.quizzes.question_formats.safe_files import check_size
from coursehub.services.quizzes.quiz_errors import QuizError

FORMATS = {
    moodle_xml.FORMAT: "Moodle XML",
    gift.FORMAT: "GIFT",
    qti.FORMAT: "QTI 1.2 (Canvas quiz export zip)",
}
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_QUESTIONS = 500
_IMAGE_REF = re.compile(rf'!\[([^\]]*)\]\({re.escape(IMAGE_SCHEME)}(image\d+)(?:\s+"[^"]*")?\)')
_TEXT_FIELDS = ("prompt", "explanation", "guidance")


def detect_format(data: bytes, filename: str, asked: str) -> str:
    """The format asked for, or else the one the file's first bytes and name show."""
    if asked:
        if asked not in FORMATS:
            raise QuizError(f"format must be one of {', '.join(FORMATS)} (or left out).")
        return asked
    if data.startswith(b"PK\x03\x04"):
        return qti.FORMAT
    head = data[:2000].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return qti.FORMAT if b"questestinterop" in data[:5000] else moodle_xml.FORMAT
    if filename.lower().endswith((".zip", ".xml")):
        return qti.FORMAT if filename.lower().endswith(".zip") else moodle_xml.FORMAT
    return gift.FORMAT


def _texts(fields: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Every markdown field of a question (and of its choices), as (holder, name)."""
    found = [(fields, name) for name in _TEXT_FIELDS if isinstance(fields.get(name), str)]
    found += [(choice, "text") for choice in fields.get("choices") or [] if "text" in choice]
    return found


def _drop_image(fields: dict[str, Any], key: str) -> None:
    for holder, name in _texts(fields):
        holder[name] = _IMAGE_REF.sub(
            lambda m: m.group(0) if m.group(2) != key else m.group(1), holder[name]
        )


def _settle_images(read: ReadFile) -> None:
    """Images CourseHub cannot show (not PNG, JPEG or WebP, or too large) become their
    descriptions, with a note on each question that showed one."""
    for key, body in list(read.images.items()):
        if sniff_image(body[:64]) is not None and len(body) <= MAX_IMAGE_BYTES:
            continue
        del read.images[key]
        for incoming in read.questions:
            before = repr(incoming.fields)
            _drop_image(incoming.fields, key)
            if repr(incoming.fields) != before:
                incoming.notes.append(
                    "An image that is not a PNG, JPEG or WebP of at most 5 MB was left out "
                    "(its description is shown)."
                )


@dataclass
class Understood:
    """A file read and checked: the questions the import would make, and what it skips."""

    read: ReadFile
    checked: list[tuple[Incoming, dict[str, Any]]] = field(default_factory=list)


def understand(data: bytes, filename: str = "", asked: str = "") -> Understood:
    """Read ``data`` and check every question in it; refuses (QuizError) a file that cannot
    be read at all."""
    check_size(data)
    fmt = detect_format(data, filename, asked)
    if fmt == qti.FORMAT and not data.startswith(b"PK"):
        read = qti.read_xml_only(data)
    else:
        read = {moodle_xml.FORMAT: moodle_xml.read, gift.FORMAT: gift.read, qti.FORMAT: qti.read}[
            fmt
        ](data)
    if len(read.questions) > MAX_QUESTIONS:
        raise QuizError(
            f"The file holds {len(read.questions)} questions; import at most {MAX_QUESTIONS} "
            "at a time."
        )
    _settle_images(read)
    understood = Understood(read)
    for incoming in read.questions:
        # Other LMSs allow longer and more tags than the bank keeps: the first ones, shortened.
        tags = [str(tag).strip()[:60] for tag in incoming.fields.get("tags") or []]
        incoming.fields["tags"] = list(dict.fromkeys(tag for tag in tags if tag))[:20]
        try:
            understood.checked.append((incoming, quiz_questions.check_question(incoming.fields)))
        except QuizError as error:
            read.skip(incoming.source, error.message)
    return understood


def preview_json(understood: Understood) -> dict[str, Any]:
    read = understood.read
    return {
        "format": read.format,
        "format_label": FORMATS[read.format],
        "title": read.title,
        "questions": [
            {
                "source": incoming.source,
                "kind": checked["kind"].value,
                "title": checked["title"],
                "points": checked["points"],
                "tags": checked["tags"],
                "prompt_html": to_safe_html(checked["prompt"], math=False),
                "images": len(set(_IMAGE_REF.findall(repr(incoming.fields)))),
                "notes": incoming.notes,
            }
            for incoming, checked in understood.checked
        ],
        "skipped": [{"source": s.source, "reason": s.reason} for s in read.skipped],
    }


class StoredImages:
    """The image files an import wrote; ``discard()`` removes them when it is not committed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.paths: list[Path] = []

    async def write(self, body: bytes, extension: str) -> str:
        name = secrets.token_hex(16) + extension

        def save() -> None:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / name).write_bytes(body)

        path = self.directory / name
        self.paths.append(path)
        try:
            await asyncio.to_thread(save)
        except OSError as error:
            if storage_full(error):
                raise StorageFull() from None
            raise
        return name

    def discard(self) -> None:
        for path in self.paths:
            path.unlink(missing_ok=True)
        self.paths = []


async def _store_images(
    session: AsyncSession,
    course: Course,
    author: Account,
    read: ReadFile,
    used: set[str],
    files: StoredImages,
) -> dict[str, str]:
    """Each image the questions show as an upload of the course's; key → its address."""
    addresses = {}
    for key in sorted(used):
        body = read.images[key]
        file_type = sniff_image(body[:64])
        assert file_type is not None  # _settle_images kept only these
        storage_name = await files.write(body, file_type.extension)
        upload = Upload(
            owner_id=author.id,
            purpose=QUIZ_IMAGE,
            content_type=file_type.content_type,
            size=len(body),
            storage_name=storage_name,
            original_name=f"{key}{file_type.extension}",
        )
        session.add(upload)
        await session.flush()
        session.add(QuizImage(course_id=course.id, upload_id=upload.id))
        addresses[key] = f"{SERVICE_PREFIX}/media/{upload.id}"
    return addresses


async def import_questions(
    session: AsyncSession,
    course: Course,
    author: Account,
    understood: Understood,
    files: StoredImages,
    quiz: Quiz | None = None,
) -> list[QuizQuestion]:
    """Every understood question into the course's bank (and, with ``quiz``, onto its end),
    their images stored; nothing is committed here."""
    if not understood.checked:
        raise QuizError(
            "Nothing in this file can be imported: every question was skipped (the preview "
            "says why).",
            422,
        )
    used = set()
    for incoming, _ in understood.checked:
        for holder, name in _texts(incoming.fields):
            used.update(key for _, key in _IMAGE_REF.findall(holder[name]))
    addresses = await _store_images(session, course, author, understood.read, used, files)
    made = []
    for incoming, _ in understood.checked:
        for holder, name in _texts(incoming.fields):
            holder[name] = _IMAGE_REF.sub(
                lambda m: f"![{m.group(1)}]({addresses[m.group(2)]})", holder[name]
            )
        question = await quiz_questions.create_question(session, course, author, incoming.fields)
        made.append(question)
        if quiz is not None:
            await quizzes.add_slot(session, quiz, {"question_id": question.id})
    return made
