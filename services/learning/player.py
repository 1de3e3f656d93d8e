"""The course player's view of one lesson: the syllabus with completion marks, the lessons
before and after it, and where the student stands in it.

The syllabus is the course's modules, then lessons, in the order instructors gave them (the
order of ``coursehub.services.courses.authoring.course_lessons``), read in one query with the
student's marks. Someone who may open
only the preview lessons sees the others in the syllabus, without links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.content.markdown import to_safe_html
from coursehub.services.lessons.lesson_access import OpenLesson
from coursehub.services.models import CourseStatus, Lesson, LessonKind, LessonProgress, Module

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
            "signedIn": self.opened.account is not None,
            "completed": self.completed,
            "videoPosition": self.video_position,
            "videoFraction": self.video_fraction,
        }


async def player_view(session: AsyncSession, opened: OpenLesson) -> PlayerView:
    """The view, from one query: the syllabus in ``authoring.course_lessons``' order (module
    order, then lesson order) with this person's progress on each lesson."""
    course = opened.course
    rows = await session.execute(
        select(
            Module.id,
            Module.title,
            Lesson.id,
            Lesson.title,
            Lesson.kind,
            Lesson.is_preview,
            LessonProgress.completed_at,
            LessonProgress.video_position_seconds,
            LessonProgress.video_watched_fraction,
        )
        .select_from(Module)
        .outerjoin(Lesson, Lesson.module_id == Module.id)
        .outerjoin(
            LessonProgress,
            (LessonProgress.lesson_id == Lesson.id)
            & (LessonProgress.account_id == opened.account_id),
        )
        .where(Module.course_id == course.id)
        .order_by(Module.position, Module.id, Lesson.position, Lesson.id)
    )
    modules: dict[int, SyllabusModule] = {}
    ordered: list[SyllabusLesson] = []
    video_position, video_fraction, completed = 0.0, 0.0, False
    for module_id, module_title, lesson_id, title, kind, preview, done, position, fraction in rows:
        module = modules.setdefault(module_id, SyllabusModule(module_title))
        if lesson_id is None:
            continue
        current = lesson_id == opened.lesson.id
        entry = SyllabusLesson(
            id=lesson_id,
            title=title,
            kind=kind,
            openable=_may_open(opened, preview),
            completed=done is not None,
            current=current,
        )
        module.lessons.append(entry)
        ordered.append(entry)
        if current:
            completed = done is not None
            video_position, video_fraction = position or 0.0, fraction or 0.0
    openable = [entry for entry in ordered if entry.openable or entry.current]
    here = next(i for i, entry in enumerate(openable) if entry.current)
    lesson = opened.lesson
    return PlayerView(
        opened=opened,
        modules=list(modules.values()),
        previous=openable[here - 1] if here > 0 else None,
        next=openable[here + 1] if here + 1 < len(openable) else None,
        completed=completed,
        course_progress=opened.course_progress if opened.enrolled else None,
        video_position=video_position,
        video_fraction=video_fraction,
        text_html=to_safe_html(lesson.text_markdown) if lesson.kind is LessonKind.TEXT else "",
    )


def _may_open(opened: OpenLesson, is_preview: bool) -> bool:
    if opened.staff or opened.enrolled:
        return True
    return is_preview and opened.course.status is CourseStatus.PUBLISHED
