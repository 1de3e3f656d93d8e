"""Per-student variants of an assignment whose source has a papermill ``parameters`` cell
(``coursehub.services.variants``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class AssignmentVariantRule(Base):
    """How an assignment's values are drawn: ``{"seed", "parameters": {name: {"range": [low,
    high], "step"?} | {"choices": [...]}}}`` or ``{"csv": {"column": "student", "rows": [...]}}``;
    ``answers`` names the variables whose values the solution records per variant."""

    __tablename__ = "assignment_variant_rules"

    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True
    )
    rule: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class AssignmentVariant(Base):
    """One student's values (``parameters``), injected into their copy and into grading;
    ``expected`` the solution's answer values for them once the background run recorded them."""

    __tablename__ = "assignment_variants"
    __table_args__ = (UniqueConstraint("assignment_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    expected: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
