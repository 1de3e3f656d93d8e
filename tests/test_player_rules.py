"""``learning.player``: the course player's view of one lesson. The syllabus in the order the
instructor gave (modules, then lessons) with the student's completion marks; "previous" and
"next" step over lessons the person may not open; a visitor who is not enrolled may open only
the preview lessons of a published course, and sees the others without links."""

from __future__ import annotations

from sqlalchemy import update

from coursehub.hub.constants import Role
from coursehub.services.learning.player import player_view
from coursehub.services.lessons.lesson_access import OpenLesson
from coursehub.services.models import Account, Course, Lesson, LessonKind, LessonProgress, utcnow
from tests.service_data import course_with, lessons_in


def course_of_two_weeks(db, teacher, students):  # type: ignore[no-untyped-def]
    """Week 1: an introduction (a preview, text) and a video; week 2: a reading."""
    course = course_with(db, teacher, students=students, title="Zoology")
    intro, video = lessons_in(db, course, LessonKind.TEXT, LessonKind.VIDEO)
    [reading] = lessons_in(db, course, LessonKind.TEXT)
    with db() as session:
        session.execute(
            update(Lesson)
            .where(Lesson.id == intro.id)
            .values(is_preview=True, text_markdown="# Welcome\n\nAnimals *move*.")
        )
        session.commit()
    return course, intro, video, reading


async def opened(session, account, course, lesson, *, enrolled: bool, progress=None):  # type: ignore[no-untyped-def]
    return OpenLesson(
        account=await session.get_one(Account, account.id),
        course=await session.get_one(Course, course.id),
        lesson=await session.get_one(Lesson, lesson.id),
        version_number=None,
        enrolled=enrolled,
        staff=False,
        course_progress=progress,
    )


async def test_an_enrolled_student_steps_through_the_course_with_their_marks(
    db, make_account, sessions
):
    teacher, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    course, intro, video, reading = course_of_two_weeks(db, teacher, [student])
    with db() as session:
        session.add_all(
            [
                LessonProgress(account_id=student.id, lesson_id=intro.id, completed_at=utcnow()),
                LessonProgress(
                    account_id=student.id,
                    lesson_id=video.id,
                    video_position_seconds=42.0,
                    video_watched_fraction=0.3,
                ),
            ]
        )
        session.commit()
    async with sessions() as session:
        here = await opened(session, student, course, video, enrolled=True, progress=1 / 3)
        view = await player_view(session, here)

    assert [[lesson.title for lesson in m.lessons] for m in view.modules] == [
        [intro.title, video.title],
        [reading.title],
    ]
    marks = {lesson.id: lesson.completed for m in view.modules for lesson in m.lessons}
    assert marks == {intro.id: True, video.id: False, reading.id: False}
    assert (view.previous.id, view.next.id) == (intro.id, reading.id)
    assert (view.video_position, view.video_fraction, view.completed) == (42.0, 0.3, False)
    assert view.course_progress == 1 / 3 and view.text_html == ""
    assert view.modules[0].lessons[1].kind_label == "Video"
    data = view.page_data("/p")
    assert data["api"] == f"/p/api/learn/{course.slug}/{video.id}" and data["recordsProgress"]


async def test_a_visitor_opens_only_the_previews_and_sees_the_rest_without_links(
    db, make_account, sessions
):
    teacher, visitor = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    course, intro, video, reading = course_of_two_weeks(db, teacher, [])
    async with sessions() as session:
        view = await player_view(
            session, await opened(session, visitor, course, intro, enrolled=False)
        )
    openable = {lesson.id: lesson.openable for m in view.modules for lesson in m.lessons}
    assert openable == {intro.id: True, video.id: False, reading.id: False}
    assert view.previous is None and view.next is None  # nothing else to step to
    assert view.course_progress is None  # nothing is recorded for a visitor
    assert "<h1>Welcome</h1>" in view.text_html and "<em>move</em>" in view.text_html
    assert view.page_data("/p")["recordsProgress"] is False
