"""The gradebook of a course, its grade categories, and each student's own grades.

JSON:
- ``GET /api/courses/<slug>/gradebook``: staff and graders get every enrolled student's row;
  a student gets their own row only, as they may see it.
- ``GET /api/courses/<slug>/gradebook.csv?format=plain|canvas``: staff and graders, as a
  download.
- ``GET``/``POST /api/courses/<slug>/grade-categories`` and ``GET``/``PATCH``/``DELETE
  …/grade-categories/<id>``: the course's grade categories (name, weight, drop_lowest,
  position, assignment_ids, quiz_ids); everyone in the course reads them, only its
  instructor and administrators change them.

Pages:
- ``/courses/<slug>/gradebook``: the gradebook for staff and graders, with forms that
  manage the categories (staff); students are sent to their own grades.
- ``/courses/<slug>/grades``: a student's own grades with per-cell feedback; staff and
  graders open any student's with ``?student=<username>``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.services.assessment import grade_categories, gradebook
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.assessment.gradebook import Access
from coursehub.services.assessment.handlers.assignments import AssignmentsHandler
from coursehub.services.courses.enrollment import is_enrolled
from coursehub.services.models import Account, Course, GradeCategory
from coursehub.services.web.teach_base import row_id

FORMATS = {"plain": gradebook.plain_csv, "canvas": gradebook.canvas_csv}
MANAGERS_ONLY = "Only the course's instructor and administrators can change its grade categories."
READERS_ONLY = (
    "The gradebook is for the course's instructor, graders and administrators; your own "
    "grades are on the course's Grades page."
)
DONE = {
    "added": "The category is added.",
    "saved": "The category is saved.",
    "deleted": "The category is deleted; its assessments are uncategorised now.",
    "placed": "The assessments' categories are saved.",
}


class GradebookHandler(AssignmentsHandler):
    """Finding the course and what the signed-in person may do with its grades."""

    access = Access.OWN

    async def gradebook_course(
        self, session: AsyncSession, slug: str, *, at_least: Access = Access.OWN
    ) -> tuple[Account, Course]:
        account = await self.account(session)
        course, self.access = await gradebook.gradebook_access(session, account, slug)
        self.staff = self.access is Access.MANAGE
        if at_least is Access.MANAGE and self.access is not Access.MANAGE:
            raise web.HTTPError(403, MANAGERS_ONLY)
        if at_least is Access.READ and self.access is Access.OWN:
            raise web.HTTPError(403, READERS_ONLY)
        return account, course

    async def category(
        self, session: AsyncSession, slug: str, category_id: str, at_least: Access
    ) -> tuple[Course, GradeCategory]:
        _, course = await self.gradebook_course(session, slug, at_least=at_least)
        category = await grade_categories.category_in_course(session, course, row_id(category_id))
        return course, category

    async def category_body(
        self, session: AsyncSession, course: Course, category: GradeCategory
    ) -> dict[str, Any]:
        items = await grade_categories.members(session, course)
        return grade_categories.category_json(category, items.get(category.id))


# -- JSON ------------------------------------------------------------------------------------


class GradebookAPI(GradebookHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            account, course = await self.gradebook_course(session, slug)
            own = self.access is Access.OWN
            book = await gradebook.course_gradebook(
                session, course, only_account=account.id if own else None, student_view=own
            )
        self.write_json(
            {**book.to_json(), "staff": not own, "manage": self.access is Access.MANAGE}
        )


class GradebookCSV(GradebookHandler):
    async def get(self, slug: str) -> None:
        kind = self.get_argument("format", "plain")
        if kind not in FORMATS:
            raise web.HTTPError(400, "Ask for format=plain or format=canvas.")
        async with self.db(read_only=True) as session:
            _, course = await self.gradebook_course(session, slug, at_least=Access.READ)
            book = await gradebook.course_gradebook(session, course)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header(
            "Content-Disposition", f'attachment; filename="{course.slug}-grades-{kind}.csv"'
        )
        self.finish(FORMATS[kind](book))


class CategoriesAPI(GradebookHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            _, course = await self.gradebook_course(session, slug)
            found = await grade_categories.course_categories(session, course)
            items = await grade_categories.members(session, course)
        body = [grade_categories.category_json(c, items.get(c.id)) for c in found]
        other = max(0.0, round(100 - sum(c.weight for c in found), 4)) if found else None
        self.write_json({"categories": body, "other_weight": other})

    async def post(self, slug: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            _, course = await self.gradebook_course(session, slug, at_least=Access.MANAGE)
            category = await grade_categories.create_category(session, course, fields)
            body = await self.category_body(session, course, category)
            await session.commit()
        self.write_json(body, 201)


class CategoryAPI(GradebookHandler):
    async def get(self, slug: str, category_id: str) -> None:
        async with self.db(read_only=True) as session:
            course, category = await self.category(session, slug, category_id, Access.OWN)
            body = await self.category_body(session, course, category)
        self.write_json(body)

    async def patch(self, slug: str, category_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            course, category = await self.category(session, slug, category_id, Access.MANAGE)
            await grade_categories.update_category(session, course, category, fields)
            body = await self.category_body(session, course, category)
            await session.commit()
        self.write_json(body)

    async def delete(self, slug: str, category_id: str) -> None:
        async with self.db() as session:
            _, category = await self.category(session, slug, category_id, Access.MANAGE)
            await grade_categories.delete_category(session, category)
            await session.commit()
        self.set_status(204)
        self.finish()


# -- pages -----------------------------------------------------------------------------------


def form_fields(handler: web.RequestHandler) -> dict[str, Any]:
    """A category form's fields as the JSON API takes them (numbers parsed)."""
    fields: dict[str, Any] = {}
    if (name := handler.get_body_argument("name", None)) is not None:
        fields["name"] = name
    for key, kind in (("weight", float), ("drop_lowest", int)):
        value = (handler.get_body_argument(key, "") or "").strip()
        if not value:
            continue
        try:
            fields[key] = kind(value)
        except ValueError:
            what = "a number from 0 to 100" if kind is float else "a whole number"
            raise AssignmentError(f"{key.replace('_', ' ').capitalize()} must be {what}.") from None
    return fields


