"""What a student has done in a course: lessons opened, time spent, lessons and courses completed.

Progress is recorded for enrolled students only (``OpenLesson.records_progress``); callers
check that. Every function here is one or two SQL statements and leaves committing to the
caller.

- Opening a lesson upserts its ``LessonProgress`` row and stamps the enrollment's
  ``last_lesson_id`` / ``last_active_at``, in one statement.
- Time spent comes from heartbeats the player sends while the lesson is on screen: each counts
  for at most ``HEARTBEAT_MAX_SECONDS``, and one is accepted per ``HEARTBEAT_INTERVAL_SECONDS``
  per lesson (a Redis key); a flood is refused with 429 and counts for nothing.
- Completion depends on the lesson's kind: notebook and text lessons when read to the end (or
  "Mark complete"); video lessons when at least ``VIDEO_COMPLETE_FRACTION`` of the video was
  watched (the server keeps the largest share reported, within [0, 1]); quizzes and
  assignments complete with their assessments, not here.
- A course's progress is its completed required lessons over its required lessons;
  ``Enrollment.completed_at`` is set once all of them are complete, and kept.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.certificates import issuing
from coursehub.services.errors import Refusal
from coursehub.services.models import LessonKind

HEARTBEAT_MAX_SECONDS = 30
HEARTBEAT_INTERVAL_SECONDS = 20
VIDEO_COMPLETE_FRACTION = 0.9
# Longer than any lesson video CourseHub takes; a position past it is a client's mistake.
MAX_VIDEO_SECONDS = 24 * 3600
READ_TO_COMPLETE = (LessonKind.NOTEBOOK, LessonKind.TEXT)


class ProgressError(Refusal):
    """A refusal about progresss; the message says what to do instead."""


@dataclass(frozen=True)
class CourseProgress:
    progress: float
    completed_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {"progress": self.progress, "completed": self.completed_at is not None}


_RECORD_OPEN = text(
    """
    WITH opened AS (
        INSERT INTO lesson_progress (account_id, lesson_id)
        VALUES (:account_id, :lesson_id)
        ON CONFLICT (account_id, lesson_id) DO UPDATE SET last_opened_at = now()
    )
    UPDATE enrollments SET last_lesson_id = :lesson_id, last_active_at = now()
    WHERE account_id = :account_id AND course_id = :course_id
    """
)


async def record_open(
    session: AsyncSession, account_id: int, course_id: int, lesson_id: int
) -> None:
    await session.execute(
        _RECORD_OPEN, {"account_id": account_id, "course_id": course_id, "lesson_id": lesson_id}
    )


# -- time spent -----------------------------------------------------------------------------


def heartbeat_seconds(body: dict[str, Any]) -> int:
    """The seconds a heartbeat claims, checked: a number from 1 to HEARTBEAT_MAX_SECONDS."""
    value = body.get("seconds")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProgressError(
            'Send the seconds spent on the lesson as a number, e.g. {"seconds": 30}.'
        )
    if not 1 <= value <= HEARTBEAT_MAX_SECONDS:
        raise ProgressError(
            f"A heartbeat counts from 1 to {HEARTBEAT_MAX_SECONDS} seconds, not {value:g}."
        )
    return round(value)


async def admit_heartbeat(redis: Redis, account_id: int, lesson_id: int) -> None:
    """At most one heartbeat per HEARTBEAT_INTERVAL_SECONDS counts, per person and lesson."""
    key = f"coursehub:heartbeat:{account_id}:{lesson_id}"
    if not await redis.set(key, "1", nx=True, ex=HEARTBEAT_INTERVAL_SECONDS):
        raise ProgressError(
            f"Heartbeats count at most once every {HEARTBEAT_INTERVAL_SECONDS} seconds; "
            "this one was not counted.",
            429,
        )


_ADD_TIME = text(
    """
    WITH spent AS (
        INSERT INTO lesson_progress (account_id, lesson_id, time_spent_seconds)
        VALUES (:account_id, :lesson_id, :seconds)
        ON CONFLICT (account_id, lesson_id) DO UPDATE
        SET time_spent_seconds = lesson_progress.time_spent_seconds + EXCLUDED.time_spent_seconds
        RETURNING time_spent_seconds
    ), active AS (
        UPDATE enrollments SET last_active_at = now()
        WHERE account_id = :account_id AND course_id = :course_id
    )
    SELECT time_spent_seconds FROM spent
    """
)


async def add_time(
    session: AsyncSession, account_id: int, course_id: int, lesson_id: int, seconds: int
) -> int:
    """Count ``seconds`` more on the lesson; returns the lesson's total."""
    params = {
        "account_id": account_id,
        "course_id": course_id,
        "lesson_id": lesson_id,
        "seconds": seconds,
    }
    return int((await session.execute(_ADD_TIME, params)).scalar_one())


