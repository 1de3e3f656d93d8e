"""Searching a course's forums: PostgreSQL full-text search over thread titles and posts.

``search`` takes what people type into a search box (``websearch_to_tsquery``: words,
"quoted phrases", -excluded words, OR) and finds the posts of the course whose text matches,
and the opening posts of threads whose title does, best first. It finds only what the person
may read: students never find hidden threads, hidden posts or deleted ones.

Snippets come from ``ts_headline`` over the markdown text, escaped here, with the matching
words in ``<mark>``: nothing a person wrote reaches the page unescaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.community.forums import ForumError, Member

MAX_QUERY = 200
LIMIT = 50
# Markers ts_headline puts around matches; unlikely in posts, and harmless if they are.
START, STOP = "\u27e6", "\u27e7"
_MARKED = re.compile(f"{START}([^{START}{STOP}]*){STOP}")  # only whole pairs become <mark>

_SEARCH = text(
    f"""
WITH q AS (SELECT websearch_to_tsquery('english', :query) AS query)
SELECT p.id AS post_id, t.id AS thread_id, t.title, t.lesson_id, p.created_at,
       a.username, a.name,
       ts_headline('english', p.body, q.query,
                   'StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=10, '
                   'MaxFragments=2, FragmentDelimiter=" … "') AS snippet,
       ts_rank(p.search_vector, q.query)
         + CASE WHEN p.parent_id IS NULL THEN 2 * ts_rank(t.search_vector, q.query) ELSE 0 END
         AS rank
FROM q, forum_posts p
JOIN forum_threads t ON t.id = p.thread_id
LEFT JOIN accounts a ON a.id = p.author_id
WHERE t.course_id = :course_id
  AND p.deleted_at IS NULL
  AND (:moderator OR (NOT t.is_hidden AND NOT p.is_hidden))
  AND (p.search_vector @@ q.query OR (p.parent_id IS NULL AND t.search_vector @@ q.query))
ORDER BY rank DESC, p.id DESC
LIMIT :limit
"""
)


@dataclass(frozen=True)
class SearchHit:
    post_id: int
    thread_id: int
    thread_title: str
    lesson_id: int | None
    created_at: datetime
    author_username: str | None
    author_name: str | None
    snippet_html: Markup  # escaped text with <mark> around matching words


def checked_query(value: str | None) -> str:
    query = " ".join((value or "").replace("\x00", "").split())
    if not query:
        raise ForumError("Type one or more words to search the course's forums for.")
    if len(query) > MAX_QUERY:
        raise ForumError(f"A search can be at most {MAX_QUERY} characters long.")
    return query


def highlighted(snippet: str) -> Markup:
    """``snippet`` escaped, with ``ts_headline``'s markers turned into ``<mark>``."""
    # Safe: everything is escaped first; only the <mark> pairs added here are markup.
    return Markup(_MARKED.sub(r"<mark>\1</mark>", str(escape(snippet))))  # noqa: S704


async def search(session: AsyncSession, member: Member, query: str) -> list[SearchHit]:
    rows = await session.execute(
        _SEARCH,
        {
            "query": query,
            "course_id": member.course.id,
            "moderator": member.moderator,
            "limit": LIMIT,
        },
    )
    return [
        SearchHit(
            post_id=row.post_id,
            thread_id=row.thread_id,
            thread_title=row.title,
            lesson_id=row.lesson_id,
            created_at=row.created_at,
            author_username=row.username,
            author_name=row.name or row.username,
            snippet_html=highlighted(row.snippet or ""),
        )
        for row in rows
    ]
