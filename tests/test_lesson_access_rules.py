"""The rules of ``lessons.lesson_access`` on the database: who may open a lesson in the
player (staff, enrolled students, anyone for a published course's preview), the refusals
others get (with the course to enroll in), and where a notebook lesson's file is."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from coursehub.services.lessons.lesson_access import (
    NO_SUCH_LESSON,
    LessonAccessError,
    OpenLesson,
    open_lesson,
)
from coursehub.services.models import Course, CourseStatus, Lesson, LessonKind, LessonVersion
from tests.service_data import course_with, lessons_in


def published(db, lesson, number: int, *, preview: bool = False) -> None:
    with db() as session:
        version = LessonVersion(lesson_id=lesson.id, number=number, notebook={}, sha256="0")
        session.add(version)
        session.flush()
        row = session.get(Lesson, lesson.id)
        row.published_version_id, row.is_preview = version.id, preview
        session.commit()


async def opening(sessions, account, course, lesson_id) -> OpenLesson:
    async with sessions() as session:
        return await open_lesson(session, account, course.slug, lesson_id)


async def refused(sessions, account, course, lesson_id) -> LessonAccessError:
    with pytest.raises(LessonAccessError) as refusal:
        await opening(sessions, account, course, lesson_id)
    return refusal.value


async def test_an_enrolled_student_opens_a_lesson_and_records_progress(db, make_account, sessions):
    student = make_account()
    course = course_with(db, make_account(Role.INSTRUCTOR), students=[student])
    (lesson,) = lessons_in(db, course, LessonKind.NOTEBOOK)
    published(db, lesson, 4)
    opened = await opening(sessions, student, course, lesson.id)
    assert opened.enrolled and opened.records_progress and not opened.staff
    assert opened.version_number == 4
    assert opened.notebook_path == f"{course.id}/{lesson.id}/v4-outputs.ipynb"
    assert opened.course_progress == 0


async def test_the_instructor_opens_any_lesson_without_enrolling(db, make_account, sessions):
    instructor = make_account(Role.INSTRUCTOR)
    course = course_with(db, instructor, status=CourseStatus.DRAFT)
    (lesson,) = lessons_in(db, course, LessonKind.TEXT)
    opened = await opening(sessions, instructor, course, lesson.id)
    assert opened.staff and not opened.records_progress
    assert opened.notebook_path is None  # not a notebook


async def test_a_visitor_opens_a_preview_and_is_asked_to_enroll_for_the_rest(
    db, make_account, sessions
):
    visitor = make_account()
    course = course_with(db, make_account(Role.INSTRUCTOR), title="Botany")
    preview, locked = lessons_in(db, course, LessonKind.NOTEBOOK, LessonKind.NOTEBOOK)
    published(db, preview, 1, preview=True)
    opened = await opening(sessions, visitor, course, preview.id)
    assert not opened.enrolled and not opened.records_progress
    refusal = await refused(sessions, visitor, course, locked.id)
    assert refusal.status == 403 and "Enroll in the course" in refusal.message
    assert isinstance(refusal.course, Course) and refusal.course.id == course.id


async def test_an_archived_course_is_open_only_to_those_enrolled_before(db, make_account, sessions):
    student, visitor = make_account(), make_account()
    course = course_with(
        db, make_account(Role.INSTRUCTOR), students=[student], status=CourseStatus.ARCHIVED
    )
    (preview,) = lessons_in(db, course, LessonKind.TEXT)
    with db() as session:
        session.get(Lesson, preview.id).is_preview = True
        session.commit()
    assert (await opening(sessions, student, course, preview.id)).enrolled
    refusal = await refused(sessions, visitor, course, preview.id)
    assert refusal.status == 403 and "is archived" in refusal.message


async def test_a_draft_course_is_not_found_for_anyone_but_staff(db, make_account, sessions):
    course = course_with(db, make_account(Role.INSTRUCTOR), status=CourseStatus.DRAFT)
    (lesson,) = lessons_in(db, course, LessonKind.TEXT)
    assert (await refused(sessions, make_account(), course, lesson.id)).status == 404


async def test_a_lesson_of_another_course_is_no_such_lesson(db, make_account, sessions):
    instructor = make_account(Role.INSTRUCTOR)
    course, other = course_with(db, instructor), course_with(db, instructor)
    (elsewhere,) = lessons_in(db, other, LessonKind.TEXT)
    refusal = await refused(sessions, instructor, course, elsewhere.id)
    assert (refusal.status, refusal.message) == (404, NO_SUCH_LESSON)


async def test_a_signed_out_visitor_opens_a_preview_lesson_and_nothing_else(
    db, make_account, sessions
):
    course = course_with(db, make_account(Role.INSTRUCTOR), title="Geology")
    preview, locked = lessons_in(db, course, LessonKind.NOTEBOOK, LessonKind.NOTEBOOK)
    published(db, preview, 1, preview=True)
    published(db, locked, 1)
    opened = await opening(sessions, None, course, preview.id)
    assert opened.account is None and opened.account_id == 0
    assert not opened.enrolled and not opened.staff and not opened.records_progress
    assert (await refused(sessions, None, course, locked.id)).status == 403


async def test_a_lesson_that_shows_its_code_has_a_file_of_its_own(db, make_account, sessions):
    course = course_with(db, make_account(Role.INSTRUCTOR))
    (lesson,) = lessons_in(db, course, LessonKind.NOTEBOOK)
    published(db, lesson, 2, preview=True)
    before = (await opening(sessions, None, course, lesson.id)).notebook_path
    with db() as session:
        session.get(Lesson, lesson.id).show_code = True
        session.commit()
    after = (await opening(sessions, None, course, lesson.id)).notebook_path
    assert (before, after) == (
        f"{course.id}/{lesson.id}/v2-outputs.ipynb",
        f"{course.id}/{lesson.id}/v2-code.ipynb",
    )