# -- completion -----------------------------------------------------------------------------


_COMPLETE = text(
    """
    INSERT INTO lesson_progress (account_id, lesson_id, completed_at)
    VALUES (:account_id, :lesson_id, now())
    ON CONFLICT (account_id, lesson_id) DO UPDATE
    SET completed_at = coalesce(lesson_progress.completed_at, EXCLUDED.completed_at)
    """
)


async def complete_lesson(
    session: AsyncSession, account_id: int, course_id: int, lesson_id: int, kind: LessonKind
) -> CourseProgress:
    """Mark a notebook or text lesson complete (read to the end, or "Mark complete")."""
    if kind is LessonKind.VIDEO:
        raise ProgressError(
            "A video lesson is complete once you have watched at least "
            f"{VIDEO_COMPLETE_FRACTION:.0%} of it.",
            409,
        )
    if kind not in READ_TO_COMPLETE:
        raise ProgressError("This lesson completes with its assessments, not here.", 409)
    await session.execute(_COMPLETE, {"account_id": account_id, "lesson_id": lesson_id})
    return await recompute_course(session, account_id, course_id)


def video_report(body: dict[str, Any]) -> tuple[float, float]:
    """(position in seconds, watched fraction) from a player's report, checked."""
    position, fraction = body.get("position_seconds"), body.get("watched_fraction")
    for name, value in (("position_seconds", position), ("watched_fraction", fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProgressError(f"Send {name} as a number.")
        if not math.isfinite(value) or value < 0:
            raise ProgressError(f"{name} must be a finite number of at least 0, not {value}.")
    assert isinstance(position, int | float) and isinstance(fraction, int | float)
    if position > MAX_VIDEO_SECONDS:
        raise ProgressError(f"position_seconds cannot be more than {MAX_VIDEO_SECONDS}.")
    # Summing the played ranges can overshoot 1 by a rounding error; more than that is not.
    return float(position), min(float(fraction), 1.0)


VIDEO_PARTS = 20  # video_views counts plays per twentieth of the video
MAX_SEGMENTS = 200


def video_segments(body: dict[str, Any]) -> list[int]:
    """Plays per twentieth from a report's ``played``: the segments ``[start, end]`` (shares
    of the video, 0 to 1) played since the player's last report. A twentieth is counted
    once per segment that covers any of it. Without ``played``: no plays (older players)."""
    played = body.get("played")
    if played is None:
        return []
    if not isinstance(played, list) or len(played) > MAX_SEGMENTS:
        raise ProgressError(
            f"Send played as a list of at most {MAX_SEGMENTS} [start, end] pairs "
            "(shares of the video from 0 to 1)."
        )
    views = [0] * VIDEO_PARTS
    for segment in played:
        ok = isinstance(segment, list) and len(segment) == 2
        ok = ok and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in segment
        )
        if not ok or not 0 <= segment[0] <= segment[1] <= 1:
            raise ProgressError(
                "Each played segment is [start, end] with 0 <= start <= end <= 1, "
                f"not {str(segment)[:40]}."
            )
        if segment[1] - segment[0] <= 0:
            continue
        first = min(int(segment[0] * VIDEO_PARTS), VIDEO_PARTS - 1)
        last = min(math.ceil(segment[1] * VIDEO_PARTS) - 1, VIDEO_PARTS - 1)
        for part in range(first, last + 1):
            views[part] += 1
    return views if any(views) else []


_VIEWS = text(
    """
    UPDATE lesson_progress SET video_views = (
        SELECT jsonb_agg(
            coalesce((video_views ->> (n - 1)::int)::int, 0) + added::int ORDER BY n)
        FROM jsonb_array_elements_text(CAST(:views AS jsonb)) WITH ORDINALITY AS a(added, n)
    )
    WHERE account_id = :account_id AND lesson_id = :lesson_id
    """
)


_VIDEO = text(
    """
    INSERT INTO lesson_progress
        (account_id, lesson_id, video_position_seconds, video_watched_fraction, completed_at)
    VALUES (:account_id, :lesson_id, :position, :fraction,
            CASE WHEN :fraction >= :complete_at THEN now() END)
    ON CONFLICT (account_id, lesson_id) DO UPDATE SET
        video_position_seconds = EXCLUDED.video_position_seconds,
        video_watched_fraction = greatest(
            lesson_progress.video_watched_fraction, EXCLUDED.video_watched_fraction),
        completed_at = coalesce(lesson_progress.completed_at, EXCLUDED.completed_at)
    RETURNING video_watched_fraction, completed_at, completed_at = now() AS completed_now
    """
)


async def record_video(
    session: AsyncSession,
    account_id: int,
    course_id: int,
    lesson_id: int,
    position: float,
    fraction: float,
    views: list[int] | None = None,
) -> dict[str, Any]:
    """Keep where the video is and the largest share watched; complete it from 90 %. With
    ``views`` (``video_segments``), add the plays of each twentieth."""
    params = {
        "account_id": account_id,
        "lesson_id": lesson_id,
        "position": position,
        "fraction": fraction,
        "complete_at": VIDEO_COMPLETE_FRACTION,
    }
    watched, completed_at, completed_now = (await session.execute(_VIDEO, params)).one()
    if views:  # the row is this transaction's since the upsert: no report is lost
        await session.execute(_VIEWS, {**params, "views": json.dumps(views)})
    report: dict[str, Any] = {
        "watched_fraction": watched,
        "position_seconds": position,
        "completed": completed_at is not None,
    }
    if completed_now:  # now() is the transaction's time: completed by this very report
        report["course"] = (await recompute_course(session, account_id, course_id)).as_json()
    return report


_RECOMPUTE = text(
    """
    UPDATE enrollments SET
        progress = CASE WHEN counts.required = 0 THEN 0
                        ELSE counts.done::float / counts.required END,
        completed_at = CASE
            WHEN enrollments.completed_at IS NULL AND counts.required > 0
                 AND counts.done = counts.required THEN now()
            ELSE enrollments.completed_at END
    FROM (
        SELECT count(*) AS required, count(lesson_progress.completed_at) AS done
        FROM lessons
        JOIN modules ON modules.id = lessons.module_id
        LEFT JOIN lesson_progress ON lesson_progress.lesson_id = lessons.id
                                 AND lesson_progress.account_id = :account_id
        WHERE modules.course_id = :course_id AND lessons.is_required
    ) AS counts
    WHERE enrollments.account_id = :account_id AND enrollments.course_id = :course_id
    RETURNING enrollments.progress, enrollments.completed_at
    """
)


async def recompute_course(
    session: AsyncSession, account_id: int, course_id: int
) -> CourseProgress:
    row = (
        await session.execute(_RECOMPUTE, {"account_id": account_id, "course_id": course_id})
    ).first()
    if row is None:
        return CourseProgress(0.0, None)
    if row[1] is not None:  # complete: the certificate, if the rule asks no more, comes now
        await issuing.check(session, account_id, course_id)
    return CourseProgress(float(row[0]), row[1])
