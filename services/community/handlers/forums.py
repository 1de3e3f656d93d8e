"""The forums' JSON API, under ``/api/courses/<slug>/forums`` (pages: ``forum_pages``).

Everyone taking part (the course's enrolled students and its staff, graders included):
- ``GET …/forums``: the general forum and each lesson's, with thread and unread counts
- ``GET …/forums/general/threads`` and ``…/forums/lessons/<lesson id>/threads``
  (``?page=``): threads, pinned first, with post and unread counts; ``POST`` the same
  address with ``{"title", "body"}`` starts a thread
- ``GET …/forums/threads/<id>`` (``?page=`` or ``?post=<id>`` for the page showing that
  post): the thread and one page of its posts as a tree; marks them read, and my reply and
  mention notifications about them
- ``POST …/forums/threads/<id>/posts`` ``{"body", "parent_id"?}``: reply (to the opening
  post when ``parent_id`` is left out)
- ``PATCH …/forums/posts/<id>`` ``{"body"}`` and ``PATCH …/forums/threads/<id>``
  ``{"title"}``: change one's own words; ``DELETE …/forums/posts/<id>``: delete one's post
- ``POST …/forums/posts/<id>/reports`` ``{"reason"}``: report a post to the staff
- ``GET …/forums/search?q=``: full-text search of what one may read

Moderators (instructor, administrators, graders) also:
- ``PATCH …/forums/threads/<id>`` ``{"is_pinned", "is_locked", "is_hidden"}``,
  ``DELETE …/forums/threads/<id>``, ``PATCH …/forums/posts/<id>`` ``{"is_hidden"}`` and
  ``DELETE`` of anyone's post
- ``GET …/forums/reports`` (``?resolved=1``) and ``POST …/forums/reports/<id>/resolve``
  ``{"action": "dismiss" | "hide" | "delete"}``

Starting threads and replying count against a per-person limit (``rate_limits``): over it,
429 with a sentence and ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.services.community import forum_moderation, forum_notifications, forum_search, forums
from coursehub.services.community.forums import Member
from coursehub.services.models import ForumThread, Lesson
from coursehub.services.notifications import notifications
from coursehub.services.rate_limits import RateLimited, check_rate
from coursehub.services.web.base import BaseHandler

SLUG = r"([a-z0-9][a-z0-9-]{0,119})"
# The kinds forum_notifications makes about a post; reading the post marks them read.
POST_NOTIFICATION_KINDS = ("forum_reply", "forum_mention")
API = rf"/api/courses/{SLUG}/forums"


class TooManyPosts(web.HTTPError):
    def __init__(self, limited: RateLimited) -> None:
        super().__init__(429, limited.message)
        self.retry_after = limited.retry_after


def whole_number(raw: str, what: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 2**31:
        raise web.HTTPError(400, f"{what} must be a whole number from 1.")
    return int(raw)


class ForumHandler(BaseHandler):
    """Finding the course and the person's place in its forums; refusals as HTTP errors."""

    @property
    def prefix(self) -> str:
        return self.settings_obj.service_prefix

    async def member(self, session: AsyncSession, slug: str) -> Member:
        account = await self.account(session)
        return await forums.member_of(session, account, slug)

    async def lesson(
        self, session: AsyncSession, member: Member, lesson_id: str | None
    ) -> Lesson | None:
        return await forums.forum_lesson(
            session, member.course, whole_number(lesson_id, "lesson") if lesson_id else None
        )

    async def thread(self, session: AsyncSession, member: Member, thread_id: str) -> ForumThread:
        return await forums.thread_for(session, member, whole_number(thread_id, "thread"))

    def page_number(self) -> int:
        return whole_number(self.get_query_argument("page", "1"), "page")

    async def count_post(self, member: Member) -> None:
        """One more post by this person; 429 when they are over the limit."""
        try:
            await check_rate(
                self.application.settings["redis"],
                f"forum-post:{member.account.id}",
                forums.POST_LIMIT,
                forums.POST_WINDOW_S,
                what="forum posts",
            )
        except RateLimited as limited:
            raise TooManyPosts(limited) from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, TooManyPosts):
            self.set_header("Retry-After", str(error.retry_after))
        super().write_error(status_code, **kwargs)


