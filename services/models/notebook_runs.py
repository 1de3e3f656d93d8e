"""A lesson version's publish check: the notebook run top to bottom in the sandbox before
students see it (``coursehub.services.notebook_runs``)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint, func
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


class SourceCheckState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"  # CourseHub could not run it (no sandbox, a fault); the upload stands


class AssignmentSourceCheck(Base):
    """The check of one uploaded version of an nbgrader assignment source (the source's and
    the data files' digests): its solution version run, and its released version, in the
    sandbox. ``summary`` is ``SourceCheck.summary()`` (the test cells that fail with the
    solution, those that pass without answers); both executed notebooks are kept."""

    __tablename__ = "assignment_source_checks"
    __table_args__ = (
        UniqueConstraint(
            "assignment_id",
            "source_sha256",
            "files_sha256",
            name="assignment_source_checks_version_key",
        ),
        Index("assignment_source_checks_digest_idx", "source_sha256", "files_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    source_sha256: Mapped[str] = mapped_column(String(64))
    files_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    ok: Mapped[bool | None] = mapped_column(Boolean)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    problem: Mapped[str | None] = mapped_column(Text)
    solution_executed: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    released_executed: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    finished_at: Mapped[datetime | None]
