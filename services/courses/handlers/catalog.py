"""The public catalog, course pages, and joining or leaving a course (pages and JSON).

The catalog and course pages are open to visitors. Someone who is signed in at the hub but
new to these pages is passed once through the hub's OAuth, so they see their own navigation
and enrollment instead of the visitors' view. Enrolling and leaving need a signed-in account
and a form token (or a hub API token); the rules live in ``coursehub.services.courses.enrollment``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.services.content.markdown import to_safe_html
from coursehub.services.courses import catalog, course_pictures, enrollment
from coursehub.services.courses.catalog import CatalogError, CatalogQuery
from coursehub.services.courses.enrollment import EnrollmentError
from coursehub.services.models import Account, Course, CourseStatus
from coursehub.services.web.base import READ_METHODS, BaseHandler

# The hub sets this cookie (path /) for signed-in people only and clears it at sign-out.
HUB_SESSION_COOKIE = "jupyterhub-session-id"
# Set before sending a visitor through the hub's OAuth, so a failed round cannot loop.
SIGN_IN_TRIED_COOKIE = "coursehub-sign-in-tried"
SLUG = r"([a-z0-9][a-z0-9-]{0,119})"

# ?done=<code> after a form, shown as a sentence on the course page (no text in the URL).
DONE_MESSAGES = {
    "enrolled": "You are enrolled. Enjoy the course!",
    "already": "You are already enrolled in this course.",
    "left": "You have left this course. Your progress is kept if you enroll again.",
    "not-enrolled": "You were not enrolled in this course.",
}


class PublicHandler(BaseHandler):
    """A page or endpoint anyone may open; signed-in people are recognised."""

    public = True

    async def prepare(self) -> None:
        await super().prepare()
        if self._finished or self.current_user or self.is_api:
            return
        if self.request.method not in READ_METHODS:
            return
        if self.get_cookie(HUB_SESSION_COOKIE) and not self.get_cookie(SIGN_IN_TRIED_COOKIE):
            self.set_cookie(
                SIGN_IN_TRIED_COOKIE,
                "1",
                path=self.settings_obj.service_prefix,
                max_age=60,
                httponly=True,
                samesite="Lax",
            )
            self.redirect(self.get_login_url())

    async def viewer(self, session: AsyncSession) -> Account | None:
        """The signed-in account, or None for a visitor."""
        return await self.account(session) if self.current_user else None


def parse_catalog_query(handler: web.RequestHandler) -> CatalogQuery:
    try:
        return catalog.parse_query(lambda name: handler.get_query_argument(name, None))
    except CatalogError as error:
        raise web.HTTPError(400, error.message) from None


class CatalogPage(PublicHandler):
    async def get(self) -> None:
        query = parse_catalog_query(self)
        async with self.db(read_only=True) as session:
            await self.viewer(session)
            connection = await session.connection()
            results = await catalog.search(connection, query)
            categories = await catalog.categories(connection)
        self.render_page(
            "catalog.html",
            results=results,
            query=query,
            categories=categories,
            sorts=catalog.SORT_LABELS,
            page_links=page_links(results),
            format_price=catalog.format_price,
            catalog_url=self.catalog_url,
            picture_url=course_pictures.picture_url,
        )

    def catalog_url(self, query: CatalogQuery, **changes: Any) -> str:
        params = query.as_params(**changes)
        base = f"{self.settings_obj.service_prefix}/courses"
        return f"{base}?{urlencode(params)}" if params else base


def page_links(results: catalog.CatalogPage, around: int = 2) -> list[int | None]:
    """Page numbers to offer: the first, the last and a few around this one (None = gap)."""
    current, last = results.query.page, results.pages
    wanted = {1, last, *range(current - around, current + around + 1)}
    numbers = sorted(n for n in wanted if 1 <= n <= last)
    links: list[int | None] = []
    for number in numbers:
        if links and links[-1] is not None and number - links[-1] > 1:
            links.append(None)
        links.append(number)
    return links


class CatalogAPI(PublicHandler):
    async def get(self) -> None:
        query = parse_catalog_query(self)
        async with self.db(read_only=True) as session:
            results = await catalog.search(await session.connection(), query)
        self.write_json(results.as_json(self.settings_obj.service_prefix))


# -- one course ---------------------------------------------------------------------------------


async def visible_course(session: AsyncSession, viewer: Account | None, slug: str) -> Course:
    return enrollment.check_visible(viewer, await enrollment.course_by_slug(session, slug))


async def course_view(
    session: AsyncSession, viewer: Account | None, course: Course, prefix: str
) -> dict[str, Any]:
    """What the course page and its JSON twin show ``viewer`` (None: a visitor)."""
    connection = await session.connection()
    modules = await catalog.syllabus(connection, course.id)
    enrolled = viewer is not None and await enrollment.is_enrolled(session, viewer, course)
    staff = enrollment.is_staff_of(viewer, course)
    refusal = enrollment.refusal(course)
    if viewer is not None and not enrolled and refusal is None:
        # Its graders are told why they cannot enroll instead of offered a button that fails.
        refusal = await enrollment.teaching_conflict(session, viewer, course)
    course_url = f"{prefix}/courses/{course.slug}"

    def lesson_url(lesson: catalog.SyllabusLesson) -> str | None:
        if lesson.is_ready and (enrolled or staff or lesson.is_preview):
            return f"{prefix}/learn/{course.slug}/{lesson.id}"
        return None

    syllabus = [
        {
            "title": module.title,
            "description": module.description,
            "lessons": [
                {
                    "id": lesson.id,
                    "title": lesson.title,
                    "kind": lesson.kind,
                    "is_preview": lesson.is_preview,
                    "is_required": lesson.is_required,
                    "is_ready": lesson.is_ready,
                    "url": lesson_url(lesson),
                }
                for lesson in module.lessons
            ],
        }
        for module in modules
    ]
    first = catalog.first_lesson(modules)
    is_instructor = viewer is not None and course.instructor_id == viewer.id
    # The instructor never needs to enroll; for a draft, staff need no reason why not.
    quiet = enrolled or is_instructor or course.status is CourseStatus.DRAFT
    return {
        "slug": course.slug,
        "title": course.title,
        "summary": course.summary,
        "description": course.description,
        "description_html": to_safe_html(course.description),
        "status": course.status.value,
        "instructor": course.instructor.name or course.instructor.username,
        "category": (
            {"slug": course.category.slug, "name": course.category.name}
            if course.category
            else None
        ),
        "price_cents": course.price_cents,
        "price": catalog.format_price(course.price_cents),
        "url": course_url,
        "picture_url": course_pictures.picture_url(prefix, course.slug, course.thumbnail_upload_id),
        "syllabus": syllabus,
        "lesson_count": sum(len(module["lessons"]) for module in syllabus),
        "viewer": {
            "signed_in": viewer is not None,
            "enrolled": enrolled,
            "staff": staff,
            "is_instructor": is_instructor,
            "can_enroll": viewer is not None and not quiet and refusal is None,
            "enroll_refusal": refusal.message if refusal and not quiet else None,
            "start_url": f"{prefix}/learn/{course.slug}/{first.id}" if first else None,
        },
    }


def render_course(
    handler: BaseHandler, view: dict[str, Any], notice: str = "", problem: str = ""
) -> None:
    handler.render_page(
        "course.html",
        course=view,
        notice=notice,
        problem=problem,
        sign_in_url="/hub/login?" + urlencode({"next": view["url"]}),
    )


class CoursePage(PublicHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            viewer = await self.viewer(session)
            course = await visible_course(session, viewer, slug)
            view = await course_view(session, viewer, course, self.settings_obj.service_prefix)
        render_course(self, view, notice=DONE_MESSAGES.get(self.get_query_argument("done", ""), ""))


class CourseAPI(PublicHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            viewer = await self.viewer(session)
            course = await visible_course(session, viewer, slug)
            view = await course_view(session, viewer, course, self.settings_obj.service_prefix)
        self.write_json(view)


# -- joining and leaving --------------------------------------------------------------------------

ACTIONS = {"enroll": enrollment.enroll, "unenroll": enrollment.unenroll}


class EnrollmentForm(BaseHandler):
    """The course page's Enroll and Leave buttons (signed-in people; the form carries _xsrf)."""

    async def post(self, slug: str, action: str) -> None:
        prefix = self.settings_obj.service_prefix
        async with self.db() as session:
            account = await self.account(session)
            course = await visible_course(session, account, slug)
            try:
                result = await ACTIONS[action](session, account, course)
            except EnrollmentError as error:
                view = await course_view(session, account, course, prefix)
                self.set_status(error.status)
                render_course(self, view, problem=error.message)
                return
            await session.commit()
        if action == "enroll":
            done = "enrolled" if result.changed else "already"
        else:
            done = "left" if result.changed else "not-enrolled"
        self.redirect(f"{prefix}/courses/{slug}?done={done}", status=303)


class EnrollmentAPI(BaseHandler):
    """``POST /api/courses/<slug>/enroll`` and ``.../unenroll``: 201 when newly enrolled."""

    async def post(self, slug: str, action: str) -> None:
        async with self.db() as session:
            account = await self.account(session)
            course = await visible_course(session, account, slug)
            result = await ACTIONS[action](session, account, course)
            await session.commit()
        status = 201 if action == "enroll" and result.changed else 200
        self.write_json(
            {"enrolled": result.enrolled, "changed": result.changed, "message": result.message},
            status,
        )


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/?", CatalogPage),
        (f"{prefix}/courses/?", CatalogPage),
        (f"{prefix}/courses/{SLUG}", CoursePage),
        (f"{prefix}/courses/{SLUG}/(enroll|unenroll)", EnrollmentForm),
        (f"{prefix}/api/courses", CatalogAPI),
        (f"{prefix}/api/courses/{SLUG}", CourseAPI),
        (f"{prefix}/api/courses/{SLUG}/(enroll|unenroll)", EnrollmentAPI),
    ]
