"""Course discussions: announcements, forum threads and their posts, who read what, reports.

A course has one general forum and one forum per lesson; a forum is not a row but the pair
(course, lesson or none) its threads carry. A thread's first post (``parent_id`` None) is its
body; every other post replies to a post of the same thread. Posts keep their markdown and
the sanitised HTML made from it when written (``body_html``), so pages never render markdown.
Deleting a post that has replies keeps a stub (``deleted_at`` set, text gone) so the replies
keep their place in the tree. Each post's ``tree_path`` (the ids from the opening post down
to it) is filled by a trigger on insert (migration 0011), so a thread reads in tree order with
one index scan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Computed,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class Announcement(Base):
    """Course staff's news for the course's students, newest first, pinned ones on top."""

    __tablename__ = "announcements"
    __table_args__ = (Index("announcements_course_idx", "course_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    is_pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    email_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    edited_at: Mapped[datetime | None]


class ForumThread(Base):
    """A discussion in a course's general forum (``lesson_id`` None) or a lesson's forum."""

    __tablename__ = "forum_threads"
    __table_args__ = (
        Index("forum_threads_forum_idx", "course_id", "lesson_id", "last_activity_at"),
        Index("forum_threads_search_idx", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    # A removed lesson's threads move to the course's general forum.
    lesson_id: Mapped[int | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="SET NULL"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    is_pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    is_locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    is_hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed("to_tsvector('english'::regconfig, (title)::text)", persisted=True),
        deferred=True,  # for PostgreSQL's searches; never needed in Python
    )


class ForumPost(Base):
    """A thread's opening post or a reply to one of its posts."""

    __tablename__ = "forum_posts"
    __table_args__ = (
        Index("forum_posts_thread_idx", "thread_id", "id"),
        Index("forum_posts_search_idx", "search_vector", postgresql_using="gin"),
        Index("forum_posts_tree_idx", "thread_id", "tree_path"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("forum_posts.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    depth: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    is_hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed("to_tsvector('english'::regconfig, body)", persisted=True),
        deferred=True,  # for PostgreSQL's searches; never needed in Python
    )
    tree_path: Mapped[list[int]] = mapped_column(
        ARRAY(Integer),
        server_default=FetchedValue(),  # the insert trigger's
        deferred=True,  # for ordering in PostgreSQL; never needed in Python
    )


class ForumRead(Base):
    """How far a person has read a thread: posts numbered above ``last_read_post_id`` are new."""

    __tablename__ = "forum_reads"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("forum_threads.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    last_read_post_id: Mapped[int] = mapped_column(Integer, default=0)
    read_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class ForumReport(Base):
    """A student's word to course staff that a post needs their attention."""

    __tablename__ = "forum_reports"
    __table_args__ = (UniqueConstraint("post_id", "reporter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    # None once the post is gone (its author deleted it); the report stays on record.
    post_id: Mapped[int | None] = mapped_column(ForeignKey("forum_posts.id", ondelete="SET NULL"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    resolution: Mapped[str | None] = mapped_column(String(20))  # dismissed, hidden, deleted
