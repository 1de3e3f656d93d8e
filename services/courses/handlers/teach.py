"""The instructors' pages under ``/teach``: my courses with their figures, a course's details,
modules and lessons, its students, and each lesson's content and notebook versions.

Pages are plain HTML forms that work without script (post, then redirect back with a note);
``static/teach.js`` adds drag and drop and move buttons for ordering, markdown previews and
video uploads, through the JSON API in ``teach_api``. Instructors see their own courses,
administrators every course; everyone else gets a page that says why.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.hub.constants import Role
from coursehub.services.assessment import assignments
from coursehub.services.content import uploads
from coursehub.services.content.markdown import to_safe_html
from coursehub.services.courses import authoring, categories, course_stats, groups
from coursehub.services.courses.authoring import AuthoringError
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Account,
    Course,
    CourseStatus,
    Lesson,
    LessonKind,
    Module,
    Upload,
)
from coursehub.services.notebook_runs import publish_checks
from coursehub.services.quizzes import quizzes
from coursehub.services.web.teach_base import TeachHandler, row_id

# What a redirect's ``?done=`` says on the page it lands on.
DONE = {
    "created": "The course is created as a draft. Add modules and lessons, then publish it.",
    "saved": "Your changes are saved.",
    "published": "The course is published: it is in the catalog now.",
    "draft": "The course is a draft again: it has left the catalog.",
    "archived": "The course is archived: students keep their work, nobody new can enroll.",
    "module-added": "The module is added.",
    "module-saved": "The module is saved.",
    "module-deleted": "The module and its lessons are deleted.",
    "lesson-added": "The lesson is added. Give it its content below.",
    "lesson-saved": "The lesson is saved.",
    "lesson-deleted": "The lesson is deleted.",
    "version-kept": "This notebook is the same as the newest version; nothing new was kept.",
    "assessment-chosen": "Saved: students who open this lesson go to the one you chose.",
    "assessment-cleared": "Saved: this lesson leads to nothing yet; choose one when it is ready.",
    "deleted": "The course is deleted.",
}
STATUS_DONE = {
    CourseStatus.PUBLISHED: "published",
    CourseStatus.DRAFT: "draft",
    CourseStatus.ARCHIVED: "archived",
}
COURSE_FORM_FIELDS = ("title", "slug", "summary", "description", "category_id", "status")


def done_message(handler: web.RequestHandler) -> str:
    return DONE.get(handler.get_query_argument("done", ""), "")


class TeachPage(TeachHandler):
    def go(self, path: str, **query: Any) -> None:
        suffix = f"?{urlencode(query)}" if query else ""
        self.redirect(f"{self.settings_obj.service_prefix}{path}{suffix}")

    async def editable(self, session: AsyncSession, course_id: str) -> tuple[Account, Course]:
        account = await self.account(session)
        course = await authoring.course_for_editing(session, account, row_id(course_id))
        return account, course

    async def render_course(
        self,
        session: AsyncSession,
        course: Course,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        problem: str = "",
        status: int = 200,
    ) -> None:
        await session.refresh(course)
        outline = await authoring.course_outline(session, course.id)
        all_categories = [category for category, _ in await categories.all_categories(session)]
        self.set_status(status)
        self.render_page(
            "teach_course.html",
            course=course,
            outline=outline,
            leads_to=await assessments_in_syllabus(session, course),
            categories=all_categories,
            statuses=list(CourseStatus),
            kinds=list(LessonKind),
            values=values or course_values(course),
            errors=errors or {},
            problem=problem,
            done=done_message(self) if status == 200 else "",
            description_html=to_safe_html(course.description),
            failing_checks=await publish_checks.failing_lessons(session, course.id),
        )

    async def thumbnail_from_form(self) -> uploads.IncomingFile | None:
        """The form's thumbnail, checked and held as a part file (None when none was sent)."""
        files = self.request.files.get("thumbnail") or []
        if not files or not files[0].body:
            return None
        settings = self.settings_obj
        try:
            return await uploads.receive_bytes(
                settings.uploads_dir, uploads.THUMBNAIL, settings.max_thumbnail_bytes, files[0].body
            )
        except uploads.UploadError as error:
            raise AuthoringError(error.message, error.status, field="thumbnail") from None

    async def keep_thumbnail(
        self, session: AsyncSession, account: Account, course: Course, incoming: Any
    ) -> None:
        if incoming is None:
            return
        name = self.request.files["thumbnail"][0].filename
        upload = await uploads.record(session, incoming, account, name)
        await authoring.set_thumbnail(session, account, course, upload.id)

    def typed_course_form(self) -> dict[str, str]:
        """The course form as typed, to show it again when something is wrong."""
        typed = {name: self.get_body_argument(name, "") for name in COURSE_FORM_FIELDS}
        typed["price"] = self.get_body_argument("price", "")
        return typed


