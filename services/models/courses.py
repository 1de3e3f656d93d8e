"""Courses, their categories, modules and lessons, lesson versions, and enrollment."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coursehub.services.models.accounts import Account
from coursehub.services.models.base import Base, utcnow


class CourseStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


class LessonKind(enum.StrEnum):
    NOTEBOOK = "NOTEBOOK"
    TEXT = "TEXT"
    VIDEO = "VIDEO"
    QUIZ = "QUIZ"
    ASSIGNMENT = "ASSIGNMENT"


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)


class Course(Base):
    __tablename__ = "courses"
    __table_args__ = (Index("courses_search_idx", "search_document", postgresql_using="gin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[CourseStatus] = mapped_column(
        Enum(CourseStatus, name="course_status"), default=CourseStatus.DRAFT
    )
    instructor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL")
    )
    # Whole cents; 0 means free.
    price_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Students may write to each other (they may always write to the course's staff).
    students_may_message: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="false"
    )
    thumbnail_upload_id: Mapped[int | None] = mapped_column(
        ForeignKey("uploads.id", ondelete="SET NULL")
    )
    # Title, description and the text of the lessons' published notebooks, for the catalog.
    search_document: Mapped[Any | None] = mapped_column(TSVECTOR)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    instructor: Mapped[Account] = relationship(lazy="joined")
    category: Mapped[Category | None] = relationship(lazy="joined")


class Module(Base):
    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class Lesson(Base):
    __tablename__ = "lessons"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[LessonKind] = mapped_column(Enum(LessonKind, name="lesson_kind"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Visitors may open preview lessons without enrolling.
    is_preview: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Optional lessons do not count towards course completion.
    is_required: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    text_markdown: Mapped[str] = mapped_column(Text, default="")
    video_upload_id: Mapped[int | None] = mapped_column(
        ForeignKey("uploads.id", ondelete="SET NULL")
    )
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    published_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("lesson_versions.id", ondelete="SET NULL", use_alter=True)
    )
    # Notebook lessons: show code cells (read-only, with outputs) or only their outputs.
    show_code: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class LessonVersion(Base):
    """One published notebook of a lesson; versions are kept, students see the newest."""

    __tablename__ = "lesson_versions"
    __table_args__ = (UniqueConstraint("lesson_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    notebook: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The markdown and code of the notebook as plain text, for search.
    plain_text: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class LessonFile(Base):
    """A data file uploaded with a lesson (``data/weather.csv``): present, read-only, in the
    working directory of the lesson's kernels."""

    __tablename__ = "lesson_files"
    __table_args__ = (UniqueConstraint("lesson_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(500))  # relative, "/"-separated
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class Upload(Base):
    """A stored file: the server names it; the type was checked by content."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(20))  # thumbnail, video
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    storage_name: Mapped[str] = mapped_column(String(100), unique=True)
    original_name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("account_id", "course_id"),
        Index("ix_enrollments_course_id_group_name", "course_id", "group_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    progress: Mapped[float] = mapped_column(default=0.0)
    completed_at: Mapped[datetime | None]
    last_lesson_id: Mapped[int | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="SET NULL")
    )
    last_active_at: Mapped[datetime | None]
    # The group (section) the instructor put the student in; None: no group.
    group_name: Mapped[str | None] = mapped_column(String(60))

    course: Mapped[Course] = relationship(lazy="joined")
