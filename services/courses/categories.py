"""Course categories: the short list administrators keep for the catalog.

Functions take an ``AsyncSession`` and leave committing to the caller; problems a person can
fix raise ``AuthoringError`` (the same sentence-and-status error the authoring functions use).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.courses.authoring import AuthoringError, slugify
from coursehub.services.models import Category, Course

MAX_NAME = 100


def clean_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise AuthoringError("Give the category a name.", field="name")
    if len(name) > MAX_NAME:
        raise AuthoringError(f"A category name can be at most {MAX_NAME} characters.", field="name")
    return name


async def all_categories(session: AsyncSession) -> list[tuple[Category, int]]:
    """Every category with the number of courses in it, by name."""
    counts = (
        select(Course.category_id, func.count().label("courses"))
        .group_by(Course.category_id)
        .subquery()
    )
    rows = await session.execute(
        select(Category, func.coalesce(counts.c.courses, 0))
        .outerjoin(counts, counts.c.category_id == Category.id)
        .order_by(func.lower(Category.name))
    )
    return [(category, int(courses)) for category, courses in rows]


async def _check_free(session: AsyncSession, name: str, slug: str, category_id: int = 0) -> None:
    clash = await session.scalar(
        select(Category.name).where(
            (func.lower(Category.name) == name.lower()) | (Category.slug == slug),
            Category.id != category_id,
        )
    )
    if clash is not None:
        raise AuthoringError(
            f"There is already a category called {clash!r}; choose another name.",
            status=409,
            field="name",
        )


async def _flush(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError:  # someone took the name in the same instant
        raise AuthoringError(
            f"There is already a category called {name!r}; choose another name.", status=409
        ) from None


async def create_category(session: AsyncSession, raw_name: str) -> Category:
    name = clean_name(raw_name)
    slug = slugify(name)
    await _check_free(session, name, slug)
    category = Category(name=name, slug=slug)
    session.add(category)
    await _flush(session, name)
    return category


async def get_category(session: AsyncSession, category_id: int) -> Category:
    category = await session.get(Category, category_id)
    if category is None:
        raise AuthoringError("There is no such category; reload the page.", status=404)
    return category


async def rename_category(session: AsyncSession, category: Category, raw_name: str) -> Category:
    name = clean_name(raw_name)
    slug = slugify(name)
    await _check_free(session, name, slug, category.id)
    category.name, category.slug = name, slug
    await _flush(session, name)
    return category


async def delete_category(session: AsyncSession, category: Category) -> None:
    """Courses in the category stay, without a category (the database sets it to NULL)."""
    await session.delete(category)
    await session.flush()


def category_json(category: Category, courses: int | None = None) -> dict[str, object]:
    body: dict[str, object] = {"id": category.id, "name": category.name, "slug": category.slug}
    if courses is not None:
        body["courses"] = courses
    return body
