"""A notebook lesson's data files, where its kernel finds them.

A lesson reads its data the way it did on the author's machine, ``open("data/weather.csv")``:
relative to the notebook. The lesson kernel's working directory is the course's files folder,
``<data>/course-files/<course id>``, bound read-only in the sandbox
(``lessons.lesson_kernel``). Two things fill that folder:

- the course's ``data/`` folder, published with the course's content:
  ``publish_course_data`` (what ``coursehub up`` calls for the demo course's
  ``course_content/<course>/data``);
- files an instructor uploads with a lesson (the lesson editor, or
  ``POST /api/lessons/<id>/files``), kept in the database (``lesson_files``) so that they are
  published with the lesson and written again wherever the service runs; each is written
  into the folder at its path (``data/weather.csv``) when it is uploaded and whenever the
  lesson's page is made for the first time in a process.

The folder is the course's: lessons of one course share it, as notebooks in one folder of the
author's machine do. Files are written whole (a temporary file, then a rename) and readable by
the kernel's unprivileged user, never writable by it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.errors import Refusal
from coursehub.services.models import LessonFile
from coursehub.services.models.base import utcnow

_PART = re.compile(r"^[\w][\w .-]{0,99}$")
DEFAULT_FOLDER = "data"
MAX_FILES = 50


def clean_path(name: str, folder: str = DEFAULT_FOLDER) -> str:
    """A file's path under the lesson's working directory: ``folder/name`` for a bare name,
    as given for a relative path; never outside the folder."""
    raw = name.replace("\\", "/").strip()
    absolute = raw.startswith("/")
    raw = raw.strip("/")
    if "/" not in raw and folder.strip("/"):
        raw = f"{folder.strip('/')}/{raw}"
    parts = raw.split("/")
    if absolute or not raw or len(raw) > 500 or not all(_PART.match(part) for part in parts):
        raise Refusal(
            f"{name!r} cannot be a data file's name: use letters, digits, spaces, '.', '-' and "
            "'_', in folders like data/weather.csv (no '..').",
            400,
            "file",
        )
    if parts[-1].endswith(".ipynb"):
        raise Refusal("Publish notebooks as lesson versions, not as data files.", 400, "file")
    return raw


def course_folder(course_files_dir: Path, course_id: int) -> Path:
    return course_files_dir / str(course_id)


def write_file(course_files_dir: Path, course_id: int, path: str, content: bytes) -> None:
    """Write one file into the course's folder, whole, readable by the lesson kernel."""
    target = course_folder(course_files_dir, course_id) / clean_path(path, folder="")
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    root = course_folder(course_files_dir, course_id)
    for made in [folder, *folder.parents]:
        made.chmod(0o755)  # the kernel's user reads, never writes
        if made == root:
            break
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".writing-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_file(course_files_dir: Path, course_id: int, path: str) -> None:
    (course_folder(course_files_dir, course_id) / clean_path(path, folder="")).unlink(
        missing_ok=True
    )


def publish_course_data(course_files_dir: Path, course_id: int, data_folder: Path) -> list[str]:
    """Publish a course's ``data/`` folder (the one beside its notebooks) into the course's
    files folder, where every lesson kernel of the course finds it as ``data/...``.

    Returns the published paths (``data/weather.csv``, ...); a missing folder publishes
    nothing. Files already there with other names are left alone."""
    if not data_folder.is_dir():
        return []
    published = []
    for source in sorted(data_folder.rglob("*")):
        hidden = any(part.startswith(".") for part in source.relative_to(data_folder).parts)
        if source.is_file() and not hidden:
            relative = f"{DEFAULT_FOLDER}/{source.relative_to(data_folder).as_posix()}"
            write_file(course_files_dir, course_id, relative, source.read_bytes())
            published.append(relative)
    return published


def drop_course_files(course_files_dir: Path, course_id: int) -> None:
    shutil.rmtree(course_folder(course_files_dir, course_id), ignore_errors=True)


# -- the lesson's files in the database ----------------------------------------------------


async def files_of(session: AsyncSession, lesson_id: int) -> list[LessonFile]:
    rows = await session.scalars(
        select(LessonFile).where(LessonFile.lesson_id == lesson_id).order_by(LessonFile.path)
    )
    return list(rows)


async def files_stamp(session: AsyncSession, lesson_id: int) -> str:
    """Changes whenever the lesson's files do ("" without files): part of the lesson file's
    name, so that pre-heated kernels that ran the lesson without the new files are let go."""
    count, newest, names = (
        await session.execute(
            select(
                func.count(LessonFile.id),
                func.max(LessonFile.updated_at),
                func.string_agg(LessonFile.path, "/"),
            ).where(LessonFile.lesson_id == lesson_id)
        )
    ).one()
    if not count:
        return ""
    return hashlib.sha256(f"{count}|{newest}|{names}".encode()).hexdigest()[:10]


async def add_file(
    session: AsyncSession, lesson_id: int, path: str, content: bytes, max_bytes: int
) -> LessonFile:
    """Add (or replace) a data file of the lesson; the caller commits and writes it out."""
    if len(content) > max_bytes:
        raise Refusal(
            f"The file is {len(content) / 1e6:.1f} MB; a lesson's data file may be at most "
            f"{max_bytes / 1e6:g} MB.",
            413,
            "file",
        )
    existing = await session.scalar(
        select(LessonFile).where(LessonFile.lesson_id == lesson_id, LessonFile.path == path)
    )
    if existing is None:
        count = await session.scalar(
            select(func.count(LessonFile.id)).where(LessonFile.lesson_id == lesson_id)
        )
        if (count or 0) >= MAX_FILES:
            raise Refusal(
                f"A lesson has at most {MAX_FILES} data files; remove one first.", 409, "file"
            )
        existing = LessonFile(lesson_id=lesson_id, path=path)
        session.add(existing)
    existing.content, existing.size, existing.updated_at = content, len(content), utcnow()
    await session.flush()
    return existing


async def delete_file(session: AsyncSession, lesson_id: int, file_id: int) -> LessonFile:
    row = await session.get(LessonFile, file_id)
    if row is None or row.lesson_id != lesson_id:
        raise Refusal("This lesson has no such data file.", 404)
    await session.delete(row)
    await session.flush()
    return row


async def write_lesson_files(
    session: AsyncSession, course_files_dir: Path, course_id: int, lesson_id: int
) -> None:
    """Write every file of the lesson into the course's folder (before its page is made)."""
    for row in await files_of(session, lesson_id):
        await asyncio.to_thread(write_file, course_files_dir, course_id, row.path, row.content)
