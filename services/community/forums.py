"""A course's discussion forums: who takes part, threads, replies, reading, editing, deleting.

Each course has a general forum and one forum per lesson; threads carry the forum as
(course, lesson or none). Only the course's enrolled students and its staff take part:
its instructor, administrators and its assigned graders, who moderate
(``forum_moderation``). Everyone else gets the course's usual refusal (404 for a course they
may not see, 403 with "enroll first" otherwise).

Posts are markdown (code blocks, tables; ``$math$`` becomes MathML the browser draws), stored
with the HTML ``content.markdown.to_safe_html`` makes of it, so nothing unsanitised is
ever shown and pages never render markdown. Titles are plain text; templates escape them.

A thread page lists its posts as a tree (replies under what they answer, indented up to
``MAX_DEPTH``) in pages of ``PAGE_SIZE``, in the order of each post's stored tree path.
Deleting a post that has replies leaves a "deleted" stub; a hidden post is a stub for
students when it has replies and is left out when it has none.

Functions take an ``AsyncSession`` and leave committing to the caller; refusals raise
``ForumError`` with a sentence to show and the HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, select, text, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from coursehub.services.content.markdown import to_safe_html
from coursehub.services.courses.enrollment import EnrollmentError, check_visible
from coursehub.services.courses.membership import GRADERS, Place, place_of
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Account,
    Course,
    CourseGrader,
    Enrollment,
    ForumPost,
    ForumRead,
    ForumThread,
    Lesson,
    Module,
    utcnow,
)

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_DEPTH = 6  # replies deeper than this are shown at this indentation
PAGE_SIZE = 100  # posts per thread page
THREADS_PER_PAGE = 50
POST_LIMIT, POST_WINDOW_S = 10, 60  # posts (threads and replies) per person per minute

NO_SUCH_THREAD = "There is no such thread in this course's forums. It may have been deleted."
NO_SUCH_POST = "There is no such post in this course's forums. It may have been deleted."
NO_SUCH_LESSON = "This course has no such lesson, so it has no such forum."


class ForumError(Refusal):
    """A refusal about forums; the message says what to do instead."""


@dataclass(frozen=True)
class Member:
    """Someone taking part in a course's forums; ``moderator``: instructor, admin, grader."""

    account: Account
    course: Course
    moderator: bool


# Built once (thread pages are read often): a course by slug with whether the person is
# one of its graders and whether they are enrolled.
_COURSE_AND_PLACE = (
    select(
        Course,
        select(CourseGrader.id)
        .where(
            CourseGrader.course_id == Course.id,
            CourseGrader.account_id == bindparam("account_id"),
        )
        .exists(),
        select(Enrollment.id)
        .where(Enrollment.course_id == Course.id, Enrollment.account_id == bindparam("account_id"))
        .exists(),
    )
    .where(Course.slug == bindparam("slug"))
    .options(defer(Course.search_document))
)


async def member_of(session: AsyncSession, account: Account, slug: str) -> Member:
    """``account``'s place in the forums of the course ``slug``, or the refusal why they have
    none: the course's instructor and administrators, its graders and its enrolled students
    (the course and both of the last two found with one query)."""
    result = await session.execute(_COURSE_AND_PLACE, {"account_id": account.id, "slug": slug})
    row = result.first()
    course, grader, enrolled = row if row is not None else (None, False, False)
    place = place_of(account, course, grader=grader, enrolled=enrolled) if course else None
    if place in GRADERS:
        return Member(account, course, moderator=True)
    try:
        course = check_visible(account, course)
    except EnrollmentError as error:
        raise ForumError(error.message, error.status) from None
    if place is not Place.STUDENT:
        raise ForumError(
            f"Only the students and staff of {course.title} take part in its discussions. "
            "Enroll in the course to read and post.",
            403,
        )
    return Member(account, course, moderator=False)


# -- checking what people write -------------------------------------------------------------


def checked_title(value: Any, what: str = "thread") -> str:
    if isinstance(value, str):
        value = value.replace("\x00", "")  # PostgreSQL text cannot hold NUL
    if not isinstance(value, str) or not value.strip():
        raise ForumError(f"Give the {what} a title that says what it is about.")
    title = " ".join(value.split())  # one line: no newlines or runs of spaces
    if len(title) > MAX_TITLE:
        raise ForumError(f"A title can be at most {MAX_TITLE} characters long; shorten it.")
    return title


