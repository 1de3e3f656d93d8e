"""Report notebooks: notebooks staff attach to a course and run on a pseudonymised snapshot
of its data (``coursehub.services.reports``), and every run of them, kept as history."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class ReportSchedule(enum.StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"


class ReportRunState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"  # ran to its end
    FAILED = "failed"  # a cell raised: output up to it kept
    TIMED_OUT = "timed_out"  # stopped at its time limit: partial output kept
    ERROR = "error"  # CourseHub could not run it (sandbox unavailable…)


class ReportNotebook(Base):
    """A course's report notebook (``notebook``, nbformat JSON). ``with_names`` asks for
    students' names in the snapshot (instructors only); ``next_run_at`` is the next
    scheduled run when ``schedule`` is daily or weekly."""

    __tablename__ = "report_notebooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    notebook: Mapped[dict[str, Any]] = mapped_column(JSONB)
    schedule: Mapped[str] = mapped_column(String(10), default=ReportSchedule.NONE.value)
    with_names: Mapped[bool] = mapped_column(Boolean, default=False)
    time_limit_seconds: Mapped[int] = mapped_column(Integer, default=300)
    # The key of this report's pseudonyms (secret, random): the same student has the same
    # pseudonym in every run of the report, and nobody can work back to the account.
    pseudonym_key: Mapped[str] = mapped_column(String(64))
    next_run_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class ReportRun(Base):
    """One run of a report notebook: its state, the executed notebook (partial when it
    failed or was stopped) and ``problem``, the sentence staff are told."""

    __tablename__ = "report_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("report_notebooks.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(12), default=ReportRunState.QUEUED.value)
    trigger: Mapped[str] = mapped_column(String(12), default="staff")  # staff | schedule
    with_names: Mapped[bool] = mapped_column(Boolean, default=False)
    problem: Mapped[str] = mapped_column(Text, default="")
    notebook: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    seconds: Mapped[float | None] = mapped_column(Float)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    finished_at: Mapped[datetime | None]
