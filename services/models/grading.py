"""Grading by people, and grading again: a course's graders, manual scores of grade cells with
rubrics and reusable comments, score overrides, the audit trail of every change, released
feedback, archived grades and the runs that grade many attempts at once.

A grade cell is named by its nbgrader grade id, so what people decide about an attempt
(``ManualScore``, ``ScoreOverride``) is keyed by (submission, grade id) and survives a regrade,
which replaces the attempt's one ``Grade`` row after archiving it (``ArchivedGrade``).
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
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class GradingRunKind(enum.StrEnum):
    AUTOGRADE = "AUTOGRADE"  # attempts without a grade (imported ones, failed ones)
    REGRADE = "REGRADE"  # attempts graded again, their old grades archived


class CourseGrader(Base):
    """A person the course's instructor trusts to grade it (not to edit it)."""

    __tablename__ = "course_graders"
    __table_args__ = (UniqueConstraint("course_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class RubricItem(Base):
    """One line of a grade cell's rubric: ticking it adds ``points`` (negative: takes off)."""

    __tablename__ = "rubric_items"
    __table_args__ = (Index("rubric_items_cell_idx", "assignment_id", "grade_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    grade_id: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(300))
    points: Mapped[float] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class ManualScore(Base):
    """What staff decided about one grade cell of one attempt: a score (typed, or computed
    from the rubric items applied), a comment for the student, or both."""

    __tablename__ = "manual_scores"
    __table_args__ = (UniqueConstraint("submission_id", "grade_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    grade_id: Mapped[str] = mapped_column(String(200))
    # None: not scored by a person (the autograde score, if any, stands).
    score: Mapped[float | None] = mapped_column(Float)
    # True when staff typed the score; False when it follows the rubric items applied.
    typed: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    graded_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class RubricApplication(Base):
    """A rubric item ticked for one answer."""

    __tablename__ = "rubric_applications"

    manual_score_id: Mapped[int] = mapped_column(
        ForeignKey("manual_scores.id", ondelete="CASCADE"), primary_key=True
    )
    rubric_item_id: Mapped[int] = mapped_column(
        ForeignKey("rubric_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ReusableComment(Base):
    """A course's comment bank: sentences graders insert into answers' comments."""

    __tablename__ = "reusable_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class ScoreOverride(Base):
    """Staff's score for a whole attempt, replacing the cells' sum (the late penalty still
    applies); never without a reason."""

    __tablename__ = "score_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), unique=True
    )
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class FeedbackRelease(Base):
    """Staff released an assignment's manual scores and comments to its students."""

    __tablename__ = "feedback_releases"

    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True
    )
    released_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    released_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class GradingRun(Base):
    """Grading of many attempts of an assignment queued at once; its items are what it
    covers, their jobs tell how far it got."""

    __tablename__ = "grading_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[GradingRunKind] = mapped_column(Enum(GradingRunKind, name="grading_run_kind"))
    reason: Mapped[str] = mapped_column(Text, default="")
    # Attempts left out because they were being graded already.
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    started_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class GradingRunItem(Base):
    __tablename__ = "grading_run_items"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("grading_runs.id", ondelete="CASCADE"), primary_key=True
    )
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # procrastinate_jobs.id (not a foreign key: procrastinate may delete finished jobs).
    job_id: Mapped[int] = mapped_column(BigInteger)


class ArchivedGrade(Base):
    """A grade replaced by a regrade: the whole old row as JSON, who archived it and why."""

    __tablename__ = "archived_grades"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    grade: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[int | None] = mapped_column(ForeignKey("grading_runs.id", ondelete="SET NULL"))
    archived_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    archived_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