def course_fields(typed: dict[str, str], *, creating: bool) -> dict[str, Any]:
    """The typed course form as fields for the authoring functions."""
    fields: dict[str, Any] = {k: v for k, v in typed.items() if k in COURSE_FORM_FIELDS}
    if creating:
        fields.pop("status")
    if not typed["slug"].strip():
        fields.pop("slug")  # made from the title when creating, left alone when editing
    fields["price_cents"] = authoring.parse_price(typed["price"])
    return fields


def course_values(course: Course) -> dict[str, str]:
    return {
        "title": course.title,
        "slug": course.slug,
        "summary": course.summary,
        "description": course.description,
        "category_id": str(course.category_id or ""),
        "status": course.status.value,
        "price": f"{course.price_cents / 100:.2f}" if course.price_cents else "0",
    }


def error_fields(error: AuthoringError) -> dict[str, str]:
    return {error.field or "form": error.message}


class TeachDashboard(TeachPage):
    async def get(self) -> None:
        async with self.db() as session:
            account = await self.account(session)
            overview = await course_stats.teaching_overview(session, account)
        self.render_page(
            "teach_dashboard.html",
            overview=overview,
            is_admin=account.role is Role.ADMIN,
            done=done_message(self),
        )


class NewCoursePage(TeachPage):
    async def get(self) -> None:
        async with self.db() as session:
            await self.account(session)
            await self.render_new(session, {}, {"price": "0"})

    async def render_new(
        self,
        session: AsyncSession,
        errors: dict[str, str],
        values: dict[str, str],
        status: int = 200,
    ) -> None:
        all_categories = [category for category, _ in await categories.all_categories(session)]
        self.set_status(status)
        self.render_page(
            "teach_course_new.html", errors=errors, values=values, categories=all_categories
        )

    async def post(self) -> None:
        async with self.db() as session:
            account = await self.account(session)
            typed = self.typed_course_form()
            incoming = None
            try:
                fields = course_fields(typed, creating=True)
                incoming = await self.thumbnail_from_form()
                course = await authoring.create_course(session, account, fields)
                await self.keep_thumbnail(session, account, course, incoming)
                await session.commit()
            except AuthoringError as error:
                await session.rollback()
                await self.render_new(session, error_fields(error), typed, error.status)
                return
            finally:
                if incoming is not None:
                    incoming.discard()
        self.go(f"/teach/courses/{course.id}", done="created")


class CoursePage(TeachPage):
    async def get(self, course_id: str) -> None:
        async with self.db() as session:
            _, course = await self.editable(session, course_id)
            await self.render_course(session, course)

    async def post(self, course_id: str) -> None:
        async with self.db() as session:
            account, course = await self.editable(session, course_id)
            typed = self.typed_course_form()
            incoming = None
            try:
                fields = course_fields(typed, creating=False)
                incoming = await self.thumbnail_from_form()
                await authoring.update_course(session, course, fields)
                if self.get_body_argument("remove_thumbnail", ""):
                    await authoring.set_thumbnail(session, account, course, None)
                await self.keep_thumbnail(session, account, course, incoming)
                await session.commit()
            except AuthoringError as error:
                await session.rollback()
                await self.render_course(
                    session,
                    course,
                    errors=error_fields(error),
                    values=typed,
                    problem="The course was not saved: " + error.message,
                    status=error.status,
                )
                return
            finally:
                if incoming is not None:
                    incoming.discard()
        self.go(f"/teach/courses/{course.id}", done="saved")


