"""Keeping a course's forums in order: changing threads, hiding posts, and reports.

Moderators are the course's staff for its forums: its instructor, administrators and the
graders assigned to it (``forums.Member.moderator``). They pin a thread (listed first), lock
it (no new replies, except theirs), hide a thread or a post (students no longer see it,
moderators see it marked) and delete threads and posts. A thread's author may change its
title; nobody changes someone else's words.

Anyone taking part may report a post they can see, once, with a reason; moderators see the
open reports of the course and resolve each by dismissing it, hiding the post or deleting
it, which resolves every open report of that post. A report outlives its post.

Functions take an ``AsyncSession`` and leave committing to the caller; refusals raise
``forums.ForumError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from coursehub.services.community import forums
from coursehub.services.community.forums import ForumError, Member
from coursehub.services.models import Account, ForumPost, ForumReport, ForumThread, utcnow

MAX_REASON = 1000
FLAGS = ("is_pinned", "is_locked", "is_hidden")
ACTIONS = {"dismiss": "dismissed", "hide": "hidden", "delete": "deleted"}
MODERATORS_ONLY = (
    "Only the course's staff (its instructor, graders and administrators) can moderate its forums."
)


def require_moderator(member: Member) -> None:
    if not member.moderator:
        raise ForumError(MODERATORS_ONLY, 403)


async def update_thread(
    session: AsyncSession, member: Member, thread: ForumThread, body: dict[str, Any]
) -> ForumThread:
    """Apply ``{"title": ...}`` (the thread's author) and the moderation flags
    ``is_pinned``, ``is_locked``, ``is_hidden`` (moderators)."""
    known = {"title", *FLAGS}
    if not body or set(body) - known:
        raise ForumError(f"Send one or more of: {', '.join(sorted(known))}.")
    if "title" in body:
        if thread.author_id != member.account.id:
            raise ForumError("Only the thread's author can change its title.", 403)
        thread.title = forums.checked_title(body["title"])
    flags = {name: body[name] for name in FLAGS if name in body}
    if flags:
        require_moderator(member)
        for name, value in flags.items():
            if not isinstance(value, bool):
                raise ForumError(f"{name} must be true or false.")
            setattr(thread, name, value)
    await session.flush()
    return thread


async def delete_thread(session: AsyncSession, member: Member, thread: ForumThread) -> None:
    """Remove a whole thread with its posts (moderators; authors delete their posts)."""
    require_moderator(member)
    await session.execute(delete(ForumThread).where(ForumThread.id == thread.id))


async def set_post_hidden(
    session: AsyncSession, member: Member, post_id: int, hidden: Any
) -> ForumPost:
    require_moderator(member)
    if not isinstance(hidden, bool):
        raise ForumError("is_hidden must be true or false.")
    post, _thread = await forums.post_for(session, member, post_id)
    post.is_hidden = hidden
    await session.flush()
    return post


# -- reports --------------------------------------------------------------------------------


def checked_reason(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ForumError("Say why the course staff should look at this post.")
    reason = value.strip()
    if len(reason) > MAX_REASON:
        raise ForumError(f"A reason can be at most {MAX_REASON:,} characters long.")
    return reason


async def report_post(session: AsyncSession, member: Member, post_id: int, reason: str) -> int:
    """Report a post to the course's staff; the report's id."""
    post, _thread = await forums.post_for(session, member, post_id)
    if post.author_id == member.account.id:
        raise ForumError("This is your own post: edit or delete it instead of reporting it.")
    made = await session.scalar(
        insert(ForumReport)
        .values(
            course_id=member.course.id,
            post_id=post.id,
            reporter_id=member.account.id,
            reason=reason,
        )
        .on_conflict_do_nothing(index_elements=["post_id", "reporter_id"])
        .returning(ForumReport.id)
    )
    if made is None:
        raise ForumError(
            "You have reported this post already; the course staff will look at it.", 409
        )
    return made


async def open_report_count(session: AsyncSession, member: Member) -> int:
    count = await session.scalar(
        select(func.count(ForumReport.id)).where(
            ForumReport.course_id == member.course.id, ForumReport.resolved_at.is_(None)
        )
    )
    return count or 0


@dataclass(frozen=True)
class ReportView:
    id: int
    reason: str
    created_at: datetime
    reporter_username: str
    reporter_name: str
    post_id: int | None  # None: the post is gone
    post_html: str
    post_state: str  # "visible", "hidden", "deleted", "gone"
    post_author_username: str | None
    thread_id: int | None
    thread_title: str | None
    resolved_at: datetime | None
    resolution: str | None
    resolved_by_username: str | None


async def report_queue(
    session: AsyncSession, member: Member, *, resolved: bool = False, limit: int = 200
) -> list[ReportView]:
    """The course's open reports, oldest first (``resolved``: the latest resolved ones)."""
    require_moderator(member)
    reporter, author, resolver = aliased(Account), aliased(Account), aliased(Account)
    statement = (
        select(ForumReport, reporter, ForumPost, author.username, ForumThread, resolver.username)
        .join(reporter, reporter.id == ForumReport.reporter_id)
        .outerjoin(ForumPost, ForumPost.id == ForumReport.post_id)
        .outerjoin(author, author.id == ForumPost.author_id)
        .outerjoin(ForumThread, ForumThread.id == ForumPost.thread_id)
        .outerjoin(resolver, resolver.id == ForumReport.resolved_by_id)
        .where(ForumReport.course_id == member.course.id)
    )
    if resolved:
        statement = statement.where(ForumReport.resolved_at.is_not(None)).order_by(
            ForumReport.resolved_at.desc(), ForumReport.id.desc()
        )
    else:
        statement = statement.where(ForumReport.resolved_at.is_(None)).order_by(
            ForumReport.created_at, ForumReport.id
        )
    rows = await session.execute(statement.limit(limit))
    return [_report_view(*row) for row in rows]


def _report_view(
    report: ForumReport,
    reporter: Account,
    post: ForumPost | None,
    author_username: str | None,
    thread: ForumThread | None,
    resolver_username: str | None,
) -> ReportView:
    if post is None:
        state = "gone"
    elif post.deleted_at is not None:
        state = "deleted"
    else:
        state = "hidden" if post.is_hidden else "visible"
    return ReportView(
        id=report.id,
        reason=report.reason,
        created_at=report.created_at,
        reporter_username=reporter.username,
        reporter_name=reporter.name or reporter.username,
        post_id=post.id if post else None,
        post_html=post.body_html if post else "",
        post_state=state,
        post_author_username=author_username,
        thread_id=thread.id if thread else None,
        thread_title=thread.title if thread else None,
        resolved_at=report.resolved_at,
        resolution=report.resolution,
        resolved_by_username=resolver_username,
    )


async def resolve_report(
    session: AsyncSession, member: Member, report_id: int, action: Any
) -> tuple[str, int]:
    """Resolve a report by ``action`` ("dismiss", "hide" or "delete" the post); every open
    report of the same post is resolved with it. (resolution, reports resolved)."""
    require_moderator(member)
    if action not in ACTIONS:
        raise ForumError("action must be one of: dismiss, hide, delete.")
    report = await session.scalar(
        select(ForumReport).where(
            ForumReport.id == report_id, ForumReport.course_id == member.course.id
        )
    )
    if report is None:
        raise ForumError("There is no such report in this course.", 404)
    if report.resolved_at is not None:
        raise ForumError(f"This report was resolved already ({report.resolution}).", 409)
    resolution = ACTIONS[action]
    same_post = (
        ForumReport.post_id == report.post_id
        if report.post_id is not None
        else ForumReport.id == report.id
    )
    result = await session.execute(
        update(ForumReport)
        .where(ForumReport.course_id == member.course.id, ForumReport.resolved_at.is_(None))
        .where(same_post)
        .values(resolved_at=utcnow(), resolved_by_id=member.account.id, resolution=resolution)
    )
    post = await session.get(ForumPost, report.post_id) if report.post_id is not None else None
    if post is not None and post.deleted_at is None and action != "dismiss":
        if action == "hide":
            post.is_hidden = True
            await session.flush()
        else:
            await forums.remove_post(
                session, post, await session.get_one(ForumThread, post.thread_id)
            )
    return resolution, result.rowcount or 0  # type: ignore[attr-defined]
