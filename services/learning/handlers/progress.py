"""Progress endpoints of the course player (JSON, XSRF-protected like every change).

``/api/learn/<course slug>/<lesson id>/``:

- ``heartbeat`` (POST ``{"seconds": n}``): time spent on the lesson while it is on screen;
- ``complete`` (POST): a notebook or text lesson read to the end, or "Mark complete";
- ``video`` (POST ``{"position_seconds": s, "watched_fraction": f}``): where the video is
  and how much of it was watched;
- ``progress`` (GET): the lesson's and the course's progress.

Only enrolled students have progress; others get 403 with a sentence that says so. Bad input
is refused with 400 (or 429 for too many heartbeats) before anything changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tornado import web

from coursehub.services.learning import progress
from coursehub.services.learning.handlers.player import lesson_for
from coursehub.services.lessons.lesson_access import OpenLesson
from coursehub.services.models import Enrollment, LessonKind, LessonProgress
from coursehub.services.web.base import BaseHandler

NOT_ENROLLED = "Only enrolled students have progress. Enroll in the course to keep yours."


class ProgressHandler(BaseHandler):
    def enrolled(self, opened: OpenLesson) -> OpenLesson:
        if not opened.records_progress:
            raise web.HTTPError(403, NOT_ENROLLED)
        return opened


class HeartbeatAPI(ProgressHandler):
    async def post(self, slug: str, lesson_id: str) -> None:
        seconds = progress.heartbeat_seconds(self.json_body())
        async with self.db() as session:
            account, opened = await lesson_for(self, session, slug, lesson_id)
            self.enrolled(opened)
            redis = self.application.settings["redis"]
            await progress.admit_heartbeat(redis, account.id, opened.lesson.id)
            total = await progress.add_time(
                session, account.id, opened.course.id, opened.lesson.id, seconds
            )
            await session.commit()
        self.write_json({"counted_seconds": seconds, "time_spent_seconds": total})


class CompleteAPI(ProgressHandler):
    async def post(self, slug: str, lesson_id: str) -> None:
        async with self.db() as session:
            account, opened = await lesson_for(self, session, slug, lesson_id)
            self.enrolled(opened)
            course = await progress.complete_lesson(
                session, account.id, opened.course.id, opened.lesson.id, opened.lesson.kind
            )
            await session.commit()
        self.write_json({"completed": True, "course": course.as_json()})


class VideoAPI(ProgressHandler):
    async def post(self, slug: str, lesson_id: str) -> None:
        body = self.json_body()
        position, fraction = progress.video_report(body)
        views = progress.video_segments(body)
        async with self.db() as session:
            account, opened = await lesson_for(self, session, slug, lesson_id)
            self.enrolled(opened)
            if opened.lesson.kind is not LessonKind.VIDEO:
                raise web.HTTPError(409, "This lesson has no video.")
            report = await progress.record_video(
                session, account.id, opened.course.id, opened.lesson.id, position, fraction, views
            )
            await session.commit()
        self.write_json(report)


class LessonProgressAPI(ProgressHandler):
    async def get(self, slug: str, lesson_id: str) -> None:
        async with self.db(read_only=True) as session:
            account, opened = await lesson_for(self, session, slug, lesson_id)
            self.enrolled(opened)
            row = await session.scalar(
                select(LessonProgress).where(
                    LessonProgress.account_id == account.id,
                    LessonProgress.lesson_id == opened.lesson.id,
                )
            )
            enrolled = await session.scalar(
                select(Enrollment).where(
                    Enrollment.account_id == account.id, Enrollment.course_id == opened.course.id
                )
            )
        self.write_json(
            {
                "lesson": lesson_json(row),
                "course": {
                    "progress": enrolled.progress if enrolled else 0.0,
                    "completed": bool(enrolled and enrolled.completed_at),
                    "last_lesson_id": enrolled.last_lesson_id if enrolled else None,
                },
            }
        )


def lesson_json(row: LessonProgress | None) -> dict[str, Any]:
    if row is None:
        return {"opened": False, "completed": False, "time_spent_seconds": 0}
    return {
        "opened": True,
        "completed": row.completed_at is not None,
        "completed_at": row.completed_at,
        "time_spent_seconds": row.time_spent_seconds,
        "video_position_seconds": row.video_position_seconds,
        "video_watched_fraction": row.video_watched_fraction,
    }


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    base = rf"{prefix}/api/learn/([\w-]+)/(\d+)"
    return [
        (f"{base}/heartbeat", HeartbeatAPI),
        (f"{base}/complete", CompleteAPI),
        (f"{base}/video", VideoAPI),
        (f"{base}/progress", LessonProgressAPI),
    ]