class GradebookPage(GradebookHandler):
    """Staff and graders: the table; staff also manage the categories here."""

    async def get(self, slug: str) -> None:
        await self.show(slug)

    async def show(self, slug: str, problem: str = "", status: int = 200) -> None:
        async with self.db(read_only=True) as session:
            _, course = await self.gradebook_course(session, slug)
            if self.access is Access.OWN:
                self.redirect(f"{self.settings_obj.service_prefix}/courses/{slug}/grades")
                return
            book = await gradebook.course_gradebook(session, course)
            categories = await grade_categories.course_categories(session, course)
        self.set_status(status)
        self.render_page(
            "gradebook.html",
            course=course,
            book=book,
            categories=categories,
            manage=self.access is Access.MANAGE,
            done=DONE.get(self.get_query_argument("done", ""), ""),
            problem=problem,
        )

    def done(self, slug: str, what: str) -> None:
        self.redirect(
            f"{self.settings_obj.service_prefix}/courses/{slug}/gradebook?done={what}#categories"
        )


class CategoryForm(GradebookPage):
    """``POST …/gradebook/categories`` adds one; ``…/categories/<id>`` saves or deletes it
    (``action=delete``)."""

    async def post(self, slug: str, category_id: str | None = None) -> None:
        try:
            async with self.db() as session:
                what = await self.change(session, slug, category_id)
                await session.commit()
        except AssignmentError as error:
            await self.show(slug, problem=error.message, status=error.status)
            return
        self.done(slug, what)

    async def change(self, session: AsyncSession, slug: str, category_id: str | None) -> str:
        if category_id is None:
            _, course = await self.gradebook_course(session, slug, at_least=Access.MANAGE)
            await grade_categories.create_category(session, course, form_fields(self))
            return "added"
        course, category = await self.category(session, slug, category_id, Access.MANAGE)
        if self.get_body_argument("action", "") == "delete":
            await grade_categories.delete_category(session, category)
            return "deleted"
        await grade_categories.update_category(session, course, category, form_fields(self))
        return "saved"


