"""Administration: site settings, course review, sign-in history, suspensions and admin
report exports (``coursehub.services.administration``, ``coursehub.services.site_settings``)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class SiteSetting(Base):
    """One site setting an administrator changed (absent keys take their declared default)."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )


class SiteImage(Base):
    """An image an administrator uploaded for the whole site (``logo``): checked PNG or JPEG
    bytes, kept in the database so that every service process and machine serves the same."""

    __tablename__ = "site_images"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class ReviewEvent(enum.StrEnum):
    SUBMITTED = "submitted"  # the instructor asks for review
    RETURNED = "returned"  # an admin sends it back with comments
    APPROVED = "approved"  # an admin approves: the course is published
    UNPUBLISHED = "unpublished"  # an admin takes a published course down, with a reason
    ARCHIVED = "archived"  # an admin archives it, with a reason


class CourseReviewEvent(Base):
    """One step of a course's review history; the newest says where the review stands.

    ``fingerprint`` is the SHA-256 of what was submitted (course fields, syllabus, lesson
    versions), so an approval can tell whether the course changed since."""

    __tablename__ = "course_review_events"
    __table_args__ = (Index("course_review_events_course_idx", "course_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(20))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    fingerprint: Mapped[str] = mapped_column(String(64), default="", server_default="")
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class SignIn(Base):
    """A successful sign-in (password, Google or a sign-in ticket)."""

    __tablename__ = "sign_ins"
    __table_args__ = (Index("sign_ins_account_idx", "account_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # Where the sign-in came from, as the platform's proxy saw it (the last X-Forwarded-For
    # hop); empty when the hub did not say.
    address: Mapped[str] = mapped_column(String(45), default="", server_default="")


class Suspension(Base):
    """An account an administrator suspended: it cannot sign in until reactivated."""

    __tablename__ = "suspensions"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class AdminReportExport(Base):
    """A large admin report built by the job queue; ``csv`` is kept once it is ready."""

    __tablename__ = "admin_report_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[Any] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(20), default="queued", server_default="queued")
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    rows: Mapped[int | None] = mapped_column(Integer)
    csv: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    finished_at: Mapped[datetime | None]
