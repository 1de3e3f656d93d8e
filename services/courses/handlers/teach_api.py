"""The instructors' JSON API: courses, modules, lessons, their order, and enrolled students.

Everything is under ``/api/teach/`` and answers instructors (their own courses) and
administrators (every course); students get 403 before anything is looked up. The teaching
pages' script uses the same endpoints for reordering, previews of markdown and uploads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.services.content.markdown import to_safe_html
from coursehub.services.courses import authoring, course_stats
from coursehub.services.models import Account, Course, Lesson, LessonKind, LessonVersion, Module
from coursehub.services.web.teach_base import TeachHandler, row_id

COURSE_FIELDS = (
    "title",
    "slug",
    "summary",
    "description",
    "category_id",
    "price_cents",
    "status",
)
LESSON_FIELDS = (
    "title",
    "is_preview",
    "is_required",
    "text_markdown",
    "duration_seconds",
    "video_upload_id",
)


def course_json(course: Course, prefix: str) -> dict[str, Any]:
    return {
        "id": course.id,
        "slug": course.slug,
        "title": course.title,
        "summary": course.summary,
        "description": course.description,
        "description_html": to_safe_html(course.description),
        "status": course.status.value,
        "category": (
            {"id": course.category.id, "name": course.category.name} if course.category else None
        ),
        "price_cents": course.price_cents,
        "thumbnail_upload_id": course.thumbnail_upload_id,
        "thumbnail_url": (
            f"{prefix}/media/{course.thumbnail_upload_id}" if course.thumbnail_upload_id else None
        ),
        "instructor": {
            "username": course.instructor.username,
            "name": course.instructor.name,
        },
        "created_at": course.created_at,
        "updated_at": course.updated_at,
    }


def module_json(module: Module) -> dict[str, Any]:
    return {
        "id": module.id,
        "course_id": module.course_id,
        "title": module.title,
        "description": module.description,
        "position": module.position,
    }


def lesson_json(lesson: Lesson, prefix: str, published_number: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": lesson.id,
        "module_id": lesson.module_id,
        "title": lesson.title,
        "kind": lesson.kind.value,
        "position": lesson.position,
        "is_preview": lesson.is_preview,
        "is_required": lesson.is_required,
    }
    if lesson.kind is LessonKind.TEXT:
        body["text_markdown"] = lesson.text_markdown
    if lesson.kind is LessonKind.VIDEO:
        body["video_upload_id"] = lesson.video_upload_id
        body["video_url"] = (
            f"{prefix}/media/{lesson.video_upload_id}" if lesson.video_upload_id else None
        )
        body["duration_seconds"] = lesson.duration_seconds
    if lesson.kind is LessonKind.NOTEBOOK:
        body["published_version"] = published_number
    return body


def outline_json(outline: authoring.CourseOutline, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            **module_json(part.module),
            "lessons": [
                lesson_json(lesson, prefix, outline.published_numbers.get(lesson.id))
                for lesson in part.lessons
            ],
        }
        for part in outline.modules
    ]


def picked(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: body[name] for name in names if name in body}


def id_list(body: dict[str, Any], key: str) -> list[int]:
    value = body.get(key)
    if not isinstance(value, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    ):
        raise web.HTTPError(400, f"Send {key} as a list of numeric ids, in the new order.")
    return value


class TeachAPIHandler(TeachHandler):
    """Loads what a request names, after the role and ownership checks."""

    async def editable_course(
        self, session: AsyncSession, course_id: str
    ) -> tuple[Account, Course]:
        account = await self.account(session)
        course = await authoring.course_for_editing(session, account, row_id(course_id))
        return account, course

    async def editable_module(self, session: AsyncSession, module_id: str) -> Module:
        account = await self.account(session)
        return await authoring.module_for_editing(session, account, row_id(module_id))

    async def editable_lesson(
        self, session: AsyncSession, lesson_id: str
    ) -> tuple[Account, Lesson]:
        account = await self.account(session)
        lesson = await authoring.lesson_for_editing(session, account, row_id(lesson_id))
        return account, lesson

    async def write_course(self, session: AsyncSession, course: Course, status: int = 200) -> None:
        await session.refresh(course)
        outline = await authoring.course_outline(session, course.id)
        prefix = self.settings_obj.service_prefix
        self.write_json(
            {**course_json(course, prefix), "modules": outline_json(outline, prefix)}, status
        )


class TeachCoursesAPI(TeachAPIHandler):
    async def get(self) -> None:
        async with self.db() as session:
            account = await self.account(session)
            overview = await course_stats.teaching_overview(session, account)
        self.write_json({"courses": [figures.as_json() for figures in overview]})

    async def post(self) -> None:
        body = self.json_body()
        async with self.db() as session:
            account = await self.account(session)
            course = await authoring.create_course(session, account, picked(body, COURSE_FIELDS))
            if body.get("thumbnail_upload_id"):
                await authoring.set_thumbnail(session, account, course, body["thumbnail_upload_id"])
            await session.commit()
            await self.write_course(session, course, 201)


class TeachCourseAPI(TeachAPIHandler):
    async def get(self, course_id: str) -> None:
        async with self.db() as session:
            _, course = await self.editable_course(session, course_id)
            await self.write_course(session, course)

    async def patch(self, course_id: str) -> None:
        body = self.json_body()
        async with self.db() as session:
            account, course = await self.editable_course(session, course_id)
            await authoring.update_course(session, course, picked(body, COURSE_FIELDS))
            if "thumbnail_upload_id" in body:
                await authoring.set_thumbnail(session, account, course, body["thumbnail_upload_id"])
            await session.commit()
            await self.write_course(session, course)

    async def delete(self, course_id: str) -> None:
        async with self.db() as session:
            _, course = await self.editable_course(session, course_id)
            await authoring.delete_course(session, course)
            await session.commit()
        self.set_status(204)
        self.finish()


class TeachStudentsAPI(TeachAPIHandler):
    async def get(self, course_id: str) -> None:
        async with self.db() as session:
            _, course = await self.editable_course(session, course_id)
            students = await course_stats.course_students(session, course.id)
            lessons = await course_stats.lesson_count(session, course.id)
        self.write_json(
            {
                "course_id": course.id,
                "lessons": lessons,
                "students": [student.as_json() for student in students],
            }
        )


class TeachModulesAPI(TeachAPIHandler):
    async def post(self, course_id: str) -> None:
        body = self.json_body()
        async with self.db() as session:
            _, course = await self.editable_course(session, course_id)
            module = await authoring.add_module(
                session,
                course,
                str(body.get("title", "")),
                str(body.get("description", "")),
            )
            await session.commit()
        self.write_json(module_json(module), 201)


class TeachModuleOrderAPI(TeachAPIHandler):
    async def put(self, course_id: str) -> None:
        module_ids = id_list(self.json_body(), "module_ids")
        async with self.db() as session:
            _, course = await self.editable_course(session, course_id)
            await authoring.reorder_modules(session, course, module_ids)
            await session.commit()
            await self.write_course(session, course)


class TeachModuleAPI(TeachAPIHandler):
    async def patch(self, module_id: str) -> None:
        body = self.json_body()
        async with self.db() as session:
            module = await self.editable_module(session, module_id)
            await authoring.update_module(session, module, picked(body, ("title", "description")))
            await session.commit()
        self.write_json(module_json(module))

    async def delete(self, module_id: str) -> None:
        async with self.db() as session:
            module = await self.editable_module(session, module_id)
            await authoring.delete_module(session, module)
            await session.commit()
        self.set_status(204)
        self.finish()


class TeachLessonsAPI(TeachAPIHandler):
    async def post(self, module_id: str) -> None:
        body = self.json_body()
        async with self.db() as session:
            module = await self.editable_module(session, module_id)
            lesson = await authoring.add_lesson(
                session,
                module,
                picked(body, ("title", "kind", "is_preview", "is_required", "text_markdown")),
            )
            await authoring.refresh_search_document(session, module.course_id)
            await session.commit()
        self.write_json(lesson_json(lesson, self.settings_obj.service_prefix, None), 201)


class TeachLessonOrderAPI(TeachAPIHandler):
    async def put(self, module_id: str) -> None:
        lesson_ids = id_list(self.json_body(), "lesson_ids")
        async with self.db() as session:
            module = await self.editable_module(session, module_id)
            await authoring.reorder_lessons(session, module, lesson_ids)
            await session.commit()
            course = await session.get_one(Course, module.course_id)
            await self.write_course(session, course)


class TeachLessonAPI(TeachAPIHandler):
    async def get(self, lesson_id: str) -> None:
        async with self.db() as session:
            _, lesson = await self.editable_lesson(session, lesson_id)
            await self.write_lesson(session, lesson)

    async def patch(self, lesson_id: str) -> None:
        body = self.json_body()
        async with self.db() as session:
            account, lesson = await self.editable_lesson(session, lesson_id)
            await authoring.update_lesson(session, account, lesson, picked(body, LESSON_FIELDS))
            await session.commit()
            await self.write_lesson(session, lesson)

    async def delete(self, lesson_id: str) -> None:
        async with self.db() as session:
            _, lesson = await self.editable_lesson(session, lesson_id)
            await authoring.delete_lesson(session, lesson)
            await session.commit()
        self.set_status(204)
        self.finish()

    async def write_lesson(self, session: AsyncSession, lesson: Lesson) -> None:
        number = None
        if lesson.published_version_id is not None:
            version = await session.get(LessonVersion, lesson.published_version_id)
            number = version.number if version else None
        self.write_json(lesson_json(lesson, self.settings_obj.service_prefix, number))


class MarkdownPreviewAPI(TeachHandler):
    """The sanitised HTML of some markdown, for the "Preview" buttons of the teaching pages."""

    async def post(self) -> None:
        body = self.json_body()
        async with self.db() as session:
            await self.account(session)
        self.write_json({"html": to_safe_html(str(body.get("markdown", "")))})


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    api = f"{prefix}/api/teach"
    return [
        (f"{api}/courses", TeachCoursesAPI),
        (rf"{api}/courses/(\d+)", TeachCourseAPI),
        (rf"{api}/courses/(\d+)/students", TeachStudentsAPI),
        (rf"{api}/courses/(\d+)/modules", TeachModulesAPI),
        (rf"{api}/courses/(\d+)/module-order", TeachModuleOrderAPI),
        (rf"{api}/modules/(\d+)", TeachModuleAPI),
        (rf"{api}/modules/(\d+)/lessons", TeachLessonsAPI),
        (rf"{api}/modules/(\d+)/lesson-order", TeachLessonOrderAPI),
        (rf"{api}/lessons/(\d+)", TeachLessonAPI),
        (f"{api}/markdown-preview", MarkdownPreviewAPI),
    ]
