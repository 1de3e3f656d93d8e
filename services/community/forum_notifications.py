"""Who hears of a forum post, and how: the notifications a new or edited post makes.

- A reply notifies the thread's author and the author of the post it answers
  ("forum_reply").
- An ``@username`` in a post's text (not in code) notifies that person ("forum_mention"),
  when the post is written and, for an edited post, for names it did not mention before.
  Someone told of a reply is not told again of a mention in it.

Never the writer themselves, and only people who can read the forum: the course's enrolled
students (not while the course is a draft) and its staff, or only its staff (instructor,
administrators, graders) for a hidden thread. Rows are made with ``notifications.add`` in
the caller's transaction; they are announced to open pages after the commit.
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.community.forums import Member, thread_url
from coursehub.services.courses.membership import GRADERS, Place, members
from coursehub.services.models import (
    Account,
    Course,
    CourseStatus,
    ForumPost,
    ForumThread,
    Notification,
)
from coursehub.services.notifications import notifications

MENTION = re.compile(r"(?<![\w@./+-])@([A-Za-z0-9][A-Za-z0-9._-]{0,63})")
MAX_MENTIONS = 20  # per post: more names than this are not notified
_parser = MarkdownIt("commonmark")


def mentioned_usernames(markdown: str) -> set[str]:
    """The (lower-cased) usernames after an ``@`` in the text of ``markdown``, leaving out
    code spans and code blocks, where ``@`` is usually a decorator or an e-mail address."""
    names: set[str] = set()
    for token in _parser.parse(markdown or ""):
        if token.type != "inline":
            continue
        for child in token.children or []:
            if child.type == "text":
                names.update(n.rstrip("._-").lower() for n in MENTION.findall(child.content))
    names.discard("")
    return names


async def readers(
    session: AsyncSession, course: Course, account_ids: set[int], *, staff_only: bool
) -> set[int]:
    """Those of ``account_ids`` who can read ``course``'s forums (``staff_only``: its
    instructor, administrators and graders)."""
    if not account_ids:
        return set()
    member = members(courses=[course.id], people=account_ids)
    allowed = [*GRADERS]
    if not staff_only and course.status is not CourseStatus.DRAFT:
        allowed.append(Place.STUDENT)
    rows = await session.scalars(select(member.c.account_id).where(member.c.place.in_(allowed)))
    return set(rows)


async def _accounts_named(session: AsyncSession, names: set[str]) -> set[int]:
    if not names:
        return set()
    wanted = sorted(names)[:MAX_MENTIONS]
    rows = await session.scalars(select(Account.id).where(func.lower(Account.username).in_(wanted)))
    return set(rows)


async def notify_post(
    session: AsyncSession,
    prefix: str,
    member: Member,
    thread: ForumThread,
    post: ForumPost,
    parent: ForumPost | None,
    *,
    text_before: str = "",
) -> list[Notification]:
    """The notifications ``post`` makes: replies (when ``parent`` is given) and mentions new
    since ``text_before`` (its text before an edit)."""
    actor = member.account
    replied_to = {thread.author_id, parent.author_id} if parent is not None else set()
    replied_to = {i for i in replied_to if i is not None and i != actor.id}
    names = mentioned_usernames(post.body) - mentioned_usernames(text_before)
    mentioned = await _accounts_named(session, names) - replied_to - {actor.id}
    allowed = await readers(
        session, member.course, replied_to | mentioned, staff_only=thread.is_hidden
    )
    who = actor.name or actor.username
    common: dict[str, Any] = {
        "url": thread_url(prefix, member.course, thread.id, post.id),
        "course_slug": member.course.slug,
        "course_title": member.course.title,
        "thread_id": thread.id,
        "post_id": post.id,
        "actor": actor.username,
    }
    made = [
        notifications.add(
            session,
            account_id,
            "forum_reply",
            {**common, "title": f"{who} replied in “{thread.title}”."},
        )
        for account_id in sorted(replied_to & allowed)
    ]
    made += [
        notifications.add(
            session,
            account_id,
            "forum_mention",
            {**common, "title": f"{who} mentioned you in “{thread.title}”."},
        )
        for account_id in sorted(mentioned & allowed)
    ]
    return made
