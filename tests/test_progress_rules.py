"""``learning.progress``: what a student has done in a course. Text and notebook lessons
complete when read (once, whatever is sent again), videos from 90 % watched (the largest
share reported counts), quizzes and assignments not here; the course's progress is its
completed required lessons over its required lessons, and its completion is kept."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.learning import progress
from coursehub.services.learning.progress import ProgressError
from coursehub.services.models import Enrollment, LessonKind, LessonProgress
from tests.service_data import course_with, lessons_in


def test_heartbeats_and_video_reports_are_checked_numbers():
    assert progress.heartbeat_seconds({"seconds": 29.6}) == 30
    for wrong in ({}, {"seconds": True}, {"seconds": "30"}, {"seconds": 0}, {"seconds": 31}):
        with pytest.raises(ProgressError):
            progress.heartbeat_seconds(wrong)
    assert progress.video_report({"position_seconds": 61, "watched_fraction": 1.0000001}) == (
        61.0,
        1.0,  # a rounding error past the end is the end
    )
    for wrong in (
        {"position_seconds": 1},
        {"position_seconds": -1, "watched_fraction": 0.5},
        {"position_seconds": float("nan"), "watched_fraction": 0.5},
        {"position_seconds": progress.MAX_VIDEO_SECONDS + 1, "watched_fraction": 0.5},
    ):
        with pytest.raises(ProgressError):
            progress.video_report(wrong)


async def test_a_student_completes_a_course_by_its_required_lessons(db, make_account, sessions):
    """Three required lessons (text, video, notebook) and an optional quiz: reading the text
    makes a third; the video counts from 90 % watched, and watching less later takes nothing
    back; the notebook completes the course, which stays complete."""
    teacher, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    course = course_with(db, teacher, students=[student])
    reading, video, notebook, quiz = lessons_in(
        db,
        course,
        LessonKind.TEXT,
        LessonKind.VIDEO,
        LessonKind.NOTEBOOK,
        LessonKind.QUIZ,
        optional=[3],
    )
    me, there = student.id, course.id
    async with sessions() as session:
        await progress.record_open(session, me, there, reading.id)
        done = await progress.complete_lesson(session, me, there, reading.id, LessonKind.TEXT)
        assert done.progress == pytest.approx(1 / 3) and done.completed_at is None
        again = await progress.complete_lesson(session, me, there, reading.id, LessonKind.TEXT)
        assert again.progress == pytest.approx(1 / 3)

        with pytest.raises(ProgressError, match="watched at least 90%") as error:
            await progress.complete_lesson(session, me, there, video.id, LessonKind.VIDEO)
        assert error.value.status == 409
        with pytest.raises(ProgressError, match="assessments"):
            await progress.complete_lesson(session, me, there, quiz.id, LessonKind.QUIZ)

        half = await progress.record_video(session, me, there, video.id, 300.0, 0.5)
        assert half == {"watched_fraction": 0.5, "position_seconds": 300.0, "completed": False}
        most = await progress.record_video(session, me, there, video.id, 560.0, 0.92)
        assert most["completed"] and most["course"]["progress"] == pytest.approx(2 / 3)
        await session.commit()  # each report is a request of its own

        back = await progress.record_video(session, me, there, video.id, 10.0, 0.1)
        assert back["watched_fraction"] == pytest.approx(0.92) and back["completed"]
        assert "course" not in back  # completed before, not by this report

        finished = await progress.complete_lesson(
            session, me, there, notebook.id, LessonKind.NOTEBOOK
        )
        assert finished.progress == 1.0 and finished.completed_at is not None
        assert finished.as_json() == {"progress": 1.0, "completed": True}

        total = await progress.add_time(session, me, there, notebook.id, 30)
        assert await progress.add_time(session, me, there, notebook.id, 20) == total + 20
        enrollment = await session.scalar(
            select(Enrollment).where(Enrollment.account_id == me, Enrollment.course_id == there)
        )
        assert enrollment.last_lesson_id == reading.id and enrollment.last_active_at
        row = await session.scalar(
            select(LessonProgress).where(
                LessonProgress.account_id == me, LessonProgress.lesson_id == video.id
            )
        )
        assert row.video_position_seconds == 10.0


async def test_one_heartbeat_counts_per_interval_and_lesson(redis_url):
    client = aioredis.from_url(redis_url)
    try:
        await progress.admit_heartbeat(client, 1, 1001)
        with pytest.raises(ProgressError) as error:
            await progress.admit_heartbeat(client, 1, 1001)
        assert error.value.status == 429
        await progress.admit_heartbeat(client, 1, 1002)  # another lesson counts on its own
    finally:
        await client.delete("coursehub:heartbeat:1:1001", "coursehub:heartbeat:1:1002")
        await client.aclose()
