"""What the landing and pricing pages show: a few published courses (the most followed and the
newest, from the public catalog's own query), the categories, and the paid courses' prices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from coursehub.services.courses import catalog, course_pictures
from coursehub.services.courses.catalog import CatalogQuery
from coursehub.services.models import Course, CourseStatus
from coursehub.services.payments import prices

FEATURED = 3
NEWEST = 6


@dataclass(frozen=True)
class Showcase:
    featured: list[dict[str, Any]]
    newest: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    total: int


async def showcase(session: AsyncSession, prefix: str) -> Showcase:
    """The most followed courses (with students), then the newest ones not already shown,
    and the categories."""
    connection = await session.connection()
    featured = await catalog.search(connection, CatalogQuery(sort="enrolled", per_page=FEATURED))
    newest = await catalog.search(connection, CatalogQuery(sort="newest", per_page=NEWEST + 3))
    # Popular means someone follows it: without students a course is only new.
    popular = [item for item in featured.items if item["students"] > 0]
    shown = {item["slug"] for item in popular}
    fresh = [item for item in newest.items if item["slug"] not in shown][:NEWEST]
    categories = await catalog.categories(connection)
    return Showcase(
        featured=[catalog.course_json(item, prefix) for item in popular],
        newest=[catalog.course_json(item, prefix) for item in fresh],
        categories=[dict(category) for category in categories],
        total=featured.total,
    )


@dataclass(frozen=True)
class PricedCourse:
    slug: str
    title: str
    summary: str
    url: str
    picture_url: str
    prices: list[prices.Price]


async def priced_courses(
    session: AsyncSession, prefix: str, default_currency: str
) -> list[PricedCourse]:
    """Every published paid course with its prices (its own currency first), by title."""
    courses = await session.scalars(
        select(Course)
        .where(Course.status == CourseStatus.PUBLISHED, Course.price_cents > 0)
        .options(defer(Course.search_document))
        .order_by(Course.title, Course.id)
    )
    found = []
    for course in courses:
        found.append(
            PricedCourse(
                slug=course.slug,
                title=course.title,
                summary=course.summary,
                url=f"{prefix}/courses/{course.slug}",
                picture_url=course_pictures.picture_url(
                    prefix, course.slug, course.thumbnail_upload_id
                ),
                prices=await prices.prices_of(session, course, default_currency),
            )
        )
    return found


async def any_priced_course(session: AsyncSession) -> bool:
    """Whether the pricing page has anything to list (the navigation hides it otherwise)."""
    found = await session.scalar(
        select(Course.id)
        .where(Course.status == CourseStatus.PUBLISHED, Course.price_cents > 0)
        .limit(1)
    )
    return found is not None
