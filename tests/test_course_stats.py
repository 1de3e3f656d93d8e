"""``courses.course_stats``: what an instructor sees of their courses. Each course they teach
(every course, for an administrator) with its enrollments, completions, average progress
and students active in the last 7 days; and each student's progress, most recently active
first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from coursehub.hub.constants import Role
from coursehub.services.courses import course_stats
from coursehub.services.models import Account, Enrollment, LessonKind, LessonProgress, utcnow
from tests.service_data import course_with, lessons_in


async def test_an_instructor_sees_the_figures_of_the_courses_they_teach(db, make_account, sessions):
    teacher, other, admin = (make_account(r) for r in (Role.INSTRUCTOR,) * 2 + (Role.ADMIN,))
    ann, ben, cy = (make_account(Role.STUDENT) for _ in range(3))
    busy = course_with(db, teacher, students=[ann, ben, cy], title="Busy")
    empty = course_with(db, teacher, title="Empty")
    theirs = course_with(db, other, title="Theirs")
    now = utcnow()
    with db() as session:
        for who, progress, done, active in [
            (ann, 1.0, now, now - timedelta(days=1)),
            (ben, 0.5, None, now - timedelta(days=8)),
            (cy, 0.0, None, None),
        ]:
            session.execute(
                update(Enrollment)
                .where(Enrollment.account_id == who.id, Enrollment.course_id == busy.id)
                .values(progress=progress, completed_at=done, last_active_at=active)
            )
        session.commit()
    async with sessions() as session:
        me = await session.get_one(Account, teacher.id)
        figures = {f.course.id: f for f in await course_stats.teaching_overview(session, me, now)}
        assert set(figures) == {busy.id, empty.id}
        shown = figures[busy.id].as_json()
        assert (shown["enrollments"], shown["completed"], shown["active_last_7_days"]) == (3, 1, 1)
        assert shown["completion_rate"] == pytest.approx(1 / 3)
        assert shown["average_progress"] == pytest.approx(0.5)
        nobody = figures[empty.id]
        assert (nobody.enrollments, nobody.completion_rate, nobody.average_progress) == (
            0,
            None,
            None,
        )
        everything = await course_stats.teaching_overview(
            session, await session.get_one(Account, admin.id), now
        )
        assert {busy.id, empty.id, theirs.id} <= {f.course.id for f in everything}


async def test_each_students_progress_most_recently_active_first(db, make_account, sessions):
    teacher = make_account(Role.INSTRUCTOR)
    ann, ben, cy = (make_account(Role.STUDENT) for _ in range(3))
    course = course_with(db, teacher, students=[ann, ben, cy])
    first, second = lessons_in(db, course, LessonKind.TEXT, LessonKind.TEXT)
    elsewhere = lessons_in(db, course_with(db, teacher, students=[ben]), LessonKind.TEXT)[0]
    now = utcnow()
    with db() as session:
        for who, active in [(ann, now - timedelta(days=2)), (ben, now)]:
            session.execute(
                update(Enrollment)
                .where(Enrollment.account_id == who.id, Enrollment.course_id == course.id)
                .values(last_active_at=active)
            )
        session.add_all(
            [
                LessonProgress(account_id=ben.id, lesson_id=first.id, completed_at=now),
                LessonProgress(account_id=ben.id, lesson_id=second.id),  # opened only
                LessonProgress(account_id=ben.id, lesson_id=elsewhere.id, completed_at=now),
                LessonProgress(account_id=ann.id, lesson_id=second.id, completed_at=now),
            ]
        )
        session.commit()
    async with sessions() as session:
        students = await course_stats.course_students(session, course.id)
        assert [(s.username, s.lessons_completed) for s in students] == [
            (ben.username, 1),  # the other course's lesson does not count here
            (ann.username, 1),
            (cy.username, 0),  # never active: last
        ]
        assert students[0].as_json()["email"] == ben.email
        assert await course_stats.lesson_count(session, course.id) == 2
