"""Students' notes and bookmarks on lessons: private to whoever wrote them.

A note is markdown, shown as sanitised HTML (``content.markdown.to_safe_html``). A
bookmark is a note marked ``is_bookmark``; on a video lesson it keeps the second it was made
at (``video_seconds``) and the player jumps there. Nobody but the author reads, changes or
deletes a note: every lookup here is by author, and someone else's note is "not found".

Functions take an ``AsyncSession`` and leave committing to the caller; refusals raise
``NoteError`` with the HTTP status and a sentence that says what to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.content.markdown import to_safe_html
from coursehub.services.errors import Refusal
from coursehub.services.learning.progress import MAX_VIDEO_SECONDS
from coursehub.services.models import Course, Lesson, LessonKind, Module, Note

MAX_NOTE_CHARACTERS = 10_000
MAX_NOTES_PER_LESSON = 500
NOT_FOUND = "You have no such note. It may have been deleted already."


class NoteError(Refusal):
    """A refusal about notes; the message says what to do instead."""


def checked_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The note fields of a request body, checked; only those present when editing."""
    fields: dict[str, Any] = {}
    if "body" in body or creating:
        text = body.get("body", "")
        if not isinstance(text, str):
            raise NoteError("The note's text must be a string.")
        if len(text) > MAX_NOTE_CHARACTERS:
            raise NoteError(f"A note can be at most {MAX_NOTE_CHARACTERS:,} characters long.")
        fields["body"] = text.strip()
    if "is_bookmark" in body or creating:
        flag = body.get("is_bookmark", False)
        if not isinstance(flag, bool):
            raise NoteError("is_bookmark must be true or false.")
        fields["is_bookmark"] = flag
    if "video_seconds" in body:
        fields["video_seconds"] = _video_seconds(body["video_seconds"])
    return fields


def _video_seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise NoteError("video_seconds must be a number of seconds (or null).")
    if not 0 <= value <= MAX_VIDEO_SECONDS:
        raise NoteError("video_seconds must lie within the video.")
    return float(value)


async def add_note(
    session: AsyncSession, account_id: int, lesson: Lesson, fields: dict[str, Any]
) -> Note:
    if not fields["body"] and not fields["is_bookmark"]:
        raise NoteError("Write something in the note first.")
    if lesson.kind is not LessonKind.VIDEO:
        fields = {**fields, "video_seconds": None}
    count = await session.scalar(
        select(func.count())
        .select_from(Note)
        .where(Note.account_id == account_id, Note.lesson_id == lesson.id)
    )
    if (count or 0) >= MAX_NOTES_PER_LESSON:
        raise NoteError(
            f"You already have {MAX_NOTES_PER_LESSON} notes on this lesson; delete some first.",
            409,
        )
    note = Note(account_id=account_id, lesson_id=lesson.id, **fields)
    session.add(note)
    await session.flush()
    return note


async def own_note(session: AsyncSession, account_id: int, note_id: int) -> Note:
    note = await session.scalar(
        select(Note).where(Note.id == note_id, Note.account_id == account_id)
    )
    if note is None:
        raise NoteError(NOT_FOUND, 404)
    return note


async def update_note(session: AsyncSession, note: Note, fields: dict[str, Any]) -> Note:
    for name, value in fields.items():
        setattr(note, name, value)
    if not note.body and not note.is_bookmark:
        raise NoteError("A note needs some text; delete it instead if you no longer want it.")
    await session.flush()
    return note


async def delete_note(session: AsyncSession, account_id: int, note_id: int) -> None:
    deleted = await session.scalar(
        delete(Note).where(Note.id == note_id, Note.account_id == account_id).returning(Note.id)
    )
    if deleted is None:
        raise NoteError(NOT_FOUND, 404)


async def lesson_notes(session: AsyncSession, account_id: int, lesson_id: int) -> list[Note]:
    return list(
        await session.scalars(
            select(Note)
            .where(Note.account_id == account_id, Note.lesson_id == lesson_id)
            .order_by(Note.created_at, Note.id)
        )
    )


@dataclass(frozen=True)
class NoteInCourse:
    note: Note
    lesson_id: int
    lesson_title: str
    lesson_kind: LessonKind
    course_slug: str
    course_title: str


async def my_notes(session: AsyncSession, account_id: int) -> list[NoteInCourse]:
    """All of someone's notes with their lesson and course, newest first."""
    rows = await session.execute(
        select(Note, Lesson.id, Lesson.title, Lesson.kind, Course.slug, Course.title)
        .join(Lesson, Lesson.id == Note.lesson_id)
        .join(Module, Module.id == Lesson.module_id)
        .join(Course, Course.id == Module.course_id)
        .where(Note.account_id == account_id)
        .order_by(Note.created_at.desc(), Note.id.desc())
    )
    return [NoteInCourse(*row) for row in rows]


def note_json(note: Note) -> dict[str, Any]:
    return {
        "id": note.id,
        "lesson_id": note.lesson_id,
        "body": note.body,
        "html": to_safe_html(note.body),
        "is_bookmark": note.is_bookmark,
        "video_seconds": note.video_seconds,
        "created_at": note.created_at.isoformat() if note.created_at else None,
    }