def checked_body(value: Any, what: str = "post") -> str:
    if isinstance(value, str):
        value = value.replace("\x00", "")
    if not isinstance(value, str) or not value.strip():
        raise ForumError(f"Write something in the {what} first.")
    if len(value) > MAX_BODY:
        raise ForumError(
            f"A {what} can be at most {MAX_BODY:,} characters long; shorten it or split it "
            "into several."
        )
    return value.strip("\n")


# -- forums and threads ---------------------------------------------------------------------


async def course_lessons(session: AsyncSession, course: Course) -> list[tuple[int, str]]:
    """The course's lessons in syllabus order, as (id, title): each has a forum."""
    rows = await session.execute(
        select(Lesson.id, Lesson.title)
        .join(Module, Module.id == Lesson.module_id)
        .where(Module.course_id == course.id)
        .order_by(Module.position, Module.id, Lesson.position, Lesson.id)
    )
    return [(row.id, row.title) for row in rows]


async def forum_lesson(
    session: AsyncSession, course: Course, lesson_id: int | None
) -> Lesson | None:
    """The lesson whose forum is meant (None: the general forum), if it is the course's."""
    if lesson_id is None:
        return None
    lesson = await session.scalar(
        select(Lesson)
        .join(Module, Module.id == Lesson.module_id)
        .where(Lesson.id == lesson_id, Module.course_id == course.id)
    )
    if lesson is None:
        raise ForumError(NO_SUCH_LESSON, 404)
    return lesson


def _visible_thread(member: Member) -> Any:
    return ForumThread.is_hidden.is_(False) if not member.moderator else true()


def _visible_post(member: Member, post: Any = ForumPost) -> Any:
    shown = post.deleted_at.is_(None)
    return shown if member.moderator else and_(shown, post.is_hidden.is_(False))


async def thread_for(session: AsyncSession, member: Member, thread_id: int) -> ForumThread:
    """A thread of the member's course they may see (hidden ones: moderators only)."""
    thread = await session.scalar(
        select(ForumThread).where(
            ForumThread.id == thread_id,
            ForumThread.course_id == member.course.id,
            _visible_thread(member),
        )
    )
    if thread is None:
        raise ForumError(NO_SUCH_THREAD, 404)
    return thread


async def post_for(
    session: AsyncSession, member: Member, post_id: int
) -> tuple[ForumPost, ForumThread]:
    """A post of the member's course they may see, with its thread."""
    row = (
        await session.execute(
            select(ForumPost, ForumThread)
            .join(ForumThread, ForumThread.id == ForumPost.thread_id)
            .where(
                ForumPost.id == post_id,
                ForumThread.course_id == member.course.id,
                _visible_thread(member),
                _visible_post(member),
            )
        )
    ).first()
    if row is None:
        raise ForumError(NO_SUCH_POST, 404)
    return row[0], row[1]


def _new_post(
    thread: ForumThread, author: Account, body: str, parent: ForumPost | None
) -> ForumPost:
    return ForumPost(
        thread_id=thread.id,
        parent_id=parent.id if parent else None,
        author_id=author.id,
        depth=min(parent.depth + 1, MAX_DEPTH) if parent else 0,
        body=body,
        body_html=to_safe_html(body),
    )


async def start_thread(
    session: AsyncSession, member: Member, lesson: Lesson | None, title: str, body: str
) -> tuple[ForumThread, ForumPost]:
    """A new thread in the general forum (``lesson`` None) or the lesson's, with its post."""
    thread = ForumThread(
        course_id=member.course.id,
        lesson_id=lesson.id if lesson else None,
        author_id=member.account.id,
        title=title,
    )
    session.add(thread)
    await session.flush()
    post = _new_post(thread, member.account, body, None)
    session.add(post)
    await session.flush()
    await mark_read(session, member.account.id, thread.id, post.id)
    return thread, post


