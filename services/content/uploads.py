"""Uploaded files: course thumbnails and lesson videos.

A file's type is decided by its first bytes, never by its name or the browser's word. Files
are written to ``<data dir>/uploads`` chunk by chunk under names the service chooses (the
person's file name is only kept for display), and an ``Upload`` row records each one. Who may
download what is decided here too: thumbnails are public, a video only for the people of a
course that uses it.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Text, and_, cast, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services.errors import Refusal, StorageFull, storage_full
from coursehub.services.models import (
    Account,
    Course,
    CourseGrader,
    CourseStatus,
    Enrollment,
    Lesson,
    Module,
    Quiz,
    QuizAnswer,
    QuizAttempt,
    QuizImage,
    Upload,
)
from coursehub.services.settings import MB, Settings

THUMBNAIL = "thumbnail"
VIDEO = "video"
PURPOSES = (THUMBNAIL, VIDEO)
# Images of a course's quiz questions, stored by question import (never uploaded on their
# own): for the course's staff, graders and students (``QuizImage`` names the course).
QUIZ_IMAGE = "quiz_image"
# Enough of the file's beginning to recognise every accepted type.
SNIFF_BYTES = 64


class UploadError(Refusal):
    """An upload that cannot be kept; the message says what to do instead."""


@dataclass(frozen=True)
class FileType:
    content_type: str
    extension: str


PNG = FileType("image/png", ".png")
JPEG = FileType("image/jpeg", ".jpg")
WEBP = FileType("image/webp", ".webp")
MP4 = FileType("video/mp4", ".mp4")
WEBM = FileType("video/webm", ".webm")


def sniff_image(head: bytes) -> FileType | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


# The ISO base media brands browsers play as MP4 (ISO, MPEG-4, Apple M4V, DASH, 3GPP).
_MP4_BRANDS = re.compile(rb"^(iso[2-9m]|isom|mp4[12v]|avc1|M4V |M4VH|M4VP|dash|3gp[4-9]|f4v |mmp4)")
# EBML header magic, then the DocType element (0x42 0x82), its size, and "webm".
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_WEBM_DOCTYPE = re.compile(rb"\x42\x82[\x80-\xff]webm")


def sniff_video(head: bytes) -> FileType | None:
    # An MP4 starts with an 'ftyp' box: a 4-byte size, 'ftyp', then the major brand.
    if len(head) >= 12 and head[4:8] == b"ftyp" and _MP4_BRANDS.match(head[8:12]):
        return MP4
    if head.startswith(_EBML_MAGIC) and _WEBM_DOCTYPE.search(head[:SNIFF_BYTES]):
        return WEBM
    return None


def check_purpose(raw: str) -> str:
    if raw not in PURPOSES:
        raise UploadError("Say what the file is for: purpose=thumbnail or purpose=video.")
    return raw


def size_limit(settings: Settings, purpose: str) -> int:
    return settings.max_video_bytes if purpose == VIDEO else settings.max_thumbnail_bytes


def too_large(purpose: str, limit: int) -> UploadError:
    what = "A video" if purpose == VIDEO else "A thumbnail"
    advice = (
        "Compress it (for example to 720p H.264) or split it into shorter lessons."
        if purpose == VIDEO
        else "Save it smaller (1280 x 720 is plenty) and try again."
    )
    return UploadError(f"{what} can be at most {limit / MB:g} MB. {advice}", status=413)


def sniff(purpose: str, head: bytes) -> FileType:
    if purpose == VIDEO:
        found = sniff_video(head)
        if found is None:
            raise UploadError(
                "This file is not an MP4 or WebM video (whatever its name says). Export the "
                "video as MP4 (H.264) or WebM and upload that file."
            )
        return found
    found = sniff_image(head)
    if found is None:
        raise UploadError(
            "This file is not a PNG, JPEG or WebP image (whatever its name says). Save the "
            "thumbnail in one of those formats and upload it again."
        )
    return found


def clean_original_name(raw: str) -> str:
    """The person's file name, for display only: no folders, no control characters."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r"[\x00-\x1f\x7f]", "", name).strip()[:255]


