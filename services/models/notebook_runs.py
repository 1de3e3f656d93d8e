"""A lesson version's publish check: the notebook run top to bottom in the sandbox before
students see it (``coursehub.services.notebook_runs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class NotebookCheck(Base):
    """The check of one lesson version: ``summary`` is ``NotebookRun.summary()`` (per-cell
    times, the failing cell with its traceback, missing files, widgets), ``executed`` the
    executed notebook. A version that failed its check is published only when its author
    said so (``published_anyway``); staff then see a warning on the course page."""

    __tablename__ = "notebook_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_version_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_versions.id", ondelete="CASCADE"), unique=True
    )
    ok: Mapped[bool] = mapped_column(Boolean)
    published_anyway: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB)
    executed: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