# -- JSON -----------------------------------------------------------------------------------


def person_json(username: str | None, name: str | None) -> dict[str, str] | None:
    return {"username": username, "name": name or username} if username else None


def forum_json(prefix: str, member: Member, forum: forums.ForumSummary) -> dict[str, Any]:
    return {
        "lesson_id": forum.lesson_id,
        "title": forum.title,
        "threads": forum.threads,
        "unread_threads": forum.unread_threads,
        "last_activity_at": forum.last_activity_at,
        "url": forums.forum_url(prefix, member.course, forum.lesson_id),
    }


def summary_json(prefix: str, member: Member, thread: forums.ThreadSummary) -> dict[str, Any]:
    return {
        "id": thread.id,
        "title": thread.title,
        "lesson_id": thread.lesson_id,
        "author": person_json(thread.author_username, thread.author_name),
        "is_pinned": thread.is_pinned,
        "is_locked": thread.is_locked,
        "is_hidden": thread.is_hidden,
        "created_at": thread.created_at,
        "last_activity_at": thread.last_activity_at,
        "posts": thread.posts,
        "unread": thread.unread,
        "url": forums.thread_url(prefix, member.course, thread.id),
    }


def thread_json(prefix: str, member: Member, thread: ForumThread) -> dict[str, Any]:
    return {
        "id": thread.id,
        "title": thread.title,
        "lesson_id": thread.lesson_id,
        "author_id": thread.author_id,
        "is_pinned": thread.is_pinned,
        "is_locked": thread.is_locked,
        "is_hidden": thread.is_hidden,
        "created_at": thread.created_at,
        "last_activity_at": thread.last_activity_at,
        "url": forums.thread_url(prefix, member.course, thread.id),
        "forum_url": forums.forum_url(prefix, member.course, thread.lesson_id),
    }


def post_json(post: forums.PostView) -> dict[str, Any]:
    return {
        "id": post.id,
        "parent_id": post.parent_id,
        "depth": post.depth,
        "state": post.state,
        "author": person_json(post.author_username, post.author_name),
        "html": post.html,
        "body": post.body if post.mine else None,
        "created_at": post.created_at,
        "edited_at": post.edited_at,
        "is_new": post.is_new,
        "mine": post.mine,
    }


def report_json(report: forum_moderation.ReportView) -> dict[str, Any]:
    return {
        "id": report.id,
        "reason": report.reason,
        "created_at": report.created_at,
        "reporter": person_json(report.reporter_username, report.reporter_name),
        "post": {
            "id": report.post_id,
            "state": report.post_state,
            "html": report.post_html,
            "author": report.post_author_username,
            "thread_id": report.thread_id,
            "thread_title": report.thread_title,
        },
        "resolved_at": report.resolved_at,
        "resolution": report.resolution,
        "resolved_by": report.resolved_by_username,
    }


# -- forums and threads ---------------------------------------------------------------------