class PlacementsForm(GradebookPage):
    """``POST …/gradebook/placements``: fields ``assignment-<id>``/``quiz-<id>`` name each
    assessment's category id (empty: none)."""

    async def post(self, slug: str) -> None:
        try:
            async with self.db() as session:
                _, course = await self.gradebook_course(session, slug, at_least=Access.MANAGE)
                known = {c.id for c in await grade_categories.course_categories(session, course)}
                wanted = self.placements(known)
                for (kind, category_id), ids in wanted.items():
                    await grade_categories.place(session, course, kind, ids, category_id)
                await session.commit()
        except AssignmentError as error:
            await self.show(slug, problem=error.message, status=error.status)
            return
        self.done(slug, "placed")

    def placements(self, known: set[int]) -> dict[tuple[str, int | None], list[int]]:
        wanted: dict[tuple[str, int | None], list[int]] = {}
        for name in self.request.body_arguments:
            kind, _, item = name.partition("-")
            if kind not in ("assignment", "quiz") or not item.isdigit():
                continue
            value = self.get_body_argument(name, "").strip()
            category_id = int(value) if value.isdigit() else None
            if category_id is not None and category_id not in known:
                raise AssignmentError("Pick one of this course's categories, or none.")
            wanted.setdefault((kind, category_id), []).append(int(item))
        return wanted


class GradesPage(GradebookHandler):
    """A student's own grades; staff and graders pick a student with ``?student=``."""

    async def get(self, slug: str) -> None:
        wanted = self.get_query_argument("student", "").strip()
        async with self.db(read_only=True) as session:
            account, course = await self.gradebook_course(session, slug)
            student = await self.student(session, account, course, wanted)
            if student is None:
                self.redirect(f"{self.settings_obj.service_prefix}/courses/{slug}/gradebook")
                return
            grades = await gradebook.student_grades(session, course, student)
        self.render_page(
            "grades.html",
            course=course,
            student=student,
            own=student.id == account.id,
            staff=self.access is not Access.OWN,
            grades=grades,
        )

    async def student(
        self, session: AsyncSession, account: Account, course: Course, wanted: str
    ) -> Account | None:
        """Whose grades to show; None sends staff without ``?student=`` to the gradebook."""
        if self.access is Access.OWN:
            if wanted and wanted != account.username:
                raise web.HTTPError(403, "You can see your own grades only.")
            return account
        if not wanted:
            return None
        student = await session.scalar(select(Account).where(Account.username == wanted))
        if student is None or not await is_enrolled(session, student, course):
            raise web.HTTPError(
                404,
                f"{course.title} has no student called {wanted!r}; pick one in the gradebook.",
            )
        return student


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    api = rf"{prefix}/api/courses/([^/]+)"
    page = rf"{prefix}/courses/([^/]+)"
    return [
        (rf"{api}/gradebook", GradebookAPI),
        (rf"{api}/gradebook\.csv", GradebookCSV),
        (rf"{api}/grade-categories", CategoriesAPI),
        (rf"{api}/grade-categories/(\d+)", CategoryAPI),
        (rf"{page}/gradebook", GradebookPage),
        (rf"{page}/gradebook/categories", CategoryForm),
        (rf"{page}/gradebook/categories/(\d+)", CategoryForm),
        (rf"{page}/gradebook/placements", PlacementsForm),
        (rf"{page}/grades", GradesPage),
    ]
