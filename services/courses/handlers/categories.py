"""Course categories: the administrators' page (create, rename, delete) and the JSON API.

Everyone signed in may list categories (course forms and the catalog need them); only
administrators change them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services.courses import categories
from coursehub.services.courses.authoring import AuthoringError
from coursehub.services.web.teach_base import TeachHandler, row_id

DONE = {
    "created": "The category is added.",
    "renamed": "The category is renamed.",
    "deleted": "The category is deleted; its courses have no category now.",
}


class CategoriesHandler(TeachHandler):
    min_role = Role.ADMIN


class CategoriesPage(CategoriesHandler):
    async def get(self, *_: str) -> None:
        async with self.db() as session:
            await self.account(session)
            await self.render_categories(session)

    async def render_categories(
        self, session: AsyncSession, *, problem: str = "", field: str = "", status: int = 200
    ) -> None:
        self.set_status(status)
        self.render_page(
            "categories.html",
            rows=await categories.all_categories(session),
            problem=problem,
            problem_field=field,
            done=DONE.get(self.get_query_argument("done", ""), "") if status == 200 else "",
            typed=self.get_body_argument("name", "") if self.request.method == "POST" else "",
        )

    async def post(self, category_id: str | None = None, action: str | None = None) -> None:
        async with self.db() as session:
            await self.account(session)
            try:
                done = await self.apply(session, category_id, action)
            except AuthoringError as error:
                await session.rollback()
                await self.render_categories(
                    session, problem=error.message, field=category_id or "new", status=error.status
                )
                return
            await session.commit()
        self.redirect(f"{self.settings_obj.service_prefix}/admin/categories?done={done}")

    async def apply(
        self, session: AsyncSession, category_id: str | None, action: str | None
    ) -> str:
        """Create, rename or delete as the form says; returns what was done."""
        if category_id is None:
            await categories.create_category(session, self.get_body_argument("name", ""))
            return "created"
        category = await categories.get_category(session, row_id(category_id))
        if action == "delete":
            await categories.delete_category(session, category)
            return "deleted"
        await categories.rename_category(session, category, self.get_body_argument("name", ""))
        return "renamed"


class CategoriesAPI(CategoriesHandler):
    async def prepare(self) -> None:
        if self.request.method == "GET":
            self.min_role = None  # anyone signed in may read the list
        await super().prepare()

    async def get(self) -> None:
        async with self.db() as session:
            await self.account(session)
            rows = await categories.all_categories(session)
        self.write_json(
            {"categories": [categories.category_json(c, courses) for c, courses in rows]}
        )

    async def post(self) -> None:
        body = self.json_body()
        async with self.db() as session:
            await self.account(session)
            category = await categories.create_category(session, str(body.get("name", "")))
            await session.commit()
        self.write_json(categories.category_json(category), 201)


class CategoryAPI(CategoriesHandler):
    async def patch(self, category_id: str) -> None:
        body = self.json_body()
        async with self.db() as session:
            await self.account(session)
            category = await categories.get_category(session, row_id(category_id))
            await categories.rename_category(session, category, str(body.get("name", "")))
            await session.commit()
        self.write_json(categories.category_json(category))

    async def delete(self, category_id: str) -> None:
        async with self.db() as session:
            await self.account(session)
            category = await categories.get_category(session, row_id(category_id))
            await categories.delete_category(session, category)
            await session.commit()
        self.set_status(204)
        self.finish()


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/admin/categories", CategoriesPage),
        (rf"{prefix}/admin/categories/(\d+)", CategoriesPage),
        (rf"{prefix}/admin/categories/(\d+)/(delete)", CategoriesPage),
        (f"{prefix}/api/categories", CategoriesAPI),
        (rf"{prefix}/api/categories/(\d+)", CategoryAPI),
    ]