class ForumsAPI(ForumHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            found = await forums.forum_index(session, member)
        self.write_json(
            {
                "forums": [forum_json(self.prefix, member, forum) for forum in found],
                "moderator": member.moderator,
            }
        )


class ThreadsAPI(ForumHandler):
    async def get(self, slug: str, lesson_id: str | None = None) -> None:
        page = self.page_number()
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            lesson = await self.lesson(session, member, lesson_id)
            threads, total = await forums.list_threads(session, member, lesson, page)
        self.write_json(
            {
                "threads": [summary_json(self.prefix, member, thread) for thread in threads],
                "total": total,
                "page": page,
                "per_page": forums.THREADS_PER_PAGE,
            }
        )

    async def post(self, slug: str, lesson_id: str | None = None) -> None:
        body = self.json_body()
        title = forums.checked_title(body.get("title"))
        text = forums.checked_body(body.get("body"))
        async with self.db() as session:
            member = await self.member(session, slug)
            lesson = await self.lesson(session, member, lesson_id)
            thread, post = await forums.start_thread(session, member, lesson, title, text)
            await self.count_post(member)  # after the checks: refusals cost nothing
            await forum_notifications.notify_post(session, self.prefix, member, thread, post, None)
            await session.commit()
        self.write_json({**thread_json(self.prefix, member, thread), "post_id": post.id}, 201)


class ThreadAPI(ForumHandler):
    async def get(self, slug: str, thread_id: str) -> None:
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            thread = await self.thread(session, member, thread_id)
            page = await read_thread_page(self, session, member, thread)
        await mark_page_read(self, member, thread, page)
        self.write_json(
            {
                "thread": thread_json(self.prefix, member, thread),
                "posts": [post_json(post) for post in page.posts],
                "page": page.page,
                "pages": page.pages,
                "total": page.total,
                "moderator": member.moderator,
            }
        )

    async def patch(self, slug: str, thread_id: str) -> None:
        body = self.json_body()
        async with self.db() as session:
            member = await self.member(session, slug)
            thread = await self.thread(session, member, thread_id)
            await forum_moderation.update_thread(session, member, thread, body)
            await session.commit()
        self.write_json(thread_json(self.prefix, member, thread))

    async def delete(self, slug: str, thread_id: str) -> None:
        async with self.db() as session:
            member = await self.member(session, slug)
            thread = await self.thread(session, member, thread_id)
            await forum_moderation.delete_thread(session, member, thread)
            await session.commit()
        self.set_status(204)
        self.finish()


async def read_thread_page(
    handler: ForumHandler, session: AsyncSession, member: Member, thread: ForumThread
) -> forums.ThreadPage:
    """The page the request asks for (``?post=`` finds the page of that post)."""
    wanted_post = handler.get_query_argument("post", "")
    if wanted_post:
        number = whole_number(wanted_post, "post")
        page_number = await forums.page_of_post(session, member, thread, number)
    else:
        page_number = handler.page_number()
    return await forums.thread_page(session, member, thread, page_number)


async def mark_page_read(
    handler: ForumHandler, member: Member, thread: ForumThread, page: forums.ThreadPage
) -> None:
    """Remember that the reader has seen the page's posts, and mark read their notifications
    of replies and mentions in those posts (a write only when it shows some they had not
    read)."""
    newest = max((post.id for post in page.posts), default=0)
    if newest > page.read_before:
        async with handler.db() as session:
            await forums.mark_read(session, member.account.id, thread.id, newest)
            await notifications.mark_read_about(
                session,
                member.account.id,
                POST_NOTIFICATION_KINDS,
                "post_id",
                [post.id for post in page.posts],
            )
            await session.commit()


# -- posts ----------------------------------------------------------------------------------


class RepliesAPI(ForumHandler):
    async def post(self, slug: str, thread_id: str) -> None:
        body = self.json_body()
        parent_id = body.get("parent_id")
        if parent_id is not None and (
            isinstance(parent_id, bool) or not isinstance(parent_id, int)
        ):
            raise web.HTTPError(400, "parent_id must be the number of a post in this thread.")
        text = forums.checked_body(body.get("body"))
        async with self.db() as session:
            member = await self.member(session, slug)
            thread = await self.thread(session, member, thread_id)
            post, parent = await forums.reply(session, member, thread, parent_id, text)
            await self.count_post(member)  # after the checks: refusals cost nothing
            await forum_notifications.notify_post(
                session, self.prefix, member, thread, post, parent
            )
            await session.commit()
        self.write_json(
            {
                "id": post.id,
                "parent_id": post.parent_id,
                "depth": post.depth,
                "html": post.body_html,
                "url": forums.thread_url(self.prefix, member.course, thread.id, post.id),
            },
            201,
        )


class PostAPI(ForumHandler):
    async def get(self, slug: str, post_id: str) -> None:
        """One post; its markdown (for the edit box) only to its author."""
        number = whole_number(post_id, "post")
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            post, _thread = await forums.post_for(session, member, number)
        mine = post.author_id == member.account.id
        self.write_json(
            {
                "id": post.id,
                "thread_id": post.thread_id,
                "parent_id": post.parent_id,
                "mine": mine,
                "body": post.body if mine else None,
                "html": post.body_html,
                "is_hidden": post.is_hidden,
                "created_at": post.created_at,
                "edited_at": post.edited_at,
            }
        )

    async def patch(self, slug: str, post_id: str) -> None:
        body = self.json_body()
        number = whole_number(post_id, "post")
        if set(body) - {"body", "is_hidden"} or not body:
            raise web.HTTPError(400, "Send body (your own post) or is_hidden (moderators).")
        async with self.db() as session:
            member = await self.member(session, slug)
            if "is_hidden" in body:
                await forum_moderation.set_post_hidden(session, member, number, body["is_hidden"])
            if "body" in body:
                text = forums.checked_body(body["body"])
                post, thread = await forums.own_post(session, member, number)
                before = await forums.edit_post(session, post, text)
                await forum_notifications.notify_post(
                    session, self.prefix, member, thread, post, None, text_before=before
                )
            post, _thread = await forums.post_for(session, member, number)
            await session.commit()
        self.write_json(
            {
                "id": post.id,
                "html": post.body_html,
                "is_hidden": post.is_hidden,
                "edited_at": post.edited_at,
            }
        )

    async def delete(self, slug: str, post_id: str) -> None:
        number = whole_number(post_id, "post")
        async with self.db() as session:
            member = await self.member(session, slug)
            outcome = await forums.delete_post(session, member, number)
            await session.commit()
        self.write_json({"deleted": outcome})


class ReportAPI(ForumHandler):
    async def post(self, slug: str, post_id: str) -> None:
        number = whole_number(post_id, "post")
        reason = forum_moderation.checked_reason(self.json_body().get("reason"))
        async with self.db() as session:
            member = await self.member(session, slug)
            report_id = await forum_moderation.report_post(session, member, number, reason)
            await session.commit()
        self.write_json(
            {
                "id": report_id,
                "message": "Thank you: the course staff will look at this post.",
            },
            201,
        )


class ReportsAPI(ForumHandler):
    async def get(self, slug: str) -> None:
        resolved = self.get_query_argument("resolved", "") in ("1", "true")
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            found = await forum_moderation.report_queue(session, member, resolved=resolved)
        self.write_json({"reports": [report_json(report) for report in found]})


class ResolveAPI(ForumHandler):
    async def post(self, slug: str, report_id: str) -> None:
        number = whole_number(report_id, "report")
        action = self.json_body().get("action")
        async with self.db() as session:
            member = await self.member(session, slug)
            resolution, count = await forum_moderation.resolve_report(
                session, member, number, action
            )
            await session.commit()
        self.write_json({"resolution": resolution, "resolved_reports": count})


class SearchAPI(ForumHandler):
    async def get(self, slug: str) -> None:
        query = forum_search.checked_query(self.get_query_argument("q", ""))
        async with self.db(read_only=True) as session:
            member = await self.member(session, slug)
            hits = await forum_search.search(session, member, query)
        self.write_json(
            {
                "query": query,
                "results": [
                    {
                        "post_id": hit.post_id,
                        "thread_id": hit.thread_id,
                        "thread_title": hit.thread_title,
                        "lesson_id": hit.lesson_id,
                        "author": person_json(hit.author_username, hit.author_name),
                        "created_at": hit.created_at,
                        "snippet_html": str(hit.snippet_html),
                        "url": forums.thread_url(
                            self.prefix, member.course, hit.thread_id, hit.post_id
                        ),
                    }
                    for hit in hits
                ],
            }
        )


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    api = f"{prefix}{API}"
    return [
        (f"{api}", ForumsAPI),
        (f"{api}/general/threads", ThreadsAPI),
        (rf"{api}/lessons/(\d+)/threads", ThreadsAPI),
        (rf"{api}/threads/(\w+)", ThreadAPI),
        (rf"{api}/threads/(\w+)/posts", RepliesAPI),
        (rf"{api}/posts/(\w+)", PostAPI),
        (rf"{api}/posts/(\w+)/reports", ReportAPI),
        (f"{api}/reports", ReportsAPI),
        (rf"{api}/reports/(\w+)/resolve", ResolveAPI),
        (f"{api}/search", SearchAPI),
    ]