class IncomingFile:
    """One file arriving in chunks: written to a part file, its type checked on arrival.

    Nothing is written until the first bytes show the right type, so a wrong file leaves
    nothing behind; ``keep()`` gives the part file its final name, ``discard()`` removes it.
    """

    def __init__(self, directory: Path, purpose: str, limit: int) -> None:
        self.directory = directory
        self.purpose = purpose
        self.limit = limit
        self.size = 0
        self.file_type: FileType | None = None
        self.error: Refusal | None = None
        self._head = b""
        self._file: BinaryIO | None = None
        self._part_path: Path | None = None

    async def write(self, chunk: bytes) -> None:
        if self.error is not None:
            return  # the rest of a refused body is read and dropped
        self.size += len(chunk)
        if self.size > self.limit:
            self._refuse(too_large(self.purpose, self.limit))
            return
        if self.file_type is None:
            self._head += chunk
            if len(self._head) < SNIFF_BYTES:
                return
            if not self._recognise():
                return
            chunk, self._head = self._head, b""
        await self._append_or_refuse(chunk)

    async def _append_or_refuse(self, chunk: bytes) -> None:
        # A full disk refuses the upload like any other problem: the rest of the body is read
        # and dropped, and the answer says so once it has all arrived (answering mid-upload
        # would drop the connection, and the person would see the proxy's 503 instead).
        try:
            await asyncio.to_thread(self._append, chunk)
        except OSError as error:
            if not storage_full(error):
                raise
            self._refuse(StorageFull())

    def _recognise(self) -> bool:
        try:
            self.file_type = sniff(self.purpose, self._head)
        except UploadError as error:
            self._refuse(error)
            return False
        return True

    def _append(self, chunk: bytes) -> None:
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._part_path = self.directory / f".part-{secrets.token_hex(12)}"
            self._file = self._part_path.open("xb")
        self._file.write(chunk)

    def _refuse(self, error: Refusal) -> None:
        self.error = error
        self.discard()

    async def complete(self) -> FileType:
        """The whole body has arrived: the file's type, or the reason it is refused."""
        if self.error is None and self.file_type is None:
            if self.size == 0:
                self.error = UploadError("The upload is empty; choose a file and try again.")
            elif self._recognise():
                await self._append_or_refuse(self._head)
        if self.error is None and self._file is not None:
            try:
                await asyncio.to_thread(self._file.close)  # flushes the last bytes
            except OSError as error:
                if not storage_full(error):
                    raise
                self._file = None
                self._refuse(StorageFull())
        if self.error is not None:
            self.discard()
            raise self.error
        assert self.file_type is not None
        return self.file_type

    def keep(self) -> str:
        """Give the finished file its final name; returns that name."""
        assert self.file_type is not None and self._part_path is not None
        storage_name = secrets.token_hex(16) + self.file_type.extension
        os.replace(self._part_path, self.directory / storage_name)
        self._part_path = None
        return storage_name

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._part_path is not None:
            self._part_path.unlink(missing_ok=True)
            self._part_path = None


async def receive_bytes(directory: Path, purpose: str, limit: int, data: bytes) -> IncomingFile:
    """An ``IncomingFile`` fed from bytes already in memory (a form's small file)."""
    incoming = IncomingFile(directory, purpose, limit)
    await incoming.write(data)
    await incoming.complete()
    return incoming


async def record(
    session: AsyncSession, incoming: IncomingFile, owner: Account, original_name: str
) -> Upload:
    """Keep the received file and add its ``Upload`` row (the caller commits)."""
    assert incoming.file_type is not None
    storage_name = incoming.keep()
    upload = Upload(
        owner_id=owner.id,
        purpose=incoming.purpose,
        content_type=incoming.file_type.content_type,
        size=incoming.size,
        storage_name=storage_name,
        original_name=clean_original_name(original_name),
    )
    session.add(upload)
    try:
        await session.flush()
    except Exception:
        (incoming.directory / storage_name).unlink(missing_ok=True)
        raise
    return upload


def upload_json(upload: Upload, prefix: str) -> dict[str, object]:
    return {
        "id": upload.id,
        "purpose": upload.purpose,
        "content_type": upload.content_type,
        "size": upload.size,
        "original_name": upload.original_name,
        "url": f"{prefix}/media/{upload.id}",
        "created_at": upload.created_at,
    }


async def upload_for_attaching(
    session: AsyncSession, account: Account, upload_id: object, purpose: str
) -> Upload:
    """The upload ``account`` may put on a course or lesson as its ``purpose``."""
    try:
        upload = await session.get(Upload, int(str(upload_id)))
    except ValueError:
        upload = None
    if upload is None or upload.purpose != purpose:
        raise UploadError(f"There is no such {purpose} upload; upload the file first.", 404)
    if upload.owner_id != account.id and account.role is not Role.ADMIN:
        raise UploadError(f"Use a {purpose} you uploaded yourself.", 403)
    return upload