async def reply(
    session: AsyncSession, member: Member, thread: ForumThread, parent_id: int | None, body: str
) -> tuple[ForumPost, ForumPost]:
    """A reply to ``parent_id`` (None: to the thread's opening post); (reply, its parent)."""
    if thread.is_locked and not member.moderator:
        raise ForumError(
            "This thread is locked by the course staff: it takes no new replies. Start a new "
            "thread if you have something new to say.",
            409,
        )
    # A reply to the thread answers its opening post, even one deleted or hidden since (its
    # replies keep it as a stub); a reply to a post needs a post the writer can see.
    condition = (
        ForumPost.parent_id.is_(None)
        if parent_id is None
        else and_(ForumPost.id == parent_id, _visible_post(member))
    )
    parent = await session.scalar(
        select(ForumPost).where(ForumPost.thread_id == thread.id, condition)
    )
    if parent is None:
        raise ForumError(
            "The post you are answering is not in this thread any more; reload the page.", 404
        )
    post = _new_post(thread, member.account, body, parent)
    session.add(post)
    await session.flush()
    thread.last_activity_at = utcnow()
    await mark_read(session, member.account.id, thread.id, post.id)
    return post, parent


async def own_post(
    session: AsyncSession, member: Member, post_id: int
) -> tuple[ForumPost, ForumThread]:
    post, thread = await post_for(session, member, post_id)
    if post.author_id != member.account.id:
        raise ForumError("You can only edit your own posts.", 403)
    return post, thread


async def edit_post(session: AsyncSession, post: ForumPost, body: str) -> str:
    """Change a post's text; returns the text it had (to find new @mentions)."""
    before = post.body
    post.body, post.body_html, post.edited_at = body, to_safe_html(body), utcnow()
    await session.flush()
    return before


async def delete_post(session: AsyncSession, member: Member, post_id: int) -> str:
    """Delete a post (its author or a moderator). Returns what happened: "stub" when replies
    keep a "deleted" stub, "post" when it is gone, "thread" when it was a thread's only post.
    """
    post, thread = await post_for(session, member, post_id)
    if post.author_id != member.account.id and not member.moderator:
        raise ForumError("You can only delete your own posts.", 403)
    return await remove_post(session, post, thread)


async def remove_post(session: AsyncSession, post: ForumPost, thread: ForumThread) -> str:
    has_replies = await session.scalar(
        select(func.count()).select_from(ForumPost).where(ForumPost.parent_id == post.id)
    )
    if has_replies:
        post.body, post.body_html, post.deleted_at = "", "", utcnow()
        await session.flush()
        return "stub"
    if post.parent_id is None:
        await session.execute(delete(ForumThread).where(ForumThread.id == thread.id))
        return "thread"
    parent_id = post.parent_id
    await session.delete(post)
    await session.flush()
    await _prune_stubs(session, parent_id)
    return "post"


async def _prune_stubs(session: AsyncSession, post_id: int | None) -> None:
    """Remove "deleted" stubs left without replies, going up the tree (not the opening post,
    whose thread stays while it has a title)."""
    while post_id is not None:
        stub = await session.scalar(
            select(ForumPost).where(
                ForumPost.id == post_id,
                ForumPost.deleted_at.is_not(None),
                ForumPost.parent_id.is_not(None),
                ~select(ForumPost.id).where(ForumPost.parent_id == post_id).exists(),
            )
        )
        if stub is None:
            return
        post_id = stub.parent_id
        await session.delete(stub)
        await session.flush()


# -- reading --------------------------------------------------------------------------------


async def mark_read(session: AsyncSession, account_id: int, thread_id: int, post_id: int) -> None:
    """Remember that ``account_id`` has read ``thread_id`` up to post ``post_id``."""
    statement = insert(ForumRead).values(
        account_id=account_id, thread_id=thread_id, last_read_post_id=post_id, read_at=utcnow()
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["account_id", "thread_id"],
            set_={
                "last_read_post_id": func.greatest(
                    ForumRead.last_read_post_id, statement.excluded.last_read_post_id
                ),
                "read_at": statement.excluded.read_at,
            },
        )
    )


@dataclass(frozen=True)
class PostView:
    """A post as one person sees it on a thread page."""

    id: int
    parent_id: int | None
    depth: int
    state: str  # "visible", "hidden" (moderators see it, marked), "hidden-stub", "deleted"
    author_id: int | None
    author_username: str | None
    author_name: str | None
    body: str  # the markdown, for its author's edit box only
    html: str  # sanitised; empty for stubs
    created_at: datetime
    edited_at: datetime | None
    is_new: bool
    mine: bool
    position: int  # 1-based place in the thread's tree order


