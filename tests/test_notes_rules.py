"""``learning.notes``: a student's notes and bookmarks on lessons, private to them. A note
needs text unless it is a bookmark; a bookmark on a video keeps its second (on other lessons
none); someone else's note is "not found", like a deleted one."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from coursehub.services.learning import notes
from coursehub.services.learning.notes import NoteError
from coursehub.services.models import LessonKind
from tests.service_data import course_with, lessons_in


def test_what_a_note_may_hold():
    assert notes.checked_fields({"body": "  Mitosis  "}, creating=True) == {
        "body": "Mitosis",
        "is_bookmark": False,
    }
    assert notes.checked_fields({"video_seconds": 12}, creating=False) == {"video_seconds": 12.0}
    assert notes.checked_fields({}, creating=False) == {}
    for wrong, says in [
        ({"body": 3}, "must be a string"),
        ({"body": "x" * (notes.MAX_NOTE_CHARACTERS + 1)}, "at most 10,000"),
        ({"is_bookmark": "yes"}, "true or false"),
        ({"video_seconds": True}, "number of seconds"),
        ({"video_seconds": float("inf")}, "number of seconds"),
        ({"video_seconds": -1}, "within the video"),
    ]:
        with pytest.raises(NoteError, match=says):
            notes.checked_fields(wrong, creating=True)


async def test_a_student_keeps_notes_and_bookmarks_nobody_else_can_touch(
    db, make_account, sessions
):
    teacher, ann, ben = (make_account(r) for r in (Role.INSTRUCTOR, Role.STUDENT, Role.STUDENT))
    course = course_with(db, teacher, students=[ann, ben], title="Genetics")
    video, reading = lessons_in(db, course, LessonKind.VIDEO, LessonKind.TEXT)
    async with sessions() as session:
        mark = await notes.add_note(
            session,
            ann.id,
            video,
            notes.checked_fields({"is_bookmark": True, "video_seconds": 95}, creating=True),
        )
        assert mark.body == "" and mark.video_seconds == 95.0
        text_mark = await notes.add_note(
            session,
            ann.id,
            reading,
            notes.checked_fields({"body": "See fig. 2", "video_seconds": 5}, creating=True),
        )
        assert text_mark.video_seconds is None  # a text lesson has no second to jump to
        with pytest.raises(NoteError, match="Write something"):
            await notes.add_note(session, ann.id, reading, {"body": "", "is_bookmark": False})

        # Ben cannot read, change or delete Ann's note: it is "not found" for him.
        with pytest.raises(NoteError) as error:
            await notes.own_note(session, ben.id, mark.id)
        assert error.value.status == 404
        with pytest.raises(NoteError):
            await notes.delete_note(session, ben.id, mark.id)
        assert await notes.lesson_notes(session, ben.id, video.id) == []

        mine = await notes.own_note(session, ann.id, text_mark.id)
        with pytest.raises(NoteError, match="delete it instead"):
            await notes.update_note(session, mine, {"body": ""})
        await notes.update_note(session, mine, {"body": "See fig. 3"})
        listed = await notes.my_notes(session, ann.id)
        assert [(n.note.id, n.course_title) for n in listed] == [
            (text_mark.id, "Genetics"),
            (mark.id, "Genetics"),
        ]
        assert notes.note_json(mine)["html"].strip() == "<p>See fig. 3</p>"

        await notes.delete_note(session, ann.id, mark.id)
        assert [n.id for n in await notes.lesson_notes(session, ann.id, video.id)] == []
        await session.rollback()