# -- downloads ---------------------------------------------------------------------------------


async def may_download(session: AsyncSession, account: Account | None, upload: Upload) -> bool:
    """Thumbnails are public. A video is for staff and students of a course that uses it,
    and for anyone when a published course shows it in a preview lesson."""
    if upload.purpose == THUMBNAIL:
        return True
    if upload.purpose == QUIZ_IMAGE:
        return await _may_see_quiz_image(session, account, upload)
    rows = (
        await session.execute(
            select(Course.id, Course.instructor_id, Course.status, Lesson.is_preview)
            .join(Module, Module.course_id == Course.id)
            .join(Lesson, Lesson.module_id == Module.id)
            .where(Lesson.video_upload_id == upload.id)
        )
    ).all()
    if any(is_preview and status is CourseStatus.PUBLISHED for _, _, status, is_preview in rows):
        return True
    if account is None:
        return False
    if account.role is Role.ADMIN or upload.owner_id == account.id:
        return True
    if any(instructor_id == account.id for _, instructor_id, _, _ in rows):
        return True
    course_ids = {course_id for course_id, _, _, _ in rows}
    if not course_ids:
        return False
    enrolled = await session.scalar(
        select(Enrollment.id).where(
            Enrollment.account_id == account.id, Enrollment.course_id.in_(course_ids)
        )
    )
    return enrolled is not None


async def _may_see_quiz_image(
    session: AsyncSession, account: Account | None, upload: Upload
) -> bool:
    """A quiz question's image: its course's instructor and graders see it; a student sees it
    once a question showing it was drawn into an attempt of theirs (its explanation's images
    once that attempt is submitted), so a bank or draft question's image gives nothing away."""
    if account is None:
        return False
    if account.role is Role.ADMIN:
        return True
    course = await session.scalar(
        select(Course)
        .join(QuizImage, QuizImage.course_id == Course.id)
        .where(QuizImage.upload_id == upload.id)
    )
    if course is None:
        return False
    if course.instructor_id == account.id:
        return True
    grader = await session.scalar(
        select(CourseGrader.id).where(
            CourseGrader.account_id == account.id, CourseGrader.course_id == course.id
        )
    )
    if grader is not None:
        return True
    # The image's address, not followed by another digit (media/12 is not media/123).
    shows_it = f"/media/{upload.id}([^0-9]|$)"
    question_text = cast(QuizAnswer.question, Text)
    shown_before_submit = cast(
        QuizAnswer.question.op("#-")(text("'{explanation}'")).op("#-")(text("'{spec,guidance}'")),
        Text,
    )
    shown = await session.scalar(
        select(QuizAnswer.id)
        .join(QuizAttempt, QuizAttempt.id == QuizAnswer.attempt_id)
        .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
        .where(
            QuizAttempt.account_id == account.id,
            Quiz.course_id == course.id,
            or_(
                shown_before_submit.regexp_match(shows_it),
                and_(
                    QuizAttempt.submitted_at.is_not(None),
                    question_text.regexp_match(shows_it),
                ),
            ),
        )
        .limit(1)
    )
    return shown is not None


class RangeNotSatisfiable(ValueError):
    """A Range header this file cannot answer (416)."""


_BYTE_RANGE = re.compile(r"^(\d*)-(\d*)$")


def parse_byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range asked for, as (first, last) inclusive, clipped to the file.

    ``None`` means "send the whole file": no header, a unit other than bytes, or several
    ranges (which a server may ignore). A malformed or unsatisfiable range raises
    ``RangeNotSatisfiable``.
    """
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _BYTE_RANGE.match(spec.strip())
    if not match or match.groups() == ("", ""):
        raise RangeNotSatisfiable(f"{header!r} is not a byte range.")
    first_raw, last_raw = match.groups()
    if first_raw == "":
        suffix = int(last_raw)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable("An empty suffix range selects nothing.")
        return max(0, size - suffix), size - 1
    first = int(first_raw)
    last = int(last_raw) if last_raw else size - 1
    if last < first:
        raise RangeNotSatisfiable(f"{header!r} ends before it starts.")
    if first >= size:
        raise RangeNotSatisfiable(f"The file has {size} bytes; {header!r} starts after its end.")
    return first, min(last, size - 1)


def stored_path(settings: Settings, upload: Upload) -> Path:
    # storage_name is chosen by the service (hex and an extension), never by the uploader.
    return settings.uploads_dir / upload.storage_name