@dataclass(frozen=True)
class ThreadPage:
    posts: list[PostView]
    page: int
    pages: int
    total: int
    read_before: int  # the reader had read the thread up to this post before this page


# One statement for a page of a thread: its posts in tree order (``tree_path``, stored when
# each post is written: depth first, children in the order they were written), stubs only
# where replies hang off them; only the page's posts are then read whole, with their authors
# and how far the reader had read.
_TREE = """
WITH ordered AS (
    SELECT p.id, count(*) OVER () AS total,
           row_number() OVER (ORDER BY p.tree_path) AS position
    FROM forum_posts p
    WHERE p.thread_id = :thread_id
      AND ((p.deleted_at IS NULL AND (NOT p.is_hidden OR :moderator))
           OR EXISTS (SELECT 1 FROM forum_posts c WHERE c.parent_id = p.id))
)
"""
_PAGE = text(
    _TREE
    + """
SELECT o.position, o.total, p.id, p.parent_id, p.depth, p.author_id, p.is_hidden,
       CASE WHEN p.author_id = :account_id THEN p.body ELSE '' END AS body,
       p.body_html, p.created_at, p.edited_at, p.deleted_at, a.username, a.name,
       coalesce((SELECT r.last_read_post_id FROM forum_reads r
                 WHERE r.thread_id = :thread_id AND r.account_id = :account_id), 0)
         AS read_before
FROM (SELECT * FROM ordered ORDER BY position LIMIT :limit OFFSET :offset) o
JOIN forum_posts p ON p.id = o.id
LEFT JOIN accounts a ON a.id = p.author_id
ORDER BY o.position
"""
)
_POSITION = text(_TREE + "SELECT position FROM ordered WHERE id = :post_id")


async def page_of_post(
    session: AsyncSession, member: Member, thread: ForumThread, post_id: int
) -> int:
    """The page of ``thread`` that shows ``post_id`` (1 when it is not shown)."""
    position = await session.scalar(
        _POSITION,
        {"thread_id": thread.id, "moderator": member.moderator, "post_id": post_id},
    )
    return 1 if position is None else (int(position) - 1) // PAGE_SIZE + 1


