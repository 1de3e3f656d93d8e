"""Notes and bookmarks: "My notes" (``/notes``) and their JSON API.

- ``/api/learn/<course slug>/<lesson id>/notes``: GET my notes on a lesson, POST a new one
  (``{"body": markdown, "is_bookmark": bool, "video_seconds": s}``); both need the lesson.
- ``/api/notes``: GET all my notes; ``/api/notes/<id>``: PATCH or DELETE one of mine.

A note is its author's alone: anyone else asking for it is told it does not exist.
"""

from __future__ import annotations

from typing import Any

from coursehub.services.learning import notes
from coursehub.services.learning.handlers.player import lesson_for
from coursehub.services.web.base import BaseHandler


class NotesPage(BaseHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            mine = await notes.my_notes(session, account.id)
        courses: dict[str, dict[str, Any]] = {}
        for item in mine:
            course = courses.setdefault(
                item.course_slug,
                {"title": item.course_title, "slug": item.course_slug, "notes": []},
            )
            course["notes"].append({**notes.note_json(item.note), "lesson": item})
        self.render_page(
            "notes.html", courses=list(courses.values()), xsrf_token=self.xsrf_token.decode()
        )


class LessonNotesAPI(BaseHandler):
    async def get(self, slug: str, lesson_id: str) -> None:
        async with self.db(read_only=True) as session:
            account, opened = await lesson_for(self, session, slug, lesson_id)
            found = await notes.lesson_notes(session, account.id, opened.lesson.id)
        self.write_json({"notes": [notes.note_json(note) for note in found]})

    async def post(self, slug: str, lesson_id: str) -> None:
        fields = notes.checked_fields(self.json_body(), creating=True)
        async with self.db() as session:
            account, opened = await lesson_for(self, session, slug, lesson_id)
            note = await notes.add_note(session, account.id, opened.lesson, fields)
            await session.commit()
        self.write_json(notes.note_json(note), status=201)


class MyNotesAPI(BaseHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            mine = await notes.my_notes(session, account.id)
        self.write_json(
            {
                "notes": [
                    {
                        **notes.note_json(item.note),
                        "lesson_title": item.lesson_title,
                        "course_slug": item.course_slug,
                        "course_title": item.course_title,
                    }
                    for item in mine
                ]
            }
        )


class NoteAPI(BaseHandler):
    async def patch(self, note_id: str) -> None:
        fields = notes.checked_fields(self.json_body(), creating=False)
        async with self.db() as session:
            account = await self.account(session)
            note = await notes.own_note(session, account.id, int(note_id))
            await notes.update_note(session, note, fields)
            await session.commit()
        self.write_json(notes.note_json(note))

    async def delete(self, note_id: str) -> None:
        async with self.db() as session:
            account = await self.account(session)
            await notes.delete_note(session, account.id, int(note_id))
            await session.commit()
        self.set_status(204)
        self.finish()


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    return [
        (f"{prefix}/notes", NotesPage),
        (rf"{prefix}/api/learn/([\w-]+)/(\d+)/notes", LessonNotesAPI),
        (f"{prefix}/api/notes", MyNotesAPI),
        (rf"{prefix}/api/notes/(\d+)", NoteAPI),
    ]
