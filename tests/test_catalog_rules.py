"""``courses.catalog``: the public catalog's rules. A request's parameters are read with a
sentence naming the first wrong one; relevance needs a search; only published courses are
listed, filtered by category, sorted, paged (a page past the end still knows the total)."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from coursehub.hub.constants import Role
from coursehub.services.courses import catalog
from coursehub.services.courses.catalog import CatalogError, CatalogQuery, parse_query
from coursehub.services.models import Category, CourseStatus
from coursehub.services.settings import sqlalchemy_url
from tests.service_data import course_with


def asked(**params: str):  # type: ignore[no-untyped-def]
    return parse_query(params.get)


def test_a_catalog_request_is_read_with_its_defaults():
    assert asked() == CatalogQuery(sort="newest")
    assert asked(q="  cell   biology ") == CatalogQuery(q="cell biology", sort="relevance")
    assert asked(sort="relevance").sort == "newest"  # nothing to be relevant to
    assert asked(page="3", per_page="50", category="data-science") == CatalogQuery(
        category="data-science", page=3, per_page=50
    )
    assert asked(q="cells", sort="price").as_params(page=2) == {
        "q": "cells",
        "sort": "price",
        "page": "2",
    }
    assert asked(q="cells").as_params() == {"q": "cells"}  # the default sort is left out


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "x" * (catalog.MAX_QUERY_LENGTH + 1)}, "q"),
        ({"category": "Data Science"}, "category"),
        ({"sort": "cheapest"}, "sort"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
        ({"per_page": str(catalog.MAX_PER_PAGE + 1)}, "per_page"),
    ],
)
def test_a_wrong_parameter_is_named(params, field):
    with pytest.raises(CatalogError) as error:
        asked(**params)
    assert error.value.field == field


def test_prices_read_as_money():
    assert [catalog.format_price(c) for c in (0, 5, 4900, 123456)] == [
        "Free",
        "$0.05",
        "$49.00",
        "$1,234.56",
    ]


async def test_the_catalog_lists_published_courses_of_a_category_sorted_and_paged(
    db, make_account, database_url
):
    teacher = make_account(Role.INSTRUCTOR)
    ann, ben = make_account(Role.STUDENT), make_account(Role.STUDENT)
    slug = f"botany-{secrets.token_hex(3)}"
    with db() as session:
        category = Category(name=f"Botany {slug}", slug=slug)
        session.add(category)
        session.commit()
    ferns = course_with(db, teacher, title="Ferns", category_id=category.id, price_cents=900)
    course_with(db, teacher, title="Algae", category_id=category.id, students=[ann, ben])
    course_with(db, teacher, title="Mosses", category_id=category.id, students=[ann])
    course_with(db, teacher, title="Draft", category_id=category.id, status=CourseStatus.DRAFT)
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.connect() as connection:

            async def titles(**params: str) -> list[str]:
                page = await catalog.search(connection, asked(category=slug, **params))
                return [item["title"] for item in page.items]

            assert await titles(sort="title") == ["Algae", "Ferns", "Mosses"]
            assert await titles(sort="enrolled") == ["Algae", "Mosses", "Ferns"]
            assert await titles(sort="price") == ["Algae", "Mosses", "Ferns"]

            second = await catalog.search(
                connection, asked(category=slug, sort="title", per_page="2", page="2")
            )
            assert [i["title"] for i in second.items] == ["Mosses"] and second.total == 3
            shown = second.as_json("/p")
            assert (shown["pages"], shown["has_previous"], shown["has_next"]) == (2, True, False)
            past = await catalog.search(connection, asked(category=slug, page="9"))
            assert past.items == [] and past.total == 3

            by_price = await catalog.search(connection, asked(category=slug, sort="price"))
            item = by_price.items[-1]
            listed = catalog.course_json(item, "/p")
            assert listed["price"] == "$9.00" and listed["url"] == f"/p/courses/{ferns.slug}"
            assert listed["category"] == {"slug": slug, "name": category.name}
            assert listed["students"] == 0
    finally:
        await engine.dispose()
