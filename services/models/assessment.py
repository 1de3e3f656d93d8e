"""Notebook assignments: the instructor's source, extensions, students' submissions, their
grades, and the notifications that tell students a grade is ready.

Procrastinate's job tables (``procrastinate_*``) live in the same database but are not
models: procrastinate owns them, and migration 0004 creates them from its own schema file.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class LatePenaltyUnit(enum.StrEnum):
    HOUR = "HOUR"
    DAY = "DAY"


class SubmissionStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    GRADING = "GRADING"
    GRADED = "GRADED"
    FAILED = "FAILED"


class Assignment(Base):
    """An nbgrader notebook assignment of a course; students see it once released."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    # The ASSIGNMENT lesson that places it in the syllabus, if any.
    lesson_id: Mapped[int | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int | None] = mapped_column(  # its gradebook category, if any
        ForeignKey("grade_categories.id", ondelete="SET NULL"), index=True
    )
    # The instructor's nbgrader source (solutions and hidden tests): never shown to students.
    source_notebook: Mapped[dict[str, Any]] = mapped_column(JSONB)
    student_notebook: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source_sha256: Mapped[str] = mapped_column(String(64))
    # [{"grade_id", "kind", "max_points"}] as read from the source.
    grade_cells: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    max_score: Mapped[float] = mapped_column(Float, default=0)
    released_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    # After the cut-off nothing is accepted; between due and cut-off the late penalty applies.
    cutoff_at: Mapped[datetime | None]
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    late_penalty_percent: Mapped[float] = mapped_column(Float, default=0, server_default="0")
    late_penalty_unit: Mapped[LatePenaltyUnit] = mapped_column(
        Enum(LatePenaltyUnit, name="late_penalty_unit"),
        default=LatePenaltyUnit.DAY,
        server_default=LatePenaltyUnit.DAY.value,
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class AssignmentExtension(Base):
    """One student's own due date (and cut-off) for an assignment."""

    __tablename__ = "assignment_extensions"
    __table_args__ = (UniqueConstraint("assignment_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime]
    cutoff_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    granted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class AssignmentFile(Base):
    """A data file of an assignment (``data/weather.csv``): copied read-only beside the
    notebook in every grading job and given to its students with the notebook."""

    __tablename__ = "assignment_files"
    __table_args__ = (UniqueConstraint("assignment_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(500))  # relative, "/"-separated
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class Submission(Base):
    """One attempt: the notebook exactly as received, at the server's time of receipt."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("assignment_id", "account_id", "attempt"),
        UniqueConstraint("assignment_id", "account_id", "idempotency_key"),
        Index("submissions_student_idx", "account_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    sha256: Mapped[str] = mapped_column(String(64))
    notebook: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    # A client's key for one submit action (retries and double clicks send the same one).
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    # Decided at receipt from the due date that applied to this student then.
    late_penalty_percent: Mapped[float] = mapped_column(Float, default=0, server_default="0")
    status: Mapped[SubmissionStatus] = mapped_column(
        Enum(SubmissionStatus, name="submission_status"), default=SubmissionStatus.QUEUED
    )
    status_message: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The latest grading job (procrastinate_jobs.id, a bigint; not a foreign key: procrastinate
    # may delete finished jobs).
    job_id: Mapped[int | None] = mapped_column(BigInteger)


class Grade(Base):
    """The one grade of a submission: a job that runs twice still writes one row."""

    __tablename__ = "grades"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), unique=True
    )
    # graded, timeout, memory, crashed, output_limit (the engine's outcome).
    outcome: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    # [{"grade_id", "kind", "score", "max_points", "feedback"}]
    cells: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    score: Mapped[float] = mapped_column(Float, default=0)
    max_score: Mapped[float] = mapped_column(Float, default=0)
    late_penalty_percent: Mapped[float] = mapped_column(Float, default=0)
    final_score: Mapped[float] = mapped_column(Float, default=0)
    flags: Mapped[list[str]] = mapped_column(JSONB, default=list)
    needs_manual: Mapped[bool] = mapped_column(Boolean, default=False)
    feedback_notebook: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    graded_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class Notification(Base):
    """Something a person should hear about (a grade is ready); Redis only carries the news,
    this row is the record."""

    __tablename__ = "notifications"
    __table_args__ = (Index("notifications_account_idx", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    read_at: Mapped[datetime | None]