class CourseBySlugPage(TeachPage):
    """``/teach/course/<slug>``: the course's Manage page, from pages that know the course by
    its address (the course page's "Manage this course")."""

    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            course = await session.scalar(select(Course.id).where(Course.slug == slug))
            if course is None:
                raise AuthoringError("There is no such course.", status=404)
            await authoring.course_for_editing(session, account, course)
        self.go(f"/teach/courses/{course}")


class CourseStatusPage(TeachPage):
    async def post(self, course_id: str) -> None:
        async with self.db() as session:
            _, course = await self.editable(session, course_id)
            await authoring.update_course(
                session, course, {"status": self.get_body_argument("status", "")}
            )
            await session.commit()
        self.go(f"/teach/courses/{course.id}", done=STATUS_DONE[course.status])


class CourseDeletePage(TeachPage):
    async def post(self, course_id: str) -> None:
        async with self.db() as session:
            _, course = await self.editable(session, course_id)
            try:
                await authoring.delete_course(session, course)
            except AuthoringError as error:
                await self.render_course(
                    session, course, problem=error.message, status=error.status
                )
                return
            await session.commit()
        self.go("/teach", done="deleted")


class CourseStudentsPage(TeachPage):
    async def get(self, course_id: str) -> None:
        async with self.db() as session:
            _, course = await self.editable(session, course_id)
            students = await course_stats.course_students(session, course.id)
            lessons = await course_stats.lesson_count(session, course.id)
        self.render_page(
            "teach_students.html",
            course=course,
            students=students,
            lessons=lessons,
            done=self.get_query_argument("done", ""),
        )

    async def post(self, course_id: str) -> None:
        """Put one student in a group (blank: in none)."""
        async with self.db() as session:
            _, course = await self.editable(session, course_id)
            await groups.set_group(
                session,
                course,
                self.get_body_argument("username", ""),
                self.get_body_argument("group", ""),
            )
            await session.commit()
        self.go(f"/teach/courses/{course.id}/students", done="group")


class ModulesPage(TeachPage):
    async def post(self, course_id: str) -> None:
        async with self.db() as session:
            _, course = await self.editable(session, course_id)
            try:
                await authoring.add_module(
                    session,
                    course,
                    self.get_body_argument("title", ""),
                    self.get_body_argument("description", ""),
                )
            except AuthoringError as error:
                await session.rollback()
                await self.render_course(
                    session,
                    course,
                    errors={"module_title": error.message},
                    problem="The module was not added: " + error.message,
                    status=error.status,
                )
                return
            await session.commit()
        self.go(f"/teach/courses/{course.id}", done="module-added")


class ModuleEditing(TeachPage):
    async def editable_module(self, session: AsyncSession, module_id: str) -> Module:
        account = await self.account(session)
        return await authoring.module_for_editing(session, account, row_id(module_id))


class ModulePage(ModuleEditing):
    async def post(self, module_id: str) -> None:
        async with self.db() as session:
            module = await self.editable_module(session, module_id)
            fields = {
                "title": self.get_body_argument("title", ""),
                "description": self.get_body_argument("description", ""),
            }
            try:
                await authoring.update_module(session, module, fields)
            except AuthoringError as error:
                await session.rollback()
                course = await session.get_one(Course, module.course_id)
                await self.render_course(
                    session,
                    course,
                    problem="The module was not saved: " + error.message,
                    status=error.status,
                )
                return
            await session.commit()
        self.go(f"/teach/courses/{module.course_id}", done="module-saved")


class ModuleDeletePage(ModuleEditing):
    async def post(self, module_id: str) -> None:
        async with self.db() as session:
            module = await self.editable_module(session, module_id)
            await authoring.delete_module(session, module)
            await session.commit()
        self.go(f"/teach/courses/{module.course_id}", done="module-deleted")


