"""The one audit log: every administrative and grading change, append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class AuditEntry(Base):
    """Who did what to which thing, when, with the thing before and after.

    The table refuses UPDATE and DELETE (a trigger made by migration 0020); the code has no
    path that changes a row. ``actor_id`` is kept without a foreign key so that an entry
    outlives the account it names (the name is kept beside it).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("audit_log_target_idx", "target_kind", "target_id", "at"),
        Index("audit_log_at_idx", "at"),
        Index("audit_log_actor_idx", "actor_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # A dotted verb: role.change, grade.override, settings.change, account.suspend, ...
    action: Mapped[str] = mapped_column(String(60))
    target_kind: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(100), default="", server_default="")
    before: Mapped[Any] = mapped_column(JSONB, nullable=True)
    after: Mapped[Any] = mapped_column(JSONB, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    request_id: Mapped[str | None] = mapped_column(String(100))
    # Where the entry belongs beside its target (e.g. the course of a grade change).
    # No foreign key: a cascade would have to update the log, which it refuses.
    course_id: Mapped[int | None] = mapped_column(Integer)
