"""The forums' pages under ``/courses/<slug>/forums`` (their JSON API: ``handlers.forums``).

- ``…/forums``: the course's general forum and its lessons' forums, with unread counts
- ``…/forums/general`` and ``…/forums/lessons/<lesson id>``: a forum's threads, and the form
  to start one
- ``…/forums/threads/<id>``: a thread's posts as a tree, a page at a time (``?page=``, or
  ``?post=<id>`` for the page with that post); reading it marks it read
- ``…/forums/search?q=``: search results
- ``…/forums/reports``: the report queue (moderators)

The same people as the API may open them; the buttons and forms call the API
(``static/forum.js``).
"""

from __future__ import annotations

from typing import Any

from coursehub.services.accounts import profiles
from coursehub.services.community import forum_moderation, forum_search, forums
from coursehub.services.community.handlers.forums import (
    SLUG,
    ForumHandler,
    mark_page_read,
    read_thread_page,
)


class ForumPageHandler(ForumHandler):
    def render_forum(self, template: str, **context: Any) -> None:
        self.set_header("Cache-Control", "no-store")  # unread marks change as people read
        self.render_page(
            template,
            api=f"{self.prefix}/api/courses/{context['course'].slug}/forums",
            forums_url=f"{self.prefix}/courses/{context['course'].slug}/forums",
            xsrf_token=self.xsrf_token.decode(),
            max_title=forums.MAX_TITLE,
            max_body=forums.MAX_BODY,
            **context,
        )


class ForumIndexPage(ForumPageHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            found = await forums.forum_index(session, member)
            open_reports = (
                await forum_moderation.open_report_count(session, member) if member.moderator else 0
            )
        self.render_forum(
            "forum_index.html",
            course=member.course,
            member=member,
            forums_found=found,
            open_reports=open_reports,
            forum_url=lambda lesson_id: forums.forum_url(self.prefix, member.course, lesson_id),
        )


class ForumPage(ForumPageHandler):
    async def get(self, slug: str, lesson_id: str | None = None) -> None:
        page = self.page_number()
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            lesson = await self.lesson(session, member, lesson_id)
            threads, total = await forums.list_threads(session, member, lesson, page)
        base = forums.forum_url(self.prefix, member.course, lesson.id if lesson else None)
        self.render_forum(
            "forum.html",
            course=member.course,
            member=member,
            lesson=lesson,
            threads=threads,
            page=page,
            pages=max(1, -(-total // forums.THREADS_PER_PAGE)),
            forum_page_url=base,
            post_api=(
                f"{self.prefix}/api/courses/{slug}/forums/"
                + (f"lessons/{lesson.id}/threads" if lesson else "general/threads")
            ),
            thread_url=lambda thread_id: forums.thread_url(self.prefix, member.course, thread_id),
        )


class ThreadPage(ForumPageHandler):
    async def get(self, slug: str, thread_id: str) -> None:
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            thread = await self.thread(session, member, thread_id)
            page = await read_thread_page(self, session, member, thread)
            lesson = await self.lesson(
                session, member, str(thread.lesson_id) if thread.lesson_id else None
            )
            pronouns = await profiles.pronouns_of(session, (p.author_id for p in page.posts))
        await mark_page_read(self, member, thread, page)
        self.render_forum(
            "forum_thread.html",
            course=member.course,
            member=member,
            thread=thread,
            lesson=lesson,
            page=page,
            pronouns=pronouns,
            max_depth=forums.MAX_DEPTH,
            thread_page_url=forums.thread_url(self.prefix, member.course, thread.id),
            forum_page_url=forums.forum_url(self.prefix, member.course, thread.lesson_id),
        )


class SearchPage(ForumPageHandler):
    async def get(self, slug: str) -> None:
        raw = self.get_query_argument("q", "")
        problem, hits = "", []
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            if raw.strip():
                try:
                    query = forum_search.checked_query(raw)
                    hits = await forum_search.search(session, member, query)
                except forums.ForumError as error:
                    problem = error.message
        self.render_forum(
            "forum_search.html",
            course=member.course,
            member=member,
            query=raw,
            hits=hits,
            problem=problem,
            thread_url=lambda thread_id, post_id: forums.thread_url(
                self.prefix, member.course, thread_id, post_id
            ),
        )


class ReportsPage(ForumPageHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            open_reports = await forum_moderation.report_queue(session, member)
            resolved = await forum_moderation.report_queue(session, member, resolved=True, limit=20)
        self.render_forum(
            "forum_reports.html",
            course=member.course,
            member=member,
            open_reports=open_reports,
            resolved=resolved,
            thread_url=lambda thread_id, post_id: forums.thread_url(
                self.prefix, member.course, thread_id, post_id
            ),
        )


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    base = f"{prefix}/courses/{SLUG}/forums"
    return [
        (f"{base}/?", ForumIndexPage),
        (f"{base}/general", ForumPage),
        (rf"{base}/lessons/(\w+)", ForumPage),
        (rf"{base}/threads/(\w+)", ThreadPage),
        (f"{base}/search", SearchPage),
        (f"{base}/reports", ReportsPage),
    ]