class LessonsPage(ModuleEditing):
    async def post(self, module_id: str) -> None:
        async with self.db() as session:
            module = await self.editable_module(session, module_id)
            fields = {
                "title": self.get_body_argument("title", ""),
                "kind": self.get_body_argument("kind", ""),
            }
            try:
                lesson = await authoring.add_lesson(session, module, fields)
            except AuthoringError as error:
                await session.rollback()
                course = await session.get_one(Course, module.course_id)
                await self.render_course(
                    session,
                    course,
                    errors={f"lesson_title_{module.id}": error.message},
                    problem="The lesson was not added: " + error.message,
                    status=error.status,
                )
                return
            await authoring.refresh_search_document(session, module.course_id)
            await session.commit()
        self.go(f"/teach/lessons/{lesson.id}", done="lesson-added")


class LessonEditing(TeachPage):
    async def editable_lesson(
        self, session: AsyncSession, lesson_id: str
    ) -> tuple[Account, Lesson]:
        account = await self.account(session)
        lesson = await authoring.lesson_for_editing(session, account, row_id(lesson_id))
        return account, lesson

    async def render_lesson(
        self,
        session: AsyncSession,
        lesson: Lesson,
        *,
        errors: dict[str, str] | None = None,
        problem: str = "",
        status: int = 200,
        values: dict[str, Any] | None = None,
        check: dict[str, Any] | None = None,
    ) -> None:
        course = await authoring.course_of_lesson(session, lesson)
        versions = await authoring.lesson_versions(session, lesson.id)
        checks = await publish_checks.checks_of(session, [version.id for version in versions])
        authors = await authoring.version_authors(session, versions)
        video = (
            await session.get(Upload, lesson.video_upload_id) if lesson.video_upload_id else None
        )
        prefix = self.settings_obj.service_prefix
        self.set_status(status)
        self.render_page(
            "teach_lesson.html",
            course=course,
            lesson=lesson,
            picker=await assessment_picker(session, prefix, course, lesson),
            values=values or lesson_values(lesson),
            versions=versions,
            authors=authors,
            video=video,
            errors=errors or {},
            problem=problem,
            done=done_message(self) if status == 200 else "",
            published_number=self.get_query_argument("published", ""),
            max_notebook_mb=self.settings_obj.max_notebook_bytes / 1e6,
            max_video_mb=self.settings_obj.max_video_bytes / 1e6,
            text_html=to_safe_html(lesson.text_markdown) if lesson.kind is LessonKind.TEXT else "",
            check=check,
            checks=checks,
        )


def lesson_values(lesson: Lesson) -> dict[str, Any]:
    return {
        "title": lesson.title,
        "is_preview": lesson.is_preview,
        "is_required": lesson.is_required,
        "text_markdown": lesson.text_markdown,
        "duration_seconds": "" if lesson.duration_seconds is None else str(lesson.duration_seconds),
    }


class LessonPage(LessonEditing):
    async def get(self, lesson_id: str) -> None:
        async with self.db() as session:
            _, lesson = await self.editable_lesson(session, lesson_id)
            await self.render_lesson(session, lesson)

    async def post(self, lesson_id: str) -> None:
        async with self.db() as session:
            account, lesson = await self.editable_lesson(session, lesson_id)
            fields: dict[str, Any] = {
                "title": self.get_body_argument("title", ""),
                "is_preview": bool(self.get_body_argument("is_preview", "")),
                "is_required": bool(self.get_body_argument("is_required", "")),
            }
            if lesson.kind is LessonKind.TEXT:
                fields["text_markdown"] = self.get_body_argument("text_markdown", "")
            if lesson.kind is LessonKind.VIDEO:
                fields["duration_seconds"] = self.get_body_argument("duration_seconds", "")
            try:
                await authoring.update_lesson(session, account, lesson, fields)
            except AuthoringError as error:
                await session.rollback()
                await session.refresh(lesson)
                await self.render_lesson(
                    session,
                    lesson,
                    errors=error_fields(error),
                    problem="The lesson was not saved: " + error.message,
                    status=error.status,
                    values=fields,
                )
                return
            await session.commit()
        self.go(f"/teach/lessons/{lesson.id}", done="lesson-saved")


# -- what a quiz or assignment lesson leads to ----------------------------------------------------


