"""Quizzes: a course's question bank, its quizzes and their slots, students' attempts and the
answers in them.

A ``QuizQuestion`` is a bank row of one course, reusable by any of its quizzes. A quiz is an
ordered list of ``QuizSlot`` rows: a slot holds either one fixed question or "draw N at
random from the bank questions tagged T". When a student starts a ``QuizAttempt`` every slot
is resolved once and each question is copied into a ``QuizAnswer`` row (its ``question``
snapshot), so an attempt shows and scores exactly what it drew, even after the bank changes.
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
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class QuestionKind(enum.StrEnum):
    SINGLE_CHOICE = "SINGLE_CHOICE"
    MULTIPLE_CHOICE = "MULTIPLE_CHOICE"
    TRUE_FALSE = "TRUE_FALSE"
    FILL_IN = "FILL_IN"
    ESSAY = "ESSAY"
    CODE = "CODE"


class AnswerPolicy(enum.StrEnum):
    """When a student sees a quiz's correct answers and explanations (never regular
    expressions or tolerances): after each submitted attempt, once they have no attempt
    left or the quiz is past due (the default), only after the due date, or never."""

    AFTER_EACH_ATTEMPT = "AFTER_EACH_ATTEMPT"
    AFTER_LAST_ATTEMPT = "AFTER_LAST_ATTEMPT"
    AFTER_DUE_DATE = "AFTER_DUE_DATE"
    NEVER = "NEVER"


class AnswerState(enum.StrEnum):
    OPEN = "OPEN"  # the attempt is in progress
    SCORED = "SCORED"  # has its final score (by rule, by a grading job or by staff)
    AWAITING_STAFF = "AWAITING_STAFF"  # an essay: staff grade it by hand
    AWAITING_WORKER = "AWAITING_WORKER"  # a code answer queued for the grading worker
    FAILED = "FAILED"  # the grading worker failed on the platform's side; staff may grade it


class QuizQuestion(Base):
    """One question of a course's bank. ``spec`` holds what decides the score (choices and
    the right ones, accepted answers, the code question's nbgrader notebook): staff only."""

    __tablename__ = "quiz_questions"
    __table_args__ = (Index("quiz_questions_tags_idx", "tags", postgresql_using="gin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    kind: Mapped[QuestionKind] = mapped_column(Enum(QuestionKind, name="quiz_question_kind"))
    title: Mapped[str] = mapped_column(String(200), default="")
    prompt: Mapped[str] = mapped_column(Text, default="")  # markdown
    explanation: Mapped[str] = mapped_column(Text, default="")  # markdown, shown after submit
    points: Mapped[float] = mapped_column(Float, default=1)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list, server_default="{}")
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class Quiz(Base):
    """A quiz of a course. ``max_score`` is the sum of its slots' points, kept up to date
    whenever slots or the points of their questions change."""

    __tablename__ = "quizzes"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    # The QUIZ lesson that places it in the syllabus, if any.
    lesson_id: Mapped[int | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")  # markdown
    time_limit_minutes: Mapped[int | None] = mapped_column(Integer)
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    opens_at: Mapped[datetime | None]
    # No attempt starts after it, and attempts in progress close at it.
    due_at: Mapped[datetime | None]
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    max_score: Mapped[float] = mapped_column(Float, default=0, server_default="0")
    show_answers: Mapped[AnswerPolicy] = mapped_column(
        Enum(AnswerPolicy, name="quiz_answer_policy"),
        default=AnswerPolicy.AFTER_LAST_ATTEMPT,
        server_default=AnswerPolicy.AFTER_LAST_ATTEMPT.value,
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class QuizSlot(Base):
    """A place in a quiz: one fixed bank question, or ``draw_count`` questions drawn at
    random from the bank questions tagged ``draw_tag``. ``points`` overrides the fixed
    question's own points; for a draw it is what each drawn question is worth."""

    __tablename__ = "quiz_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("quiz_questions.id", ondelete="CASCADE"), index=True
    )
    draw_tag: Mapped[str | None] = mapped_column(String(60))
    draw_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    points: Mapped[float | None] = mapped_column(Float)


class QuizAttempt(Base):
    """One student's attempt at a quiz. ``deadline_at`` is fixed when it starts (the time
    limit, or the quiz's due date if sooner); ``score`` is None while an answer awaits
    grading by staff or the grading worker, and while the attempt is in progress."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (
        UniqueConstraint("quiz_id", "account_id", "attempt"),
        Index("quiz_attempts_student_idx", "account_id", "quiz_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    deadline_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    # True when the server closed it at its deadline rather than the student submitting.
    timed_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float, default=0)


class QuizAnswer(Base):
    """One drawn question of an attempt and the student's answer to it. ``question`` is the
    bank question as it was when drawn (kind, prompt, spec, explanation, points)."""

    __tablename__ = "quiz_answers"
    __table_args__ = (UniqueConstraint("attempt_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("quiz_attempts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("quiz_questions.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[QuestionKind] = mapped_column(Enum(QuestionKind, name="quiz_question_kind"))
    points: Mapped[float] = mapped_column(Float)
    question: Mapped[dict[str, Any]] = mapped_column(JSONB)
    response: Mapped[Any | None] = mapped_column(JSONB)
    saved_at: Mapped[datetime | None]
    state: Mapped[AnswerState] = mapped_column(
        Enum(AnswerState, name="quiz_answer_state"), default=AnswerState.OPEN
    )
    score: Mapped[float | None] = mapped_column(Float)
    # Right or wrong, for questions a rule scores; None for essays and code.
    correct: Mapped[bool | None] = mapped_column(Boolean)
    # Staff's comment on a graded essay (or on any answer they graded by hand).
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    # A code answer's grading: the engine's outcome, message and per-cell results.
    feedback: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    graded_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    graded_at: Mapped[datetime | None]
    # The latest grading job of a code answer (procrastinate_jobs.id; not a foreign key).
    job_id: Mapped[int | None] = mapped_column(BigInteger)


class QuizQuestionVariant(Base):
    """One set of values a calculated question's generator notebook produced for ``seed``
    (``values`` fill the prompt's ``{name}`` fields, ``answer`` is the right answer), made in
    the background ahead of attempts. An attempt takes a free one (``answer_id`` None) for
    itself; ``generator_hash`` ties it to the generator that made it, so an edited generator's
    old variants are never handed out again."""

    __tablename__ = "quiz_question_variants"
    __table_args__ = (
        UniqueConstraint("question_id", "generator_hash", "seed"),
        # Free variants of a question, taken with FOR UPDATE SKIP LOCKED at attempt start.
        Index(
            "quiz_question_variants_free_idx",
            "question_id",
            "generator_hash",
            postgresql_where=text("answer_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("quiz_questions.id", ondelete="CASCADE"))
    generator_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(BigInteger)
    values: Mapped[dict[str, Any]] = mapped_column(JSONB)
    answer: Mapped[Any] = mapped_column(JSONB)
    answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("quiz_answers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class QuizImage(Base):
    """An uploaded image (``Upload``, purpose ``quiz_image``) that a course's quiz questions
    show, brought in with imported questions: its course's students and staff may see it."""

    __tablename__ = "quiz_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    upload_id: Mapped[int] = mapped_column(
        ForeignKey("uploads.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
