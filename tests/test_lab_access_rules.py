"""The rules of ``lessons.lab_access`` on the database: who may open a lesson in JupyterLab
(its course's staff, enrolled students, anyone for a published course's preview), which
lessons are refused and why, where the copy goes, and which lessons staff may publish to."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from coursehub.services.lessons.lab_access import (
    LabAccessError,
    file_stem,
    lesson_copy,
    openable_lesson,
    publish_targets,
)
from coursehub.services.models import CourseStatus, Lesson, LessonKind, LessonVersion
from tests.service_data import course_with, lessons_in


def publish(db, lesson, number: int = 1, *, preview: bool = False) -> None:
    with db() as session:
        version = LessonVersion(
            lesson_id=lesson.id, number=number, notebook={"cells": [], "v": number}, sha256="0"
        )
        session.add(version)
        session.flush()
        row = session.get(Lesson, lesson.id)
        row.published_version_id, row.is_preview = version.id, preview
        session.commit()


@pytest.mark.parametrize(
    ("title", "stem"),
    [
        ("Cells & Membranes!", "cells-membranes"),
        ("Énergie de la cellule", "energie-de-la-cellule"),
        ("   ", "lesson"),
        ("細胞", "lesson"),
        ("a" * 79 + " b", "a" * 79),
    ],
    ids=["punctuation", "accents", "blank", "no ascii", "80 characters, no trailing dash"],
)
def test_a_lesson_file_is_named_from_its_title(title, stem):
    assert file_stem(title) == stem


async def test_an_enrolled_student_gets_the_newest_published_notebook_in_the_courses_folder(
    db, make_account, sessions
):
    student = make_account()
    course = course_with(db, make_account(Role.INSTRUCTOR), students=[student])
    (lesson,) = lessons_in(db, course, LessonKind.NOTEBOOK)
    publish(db, lesson, 1)
    publish(db, lesson, 2)
    async with sessions() as session:
        copy = await lesson_copy(session, student, lesson.id)
    assert copy["folder"] == f"courses/{course.slug}"
    assert copy["file_name"] == "notebook-lesson-1.ipynb"
    assert (copy["version"], copy["notebook"]) == (2, {"cells": [], "v": 2})


async def test_two_lessons_of_one_name_never_share_a_file(db, make_account, sessions):
    instructor = make_account(Role.INSTRUCTOR)
    course = course_with(db, instructor)
    first, second = lessons_in(db, course, LessonKind.NOTEBOOK, LessonKind.NOTEBOOK)
    with db() as session:
        for lesson in (first, second):
            session.get(Lesson, lesson.id).title = "Mitosis"
        session.commit()
    publish(db, first)
    publish(db, second)
    async with sessions() as session:
        assert (await openable_lesson(session, instructor, first.id)).path == (
            f"courses/{course.slug}/mitosis.ipynb"
        )
        assert (await openable_lesson(session, instructor, second.id)).file_name == (
            f"mitosis-{second.id}.ipynb"
        )


async def refusal(sessions, account, lesson_id) -> LabAccessError:
    async with sessions() as session:
        with pytest.raises(LabAccessError) as refused:
            await openable_lesson(session, account, lesson_id)
    return refused.value


async def test_a_stranger_may_open_only_a_published_courses_preview(db, make_account, sessions):
    stranger = make_account()
    course = course_with(db, make_account(Role.INSTRUCTOR), title="Genetics")
    preview, locked = lessons_in(db, course, LessonKind.NOTEBOOK, LessonKind.NOTEBOOK)
    publish(db, preview, preview=True)
    publish(db, locked)
    async with sessions() as session:
        assert (await openable_lesson(session, stranger, preview.id)).lesson.id == preview.id
    refused = await refusal(sessions, stranger, locked.id)
    assert refused.status == 403 and "Enroll in “Genetics”" in refused.message


async def test_a_preview_of_an_archived_course_is_refused_to_strangers(db, make_account, sessions):
    course = course_with(db, make_account(Role.INSTRUCTOR), status=CourseStatus.ARCHIVED)
    (preview,) = lessons_in(db, course, LessonKind.NOTEBOOK)
    publish(db, preview, preview=True)
    assert (await refusal(sessions, make_account(), preview.id)).status == 403


async def test_lessons_that_cannot_be_opened_say_why(db, make_account, sessions):
    instructor = make_account(Role.INSTRUCTOR)
    course = course_with(db, instructor)
    text, unpublished = lessons_in(db, course, LessonKind.TEXT, LessonKind.NOTEBOOK)
    not_a_notebook = await refusal(sessions, instructor, text.id)
    assert not_a_notebook.status == 409 and "not a notebook" in not_a_notebook.message
    not_published = await refusal(sessions, instructor, unpublished.id)
    assert not_published.status == 409 and "no published notebook" in not_published.message
    missing = await refusal(sessions, instructor, 2**31 - 1)
    assert missing.status == 404


async def test_an_instructor_publishes_to_their_own_notebook_lessons_and_an_admin_to_all(
    db, make_account, sessions
):
    mine, theirs = make_account(Role.INSTRUCTOR), make_account(Role.INSTRUCTOR)
    admin, student = make_account(Role.ADMIN), make_account()
    own = course_with(db, mine)
    other = course_with(db, theirs)
    notebook, _text = lessons_in(db, own, LessonKind.NOTEBOOK, LessonKind.TEXT)
    (elsewhere,) = lessons_in(db, other, LessonKind.NOTEBOOK)
    publish(db, notebook, 3)
    async with sessions() as session:
        targets = await publish_targets(session, mine)
        everything = {t["id"] for t in await publish_targets(session, admin)}
        assert await publish_targets(session, student) == []
    assert targets == [
        {
            "id": notebook.id,
            "title": notebook.title,
            "module_title": "Week 1",
            "course_title": own.title,
            "course_slug": own.slug,
            "version": 3,
        }
    ]
    assert {notebook.id, elsewhere.id} <= everything