async def assessments_in_syllabus(session: AsyncSession, course: Course) -> dict[int, str]:
    """The title of the quiz or assignment each lesson of the syllabus leads to, by lesson id."""
    found: dict[int, str] = {}
    staff_assignments = await assignments.course_assignments(session, course, staff=True)
    for item in [*await quizzes.course_quizzes(session, course, staff=True), *staff_assignments]:
        if item.lesson_id is not None:
            found.setdefault(item.lesson_id, item.title)
    return found


async def assessment_picker(
    session: AsyncSession, prefix: str, course: Course, lesson: Lesson
) -> dict[str, Any] | None:
    """What the lesson editor offers a quiz or assignment lesson: the course's quizzes (or
    assignments) to choose from, the one chosen, where to make a new one."""
    if lesson.kind is LessonKind.QUIZ:
        items: list[Any] = await quizzes.course_quizzes(session, course, staff=True)
        drafts = {item.id for item in items if not item.published}
    elif lesson.kind is LessonKind.ASSIGNMENT:
        items = await assignments.course_assignments(session, course, staff=True)
        drafts = {item.id for item in items if item.released_at is None}
    else:
        return None
    quiz = lesson.kind is LessonKind.QUIZ
    titles = {other.id: other.title for other in await authoring.course_lessons(session, course.id)}
    chosen = next((item for item in items if item.lesson_id == lesson.id), None)
    pages = f"{prefix}/courses/{course.slug}/{'quizzes' if quiz else 'assignments'}"
    return {
        "what": "quiz" if quiz else "assignment",
        "field": "quiz_id" if quiz else "assignment_id",
        "options": [
            {
                "id": item.id,
                "title": item.title,
                "draft": item.id in drafts,
                "elsewhere": titles.get(item.lesson_id)
                if item.lesson_id not in (None, lesson.id)
                else None,
            }
            for item in items
        ],
        "chosen": chosen,
        "list_url": pages,
        "edit_url": (f"{pages}/{chosen.id}/edit" if quiz else pages) if chosen else "",
    }


async def choose_assessment(
    session: AsyncSession, account: Account, lesson: Lesson, raw: str
) -> str:
    """Make ``lesson`` lead to the course's quiz or assignment ``raw`` (an id; "" for none;
    "new": a new quiz titled as the lesson). Whatever led here before is let go. Returns the
    address to go to next."""
    course = await authoring.course_of_lesson(session, lesson)
    prefix_quiz = lesson.kind is LessonKind.QUIZ
    if lesson.kind not in (LessonKind.QUIZ, LessonKind.ASSIGNMENT):
        raise AuthoringError("Only quiz and assignment lessons lead to a quiz or an assignment.")
    current: list[Any] = (
        await quizzes.course_quizzes(session, course, staff=True)
        if prefix_quiz
        else await assignments.course_assignments(session, course, staff=True)
    )
    chosen: Any = None
    if raw == "new" and prefix_quiz:
        chosen = await quizzes.create_quiz(session, course, account, {"title": lesson.title})
    elif raw:
        chosen = next((item for item in current if str(item.id) == raw.strip()), None)
        if chosen is None:
            raise AuthoringError(
                f"That {'quiz' if prefix_quiz else 'assignment'} is not one of this course's; "
                "choose one from the list.",
                field="assessment",
            )
    update = quizzes.update_settings if prefix_quiz else assignments.update_settings
    for item in current:
        if item.lesson_id == lesson.id and item is not chosen:
            await update(session, item, {"lesson_id": None})
    if chosen is not None and chosen.lesson_id != lesson.id:
        await update(session, chosen, {"lesson_id": lesson.id})
    if raw == "new":
        return f"/courses/{course.slug}/quizzes/{chosen.id}/edit"
    done = "assessment-chosen" if chosen is not None else "assessment-cleared"
    return f"/teach/lessons/{lesson.id}?done={done}"


