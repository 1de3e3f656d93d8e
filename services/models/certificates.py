"""Certificates: a course's rule for issuing them and the certificates issued."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class CertificateRule(Base):
    """When a course's students get a certificate, and what it says."""

    __tablename__ = "certificate_rules"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    title: Mapped[str] = mapped_column(String(200))
    # Percent of the gradebook's weighted total, 0 to 100; None: no minimum.
    min_grade: Mapped[float | None] = mapped_column(Float)
    not_before: Mapped[datetime | None]
    signatory_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    signatory_title: Mapped[str] = mapped_column(String(200), default="", server_default="")
    signature_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The instructor's own template (documented fields only); None: CourseHub's.
    template_html: Mapped[str | None] = mapped_column(Text)
    page_size: Mapped[str] = mapped_column(String(10), default="A4", server_default="A4")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class Certificate(Base):
    """One student's certificate of one course, at a permanent unguessable ``public_id``."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("course_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    holder_name: Mapped[str] = mapped_column(String(200))
    course_title: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    grade: Mapped[float | None] = mapped_column(Float)
    show_grade: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    issued_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    pdf_error: Mapped[str | None] = mapped_column(Text)
    credential: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # A regrade put the holder below the rule's minimum grade: staff decide, nothing silent.
    below_bar_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(Text)
