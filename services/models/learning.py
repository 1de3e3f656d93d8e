"""What a student does in a course: lesson progress, notes and bookmarks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class LessonProgress(Base):
    __tablename__ = "lesson_progress"
    __table_args__ = (
        UniqueConstraint("account_id", "lesson_id"),
        Index("lesson_progress_recent_idx", "account_id", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    first_opened_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    last_opened_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    completed_at: Mapped[datetime | None]
    time_spent_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Video lessons: where to resume, and the share of the video actually watched.
    video_position_seconds: Mapped[float] = mapped_column(Float, default=0, server_default="0")
    video_watched_fraction: Mapped[float] = mapped_column(Float, default=0, server_default="0")
    # How many times each twentieth of the video was played (re-watched parts count again).
    video_views: Mapped[list[int] | None] = mapped_column(JSONB)


class Note(Base):
    """A student's private note or bookmark on a lesson (a video bookmark keeps its time)."""

    __tablename__ = "notes"
    __table_args__ = (Index("notes_owner_idx", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text, default="")
    is_bookmark: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    video_seconds: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