class LessonAssessmentPage(LessonEditing):
    """The lesson editor's picker: which of the course's quizzes (or assignments) a quiz (or
    assignment) lesson leads to, or a new quiz made from there."""

    async def post(self, lesson_id: str) -> None:
        async with self.db() as session:
            account, lesson = await self.editable_lesson(session, lesson_id)
            field = "quiz_id" if lesson.kind is LessonKind.QUIZ else "assignment_id"
            try:
                target = await choose_assessment(
                    session, account, lesson, self.get_body_argument(field, "")
                )
            except Refusal as error:
                await session.rollback()
                await session.refresh(lesson)
                await self.render_lesson(
                    session,
                    lesson,
                    errors={"assessment": error.message},
                    problem="Nothing was changed: " + error.message,
                    status=error.status,
                )
                return
            await session.commit()
        self.redirect(f"{self.settings_obj.service_prefix}{target}")


class LessonDeletePage(LessonEditing):
    async def post(self, lesson_id: str) -> None:
        async with self.db() as session:
            _, lesson = await self.editable_lesson(session, lesson_id)
            module = await session.get_one(Module, lesson.module_id)
            await authoring.delete_lesson(session, lesson)
            await session.commit()
        self.go(f"/teach/courses/{module.course_id}", done="lesson-deleted")


class NotebookUploadPage(LessonEditing):
    """The lesson page's "Publish notebook" form (multipart, a .ipynb file)."""

    async def post(self, lesson_id: str) -> None:
        limit = self.settings_obj.max_notebook_bytes
        files = self.request.files.get("notebook") or []
        data = files[0].body if files else b""
        # The publish check (notebook_runs.publish_checks): run first, with no session open.
        anyway = publish_checks.wants_anyway(self.get_body_argument("publish_anyway", ""))
        async with self.db() as session:
            _, lesson = await self.editable_lesson(session, lesson_id)
            data_files = await publish_checks.lesson_files_for_check(
                session, lesson, self.settings_obj.course_files_dir
            )
        run = await publish_checks.check_notebook(data, data_files) if data else None
        async with self.db() as session:
            account, lesson = await self.editable_lesson(session, lesson_id)
            try:
                if not data:
                    raise AuthoringError("Choose a .ipynb file to publish.", field="notebook")
                try:
                    publish_checks.refuse_unless_anyway(run, anyway)
                except publish_checks.LessonCheckFailed as failed:
                    await self.render_lesson(
                        session,
                        lesson,
                        errors={"notebook": failed.message},
                        problem=failed.message,
                        status=failed.status,
                        check=failed.summary,
                    )
                    return
                version, created = await authoring.publish_notebook_version(
                    session, lesson, data, account, limit
                )
                await publish_checks.keep_check(session, version, run, account.id, anyway)
            except AuthoringError as error:
                await session.rollback()
                await session.refresh(lesson)
                await self.render_lesson(
                    session,
                    lesson,
                    errors={"notebook": error.message},
                    problem="The notebook was not published: " + error.message,
                    status=error.status,
                )
                return
            await session.commit()
        if created:
            self.go(f"/teach/lessons/{lesson.id}", published=version.number)
        else:
            self.go(f"/teach/lessons/{lesson.id}", done="version-kept")


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    teach = f"{prefix}/teach"
    return [
        (f"{teach}/?", TeachDashboard),
        (f"{teach}/courses/new", NewCoursePage),
        (rf"{teach}/courses/(\d+)", CoursePage),
        (rf"{teach}/course/([\w-]+)", CourseBySlugPage),
        (rf"{teach}/courses/(\d+)/status", CourseStatusPage),
        (rf"{teach}/courses/(\d+)/delete", CourseDeletePage),
        (rf"{teach}/courses/(\d+)/students", CourseStudentsPage),
        (rf"{teach}/courses/(\d+)/modules", ModulesPage),
        (rf"{teach}/modules/(\d+)", ModulePage),
        (rf"{teach}/modules/(\d+)/delete", ModuleDeletePage),
        (rf"{teach}/modules/(\d+)/lessons", LessonsPage),
        (rf"{teach}/lessons/(\d+)", LessonPage),
        (rf"{teach}/lessons/(\d+)/delete", LessonDeletePage),
        (rf"{teach}/lessons/(\d+)/assessment", LessonAssessmentPage),
        (rf"{teach}/lessons/(\d+)/versions", NotebookUploadPage),
    ]
