"""A signed-in person's learning: the dashboard page, its JSON twin, and my course list.

``/dashboard`` is where the hub sends people after they sign in (``c.JupyterHub.default_url``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.learning import dashboard
from coursehub.services.models import Account, Course, Enrollment
from coursehub.services.web.base import BaseHandler


class DashboardPage(BaseHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            mine = await dashboard.dashboard(
                await session.connection(), account.id, self.settings_obj.service_prefix
            )
        self.render_page("dashboard.html", dashboard=mine, account=account)


class DashboardAPI(BaseHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            mine = await dashboard.dashboard(
                await session.connection(), account.id, self.settings_obj.service_prefix
            )
        self.write_json(mine.as_json())


# Built once: this is the hottest read of the service.
_COURSES_OF = (
    select(Course.slug, Course.title, Enrollment.progress, Enrollment.enrolled_at)
    .join(Enrollment, Enrollment.course_id == Course.id)
    .join(Account, Enrollment.account_id == Account.id)
    .where(Account.username == bindparam("username"))
    .order_by(Enrollment.enrolled_at.desc())
)


async def courses_of(session: AsyncSession, username: str) -> list[dict[str, Any]]:
    """The courses ``username`` is enrolled in, in one query (no account row is needed)."""
    rows = await session.execute(_COURSES_OF, {"username": username})
    return [
        {"slug": slug, "title": title, "progress": progress, "enrolled_at": enrolled_at}
        for slug, title, progress, enrolled_at in rows
    ]


class MyCoursesAPI(BaseHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            courses = await courses_of(session, self.current_user["name"])
        self.write_json({"courses": courses})


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/dashboard", DashboardPage),
        (f"{prefix}/api/me/dashboard", DashboardAPI),
        (f"{prefix}/api/me/courses", MyCoursesAPI),
    ]
