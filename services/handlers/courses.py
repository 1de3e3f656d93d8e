"""Course pages and endpoints: the catalog of published courses and my courses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.handlers.base import BaseHandler
from coursehub.services.models import Account, Course, CourseStatus, Enrollment


async def published_courses(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Course.slug, Course.title, Course.summary, Account.name)
        .join(Account, Course.instructor_id == Account.id)
        .where(Course.status == CourseStatus.PUBLISHED)
        .order_by(Course.title)
    )
    return [
        {"slug": slug, "title": title, "summary": summary, "instructor": instructor}
        for slug, title, summary, instructor in rows
    ]


async def courses_of(session: AsyncSession, username: str) -> list[dict[str, Any]]:
    """The courses ``username`` is enrolled in, in one query (no account row is needed)."""
    rows = await session.execute(
        select(Course.slug, Course.title, Enrollment.progress, Enrollment.enrolled_at)
        .join(Enrollment, Enrollment.course_id == Course.id)
        .join(Account, Enrollment.account_id == Account.id)
        .where(Account.username == username)
        .order_by(Enrollment.enrolled_at.desc())
    )
    return [
        {"slug": slug, "title": title, "progress": progress, "enrolled_at": enrolled_at}
        for slug, title, progress, enrolled_at in rows
    ]


class CoursesPage(BaseHandler):
    async def get(self) -> None:
        async with self.db() as session:
            await self.account(session)
            catalog = await published_courses(session)
            mine = await courses_of(session, self.current_user["name"])
        self.render_page("courses.html", catalog=catalog, mine=mine)


class CatalogAPI(BaseHandler):
    async def get(self) -> None:
        async with self.db() as session:
            self.write_json({"courses": await published_courses(session)})


class MyCoursesAPI(BaseHandler):
    async def get(self) -> None:
        async with self.db() as session:
            self.write_json({"courses": await courses_of(session, self.current_user["name"])})


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/?", CoursesPage),
        (f"{prefix}/courses", CoursesPage),
        (f"{prefix}/api/courses", CatalogAPI),
        (f"{prefix}/api/me/courses", MyCoursesAPI),
    ]