async def thread_page(
    session: AsyncSession, member: Member, thread: ForumThread, page: int
) -> ThreadPage:
    """Page ``page`` of the thread as ``member`` sees it (the first when ``page`` is past the
    end); posts by others after the member last read the thread are marked new."""
    result = await session.execute(
        _PAGE,
        {
            "thread_id": thread.id,
            "moderator": member.moderator,
            "account_id": member.account.id,
            "limit": PAGE_SIZE,
            "offset": (page - 1) * PAGE_SIZE,
        },
    )
    rows = list(result.mappings())
    if not rows and page > 1:
        return await thread_page(session, member, thread, 1)
    total = int(rows[0]["total"]) if rows else 0  # count(*) OVER (): on every row
    read_before = int(rows[0]["read_before"]) if rows else 0
    posts = [_post_view(row, member, read_before) for row in rows]
    return ThreadPage(posts, page, max(1, -(-total // PAGE_SIZE)), total, read_before)


def _post_view(row: Any, member: Member, read_before: int) -> PostView:
    if row["deleted_at"] is not None:
        state = "deleted"
    elif row["is_hidden"]:
        state = "hidden" if member.moderator else "hidden-stub"
    else:
        state = "visible"
    shows_text = state in ("visible", "hidden")
    mine = row["author_id"] == member.account.id
    return PostView(
        id=row["id"],
        parent_id=row["parent_id"],
        depth=row["depth"],
        state=state,
        author_id=row["author_id"] if shows_text else None,
        author_username=row["username"] if shows_text else None,
        author_name=(row["name"] or row["username"]) if shows_text else None,
        body=row["body"] if shows_text else "",  # the statement sends only one's own
        html=row["body_html"] if shows_text else "",
        created_at=row["created_at"],
        edited_at=row["edited_at"],
        is_new=row["id"] > read_before and not mine,
        mine=mine,
        position=row["position"],
    )


# -- forum and thread lists -----------------------------------------------------------------


@dataclass(frozen=True)
class ThreadSummary:
    id: int
    title: str
    lesson_id: int | None
    author_username: str | None
    author_name: str | None
    is_pinned: bool
    is_locked: bool
    is_hidden: bool
    created_at: datetime
    last_activity_at: datetime
    posts: int
    unread: int  # posts by others after the person last read the thread


@dataclass(frozen=True)
class ForumSummary:
    lesson_id: int | None  # None: the course's general forum
    title: str
    threads: int
    unread_threads: int
    last_activity_at: datetime | None


def _unread(member: Member) -> Any:
    return and_(
        ForumPost.id > func.coalesce(ForumRead.last_read_post_id, 0),
        ForumPost.author_id.is_distinct_from(member.account.id),
    )


def _with_posts_and_reads(statement: Any, member: Member) -> Any:
    """``statement`` on forum_threads joined to their visible posts and the member's reads."""
    return (
        statement.outerjoin(
            ForumRead,
            and_(ForumRead.thread_id == ForumThread.id, ForumRead.account_id == member.account.id),
        )
        .outerjoin(ForumPost, and_(ForumPost.thread_id == ForumThread.id, _visible_post(member)))
        .where(ForumThread.course_id == member.course.id, _visible_thread(member))
    )


async def list_threads(
    session: AsyncSession, member: Member, lesson: Lesson | None, page: int
) -> tuple[list[ThreadSummary], int]:
    """One page of a forum's threads (pinned first, then latest activity) and how many
    threads it has."""
    statement = _with_posts_and_reads(
        select(
            ForumThread,
            Account.username,
            Account.name,
            func.count(ForumPost.id).label("posts"),
            func.count(ForumPost.id).filter(_unread(member)).label("unread"),
            func.count().over().label("total"),
        ).select_from(ForumThread),
        member,
    ).outerjoin(Account, Account.id == ForumThread.author_id)
    forum = (
        ForumThread.lesson_id.is_(None) if lesson is None else ForumThread.lesson_id == lesson.id
    )
    rows = await session.execute(
        statement.where(forum)
        .group_by(ForumThread.id, Account.id, ForumRead.last_read_post_id)
        .order_by(
            ForumThread.is_pinned.desc(),
            ForumThread.last_activity_at.desc(),
            ForumThread.id.desc(),
        )
        .limit(THREADS_PER_PAGE)
        .offset((page - 1) * THREADS_PER_PAGE)
    )
    summaries, total = [], 0
    for thread, username, name, posts, unread, count in rows:
        total = count  # count(*) OVER (): the same on every row
        summaries.append(
            ThreadSummary(
                id=thread.id,
                title=thread.title,
                lesson_id=thread.lesson_id,
                author_username=username,
                author_name=name or username,
                is_pinned=thread.is_pinned,
                is_locked=thread.is_locked,
                is_hidden=thread.is_hidden,
                created_at=thread.created_at,
                last_activity_at=thread.last_activity_at,
                posts=posts,
                unread=unread,
            )
        )
    return summaries, total


async def forum_index(session: AsyncSession, member: Member) -> list[ForumSummary]:
    """The general forum, then each lesson's, with thread and unread-thread counts."""
    rows = await session.execute(
        _with_posts_and_reads(
            select(
                ForumThread.lesson_id,
                func.count(ForumThread.id.distinct()),
                func.count(ForumThread.id.distinct()).filter(_unread(member)),
                func.max(ForumThread.last_activity_at),
            ).select_from(ForumThread),
            member,
        ).group_by(ForumThread.lesson_id)
    )
    counts = {row[0]: (row[1], row[2], row[3]) for row in rows}
    forums = [(None, "General discussion")] + await course_lessons(session, member.course)
    return [
        ForumSummary(lesson_id, title, *counts.get(lesson_id, (0, 0, None)))
        for lesson_id, title in forums
    ]


def thread_url(prefix: str, course: Course, thread_id: int, post_id: int | None = None) -> str:
    url = f"{prefix}/courses/{course.slug}/forums/threads/{thread_id}"
    return f"{url}?post={post_id}#post-{post_id}" if post_id else url


def forum_url(prefix: str, course: Course, lesson_id: int | None) -> str:
    base = f"{prefix}/courses/{course.slug}/forums"
    return f"{base}/general" if lesson_id is None else f"{base}/lessons/{lesson_id}"
