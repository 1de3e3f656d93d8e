"""LTI 1.3: the platforms (LMSs) registered with CourseHub, CourseHub's own signing keys, and
the people linked by a platform's ``sub`` (coursehub.services.lti)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class LtiPlatform(Base):
    """A platform an administrator registered: its issuer, CourseHub's client id there, the
    deployments it may launch from, its endpoints, and the course its launches open unless a
    launch names one."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(500))
    deployment_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    auth_login_url: Mapped[str] = mapped_column(String(2000))
    auth_token_url: Mapped[str] = mapped_column(String(2000))
    key_set_url: Mapped[str] = mapped_column(String(2000))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class LtiToolKey(Base):
    """One of CourseHub's RSA signing keys. The newest unretired key signs; a retired key stays
    published in the JWKS until ``retired_at`` plus the grace period, so platforms that cached
    it keep verifying."""

    __tablename__ = "lti_tool_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(100), unique=True)
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    retired_at: Mapped[datetime | None]


class LtiIdentity(Base):
    """A person as a platform knows them (its ``sub``), linked to their CourseHub account."""

    __tablename__ = "lti_identities"
    __table_args__ = (UniqueConstraint("platform_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    last_launch_at: Mapped[datetime | None]


class LtiContext(Base):
    """A course of the platform (its LTI context) that launched into a CourseHub course, with
    the Assignment and Grade Services endpoint its last launch named."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500), default="")
    lineitems_url: Mapped[str | None] = mapped_column(String(2000))
    ags_scopes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class LtiLineItem(Base):
    """The platform's gradebook column of one CourseHub assignment or quiz in one LMS
    context: made once, found again by its ``resourceId`` when CourseHub lost track of it."""

    __tablename__ = "lti_line_items"
    __table_args__ = (
        UniqueConstraint("lti_context_id", "assignment_id"),
        UniqueConstraint("lti_context_id", "quiz_id"),
        CheckConstraint(
            "(assignment_id IS NULL) <> (quiz_id IS NULL)", name="lti_line_items_one_assessment"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lti_context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    quiz_id: Mapped[int | None] = mapped_column(
        ForeignKey("quizzes.id", ondelete="CASCADE"), index=True
    )
    lineitem_url: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class LtiScorePost(Base):
    """One score sent (or being sent) to a line item for one person: the passback log. A new
    row only when the released final score changed since the last one."""

    __tablename__ = "lti_score_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_item_id: Mapped[int] = mapped_column(
        ForeignKey("lti_line_items.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    score_given: Mapped[float]
    score_maximum: Mapped[float]
    state: Mapped[str] = mapped_column(String(20), default="queued")  # queued, sent, failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    sent_at: Mapped[datetime | None]
