"""``learning.dashboard``: a student's courses with progress counted from their completed
required lessons (optional ones do not count), where "Continue" takes them (the lesson they
were last in, else the first), drafts left out, and their latest completions."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from coursehub.hub.constants import Role
from coursehub.services.learning import dashboard
from coursehub.services.models import CourseStatus, Enrollment, LessonKind, LessonProgress, utcnow
from coursehub.services.settings import sqlalchemy_url
from tests.service_data import course_with, lessons_in

PREFIX = "/p"


async def test_a_students_dashboard(db, make_account, database_url):
    teacher, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    started = course_with(db, teacher, students=[student], title="Started")
    fresh = course_with(db, teacher, students=[student], title="Fresh")
    draft = course_with(db, teacher, students=[student], status=CourseStatus.DRAFT)
    one, two, extra = lessons_in(
        db, started, LessonKind.TEXT, LessonKind.TEXT, LessonKind.TEXT, optional=[2]
    )
    [first_of_fresh] = lessons_in(db, fresh, LessonKind.VIDEO)
    [in_draft] = lessons_in(db, draft, LessonKind.TEXT)
    now = utcnow()
    with db() as session:
        session.add_all(
            LessonProgress(account_id=student.id, lesson_id=lesson.id, completed_at=at)
            for lesson, at in [
                (one, now - timedelta(hours=3)),
                (extra, now - timedelta(hours=2)),
                (in_draft, now - timedelta(hours=1)),
            ]
        )
        session.execute(
            update(Enrollment)
            .where(Enrollment.account_id == student.id, Enrollment.course_id == started.id)
            .values(last_lesson_id=two.id, last_active_at=now + timedelta(minutes=1))
        )
        session.commit()
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.connect() as connection:
            board = await dashboard.dashboard(connection, student.id, PREFIX)
    finally:
        await engine.dispose()

    [mine, new] = board.courses  # no draft; the most recently active first
    assert (mine["title"], new["title"]) == ("Started", "Fresh")
    assert (mine["lessons"], mine["lessons_completed"]) == (3, 2)
    assert (mine["progress"], mine["progress_percent"]) == (0.5, 50)  # the optional one: no
    assert mine["continue"] == {
        "lesson_id": two.id,
        "title": two.title,
        "url": f"{PREFIX}/learn/{started.slug}/{two.id}",
        "resumes": True,
    }
    assert new["continue"]["lesson_id"] == first_of_fresh.id and not new["continue"]["resumes"]
    assert new["progress"] == 0.0
    assert [c["lesson_id"] for c in board.recently_completed] == [extra.id, one.id]
    assert board.recently_completed[0]["course"] == {"slug": started.slug, "title": "Started"}
    assert board.as_json()["courses"] == board.courses


def test_a_course_without_required_lessons_has_no_progress_to_show():
    assert dashboard.progress_share({"required": 0, "required_done": 0}) == 0.0
    assert dashboard.progress_share({"required": 4, "required_done": 1}) == 0.25
