"""The public catalog: which courses anyone may find, how they are searched, sorted and paged.

Only PUBLISHED courses are in the catalog. Searching uses the course's ``search_document``
(title, summary, description and the text of its lessons' published notebooks, kept up to
date by ``coursehub.services.courses.authoring.refresh_search_document``) with PostgreSQL's
``websearch_to_tsquery`` and ranks with ``ts_rank``. One page of results, its total and each
course's number of students come from a single SQL statement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from coursehub.services.courses import course_pictures
from coursehub.services.errors import Refusal

DEFAULT_PER_PAGE = 12
MAX_PER_PAGE = 50
# Deep pages cost PostgreSQL the rows before them; nobody reads page 1,001 of a catalog.
MAX_PAGE = 1000
MAX_QUERY_LENGTH = 200
SORT_LABELS = {
    "relevance": "Best match",  # when searching; without a search it means newest
    "newest": "Newest",
    "title": "Title",
    "enrolled": "Most enrolled",
    "price": "Price",
}
# Prices are whole cents of one currency; CourseHub does not model currencies yet.
CURRENCY_SYMBOL = "$"
_CATEGORY_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


class CatalogError(Refusal):
    """A catalog request CourseHub cannot answer; the message says how to ask instead."""


@dataclass(frozen=True)
class CatalogQuery:
    q: str = ""
    category: str = ""
    sort: str = "newest"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def as_params(self, **changes: Any) -> dict[str, str]:
        """The query string of this search (with ``changes``), leaving out defaults."""
        values = {
            "q": self.q,
            "category": self.category,
            "sort": self.sort,
            "page": self.page,
            "per_page": self.per_page,
            **changes,
        }
        defaults = {"sort": default_sort(str(values["q"])), "page": 1, "per_page": DEFAULT_PER_PAGE}
        return {
            key: str(value)
            for key, value in values.items()
            if value not in ("", None) and defaults.get(key) != value
        }


def default_sort(q: str) -> str:
    return "relevance" if q else "newest"


def parse_query(argument: Callable[[str], str | None]) -> CatalogQuery:
    """Read a catalog request from ``argument(name)`` (a query-string lookup).

    Raises ``CatalogError`` naming the first parameter that is wrong and what it may be.
    """
    q = " ".join((argument("q") or "").split())
    if len(q) > MAX_QUERY_LENGTH:
        raise CatalogError(
            f"A search can be at most {MAX_QUERY_LENGTH} characters; shorten it.", field="q"
        )
    category = (argument("category") or "").strip()
    if category and not _CATEGORY_SLUG.match(category):
        raise CatalogError(
            "category must be a category's short name (lowercase letters, digits and "
            "dashes, such as data-science).",
            field="category",
        )
    sort = (argument("sort") or "").strip() or default_sort(q)
    if sort not in SORT_LABELS:
        raise CatalogError(
            f"sort must be one of {', '.join(SORT_LABELS)}, not {sort[:40]!r}.", field="sort"
        )
    if sort == "relevance" and not q:
        sort = "newest"  # nothing to be relevant to
    page = _whole_number(argument("page"), "page", 1, 1, MAX_PAGE)
    per_page = _whole_number(argument("per_page"), "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    return CatalogQuery(q=q, category=category, sort=sort, page=page, per_page=per_page)


def _whole_number(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise CatalogError(
            f"{name} must be a whole number from {low} to {high}, not {raw[:40]!r}.", field=name
        )
    return value


def format_price(price_cents: int) -> str:
    if price_cents <= 0:
        return "Free"
    return f"{CURRENCY_SYMBOL}{price_cents // 100:,}.{price_cents % 100:02d}"


# -- the query ---------------------------------------------------------------------------------
# The statement is put together from fixed fragments only; every value is a bound parameter.
#
# Why it is shaped like this (measured on 1,000 courses with 10 lessons each):
# - The tsquery comes from a sub-select, so the planner cannot see how common the words are
#   and always matches through the GIN index. Seeing a common word, it would scan the table
#   instead and unpack every course's search document (~30 kB each): 80 ms instead of 0.3 ms.
# - Relevance is ts_rank over the course's title (weight A) and summary (weight B), built on
#   the fly (~8 us a course). ts_rank over the whole search document would unpack it for every
#   match (~150 us a course, 25 ms for a search matching 140 courses). Courses that match only
#   in their description or lessons come after those that match in title or summary.
# - The page is chosen first, with the total as a window count in the same pass; instructor,
#   category and number of students are looked up for the page's rows only, except when
#   sorting by the number of students, where every matching course needs it. Counting needs
#   an index on enrollments (course_id), which the migrations do not have yet: without it,
#   each count reads the whole (account_id, course_id) index (~12 ms a page at 100,000
#   enrollments instead of ~0.1 ms).

_SEARCH = "(SELECT websearch_to_tsquery('english', :q))"
_RANK = (
    "ts_rank(setweight(to_tsvector('english', c.title), 'A')"
    f" || setweight(to_tsvector('english', c.summary), 'B'), {_SEARCH})"
)
_ORDER = {
    "relevance": "rank DESC, {t}.created_at DESC, {t}.id DESC",
    "newest": "{t}.created_at DESC, {t}.id DESC",
    "title": "{t}.title, {t}.id",
    "enrolled": "students DESC, {t}.title, {t}.id",
    "price": "{t}.price_cents, {t}.title, {t}.id",
}
_STUDENTS = "(SELECT count(*) FROM enrollments e WHERE e.course_id = {t}.id)"


def _statement(query: CatalogQuery) -> str:
    """The page of courses is chosen first; names and counts are joined to its rows only."""
    searching, sort = bool(query.q), query.sort
    where = ["c.status = 'PUBLISHED'"]
    if searching:
        where.append(f"c.search_document @@ {_SEARCH}")
    if query.category:
        where.append("c.category_id = (SELECT id FROM categories WHERE slug = :category)")
    if sort == "enrolled":
        # Every matching course needs its count to be sorted by it.
        inner_students, outer_students = _STUDENTS.format(t="c"), "page.students"
    else:
        inner_students, outer_students = "0", _STUDENTS.format(t="page")
    rank = _RANK if sort == "relevance" else "0.0"
    return f"""
        WITH page AS (
            SELECT c.id, c.slug, c.title, c.summary, c.price_cents, c.created_at,
                   c.thumbnail_upload_id, c.instructor_id, c.category_id,
                   {inner_students} AS students,
                   {rank} AS rank, count(*) OVER () AS total
            FROM courses c
            WHERE {" AND ".join(where)}
            ORDER BY {_ORDER[sort].format(t="c")}
            LIMIT :limit OFFSET :offset
        )
        SELECT page.slug, page.title, page.summary, page.price_cents, page.created_at,
               page.thumbnail_upload_id, a.name AS instructor, cat.slug AS category_slug,
               cat.name AS category_name,
               {outer_students} AS students, page.total
        FROM page
        JOIN accounts a ON a.id = page.instructor_id
        LEFT JOIN categories cat ON cat.id = page.category_id
        ORDER BY {_ORDER[sort].format(t="page")}
    """


_STATEMENTS: dict[tuple[bool, bool, str], Any] = {}


def _compiled(query: CatalogQuery) -> Any:
    key = (bool(query.q), bool(query.category), query.sort)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = text(_statement(query))
    return _STATEMENTS[key]


_COUNT = text(
    """
    SELECT count(*) FROM courses c
    WHERE c.status = 'PUBLISHED'
      AND (CAST(:q AS text) = ''
           OR c.search_document @@ (SELECT websearch_to_tsquery('english', :q)))
      AND (CAST(:category AS text) = ''
           OR c.category_id = (SELECT id FROM categories WHERE slug = :category))
    """
)


@dataclass(frozen=True)
class CatalogPage:
    query: CatalogQuery
    items: list[dict[str, Any]]
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))

    def as_json(self, prefix: str) -> dict[str, Any]:
        query = self.query
        return {
            "items": [course_json(item, prefix) for item in self.items],
            "total": self.total,
            "page": query.page,
            "per_page": query.per_page,
            "pages": self.pages,
            "has_previous": query.page > 1,
            "has_next": query.page < self.pages,
            "q": query.q,
            "category": query.category or None,
            "sort": query.sort,
        }


def course_json(item: dict[str, Any], prefix: str) -> dict[str, Any]:
    created: datetime = item["created_at"]
    return {
        "slug": item["slug"],
        "title": item["title"],
        "summary": item["summary"],
        "instructor": item["instructor"],
        "category": (
            {"slug": item["category_slug"], "name": item["category_name"]}
            if item["category_slug"]
            else None
        ),
        "price_cents": item["price_cents"],
        "price": format_price(item["price_cents"]),
        "students": item["students"],
        "created_at": created.isoformat(),
        "url": f"{prefix}/courses/{item['slug']}",
        "picture_url": course_pictures.picture_url(
            prefix, item["slug"], item["thumbnail_upload_id"]
        ),
    }


async def search(connection: AsyncConnection, query: CatalogQuery) -> CatalogPage:
    """One page of the catalog; a second statement only when the page is past the end."""
    params = {"q": query.q, "category": query.category}
    rows = (
        await connection.execute(
            _compiled(query), {**params, "limit": query.per_page, "offset": query.offset}
        )
    ).mappings()
    items = [dict(row) for row in rows]
    if items:
        total = int(items[0]["total"])
    elif query.page == 1:
        total = 0
    else:
        total = int((await connection.execute(_COUNT, params)).scalar_one())
    return CatalogPage(query=query, items=items, total=total)


async def categories(connection: AsyncConnection) -> list[Mapping[str, Any]]:
    rows = await connection.execute(text("SELECT slug, name FROM categories ORDER BY name"))
    return [dict(row) for row in rows.mappings()]


# -- one course's page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SyllabusLesson:
    id: int
    title: str
    kind: str
    is_preview: bool
    is_required: bool
    # A notebook lesson whose notebook was never published cannot be opened yet.
    is_ready: bool


@dataclass(frozen=True)
class SyllabusModule:
    id: int
    title: str
    description: str
    lessons: list[SyllabusLesson]


_SYLLABUS = text(
    """
    SELECT m.id AS module_id, m.title AS module_title, m.description AS module_description,
           l.id, l.title, l.kind, l.is_preview, l.is_required,
           l.kind <> 'NOTEBOOK' OR l.published_version_id IS NOT NULL AS is_ready
    FROM modules m
    LEFT JOIN lessons l ON l.module_id = m.id
    WHERE m.course_id = :course_id
    ORDER BY m.position, m.id, l.position, l.id
    """
)


async def syllabus(connection: AsyncConnection, course_id: int) -> list[SyllabusModule]:
    """The course's modules in order, each with its lessons in order (one statement)."""
    modules: dict[int, SyllabusModule] = {}
    for row in (await connection.execute(_SYLLABUS, {"course_id": course_id})).mappings():
        module = modules.get(row["module_id"])
        if module is None:
            module = modules[row["module_id"]] = SyllabusModule(
                row["module_id"], row["module_title"], row["module_description"], []
            )
        if row["id"] is not None:
            module.lessons.append(
                SyllabusLesson(
                    id=row["id"],
                    title=row["title"],
                    kind=str(row["kind"]),
                    is_preview=row["is_preview"],
                    is_required=row["is_required"],
                    is_ready=row["is_ready"],
                )
            )
    return list(modules.values())


def first_lesson(modules: list[SyllabusModule]) -> SyllabusLesson | None:
    return next((lesson for module in modules for lesson in module.lessons), None)
