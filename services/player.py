"""The course player's view of one lesson: the syllabus with completion marks, the lessons
before and after it, and where the student stands in it.

The syllabus is the course's modules, then lessons, in the order instructors gave them
(``coursehub.services.authoring.course_modules`` / ``course_lessons``). Someone who may open
only the preview lessons sees the others in the syllabus, without links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services import authoring
from coursehub.services.lesson_access import OpenLesson
from coursehub.services.markdown import to_safe_html
from coursehub.services.models import (
    CourseStatus,
    Enrollment,
    Lesson,
    LessonKind,
    LessonProgress,
)

KIND_LABELS = {
    LessonKind.NOTEBOOK: "Notebook",
    LessonKind.TEXT: "Reading",
    LessonKind.VIDEO: "Video",
    LessonKind.QUIZ: "Quiz",
    LessonKind.ASSIGNMENT: "Assignment",
}


@dataclass(frozen=True)
class SyllabusLesson:
    id: int
    title: str
    kind: LessonKind
    openable: bool
    completed: bool
    current: bool

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


@dataclass(frozen=True)
class SyllabusModule:
    title: str
    lessons: list[SyllabusLesson] = field(default_factory=list)


@dataclass(frozen=True)
class PlayerView:
    opened: OpenLesson
    modules: list[SyllabusModule]
    previous: SyllabusLesson | None
    next: SyllabusLesson | None
    completed: bool
    course_progress: float | None  # None when nothing is recorded (not enrolled)
    video_position: float
    video_fraction: float
    text_html: str

    def page_data(self, prefix: str) -> dict[str, Any]:
        """What the player's script needs, as JSON."""
        lesson, course = self.opened.lesson, self.opened.course
        return {
            "lessonId": lesson.id,
            "kind": lesson.kind.value,
            "api": f"{prefix}/api/learn/{course.slug}/{lesson.id}",
            "recordsProgress": self.opened.records_progress,
            "completed": self.completed,
            "videoPosition": self.video_position,
            "videoFraction": self.video_fraction,
        }


async def player_view(session: AsyncSession, opened: OpenLesson) -> PlayerView:
    course, account = opened.course, opened.account
    modules = await authoring.course_modules(session, course.id)
    lessons = await authoring.course_lessons(session, course.id)
    progress = await _progress_of(session, opened, [lesson.id for lesson in lessons])
    completed_ids = {lesson_id for lesson_id, row in progress.items() if row.completed_at}
    by_module: dict[int, SyllabusModule] = {m.id: SyllabusModule(m.title) for m in modules}
    ordered: list[SyllabusLesson] = []
    for lesson in lessons:
        entry = SyllabusLesson(
            id=lesson.id,
            title=lesson.title,
            kind=lesson.kind,
            openable=_may_open(opened, lesson),
            completed=lesson.id in completed_ids,
            current=lesson.id == opened.lesson.id,
        )
        by_module[lesson.module_id].lessons.append(entry)
        ordered.append(entry)
    openable = [entry for entry in ordered if entry.openable or entry.current]
    here = next(i for i, entry in enumerate(openable) if entry.current)
    mine = progress.get(opened.lesson.id)
    course_progress = None
    if opened.enrolled:
        course_progress = await session.scalar(
            select(Enrollment.progress).where(
                Enrollment.account_id == account.id, Enrollment.course_id == course.id
            )
        )
    lesson = opened.lesson
    return PlayerView(
        opened=opened,
        modules=[by_module[m.id] for m in modules],
        previous=openable[here - 1] if here > 0 else None,
        next=openable[here + 1] if here + 1 < len(openable) else None,
        completed=bool(mine and mine.completed_at),
        course_progress=course_progress,
        video_position=mine.video_position_seconds if mine else 0.0,
        video_fraction=mine.video_watched_fraction if mine else 0.0,
        text_html=to_safe_html(lesson.text_markdown) if lesson.kind is LessonKind.TEXT else "",
    )


def _may_open(opened: OpenLesson, lesson: Lesson) -> bool:
    if opened.staff or opened.enrolled:
        return True
    return lesson.is_preview and opened.course.status is CourseStatus.PUBLISHED


async def _progress_of(
    session: AsyncSession, opened: OpenLesson, lesson_ids: list[int]
) -> dict[int, LessonProgress]:
    if not lesson_ids:
        return {}
    rows = await session.scalars(
        select(LessonProgress).where(
            LessonProgress.account_id == opened.account.id,
            LessonProgress.lesson_id.in_(lesson_ids),
        )
    )
    return {row.lesson_id: row for row in rows}
