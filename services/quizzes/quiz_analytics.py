"""Item analysis of a quiz for its staff: how scores spread, and how each question behaves.

Only submitted attempts whose every answer has its score count (an attempt waiting for an
essay grade joins once graded).

- Score distribution: the attempts' percentages in ten bins of 10 points (0-10, …, 90-100;
  the last bin includes 100).
- Difficulty of a question: the mean share of its points earned (1.0: everyone got it, 0.0:
  nobody did), over every attempt that drew it.
- Discrimination of a question: the corrected item-total correlation, Pearson's r between
  the share of the question's points earned and the share of the *rest* of the attempt's
  points earned (for right/wrong questions this is the point-biserial correlation). Near 1:
  strong students get it and weak ones do not; near 0 or below: it does not tell them
  apart. None when fewer than two attempts drew it or nobody's result differed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.models import Quiz, QuizAnswer, QuizAttempt

BINS = 10


@dataclass
class QuestionFigures:
    question_id: int
    title: str
    kind: str
    items: list[float] = field(default_factory=list)  # share of the question's points
    rests: list[float | None] = field(default_factory=list)  # share of the rest of the attempt

    def as_json(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "title": self.title,
            "kind": self.kind,
            "answers": len(self.items),
            "difficulty": round(statistics.fmean(self.items), 4) if self.items else None,
            "discrimination": _discrimination(self.items, self.rests),
        }


def _discrimination(items: list[float], rests: list[float | None]) -> float | None:
    pairs = [(item, rest) for item, rest in zip(items, rests, strict=True) if rest is not None]
    if len(pairs) < 2:
        return None
    try:
        return round(statistics.correlation([p[0] for p in pairs], [p[1] for p in pairs]), 4)
    except statistics.StatisticsError:  # nobody's result differed
        return None


def histogram(percentages: list[float]) -> list[dict[str, Any]]:
    width = 100 / BINS
    counts = [0] * BINS
    for percent in percentages:
        counts[min(BINS - 1, max(0, int(round(percent, 6) // width)))] += 1
    return [
        {"from": round(i * width), "to": round((i + 1) * width), "count": count}
        for i, count in enumerate(counts)
    ]


def _share(earned: float, possible: float) -> float | None:
    return earned / possible if possible > 0 else None


async def quiz_analytics(session: AsyncSession, quiz: Quiz) -> dict[str, Any]:
    """The figures of ``quiz`` (close attempts out of time before calling this)."""
    rows = await session.execute(
        select(QuizAttempt, QuizAnswer)
        .join(QuizAnswer, QuizAnswer.attempt_id == QuizAttempt.id)
        .where(
            QuizAttempt.quiz_id == quiz.id,
            QuizAttempt.submitted_at.is_not(None),
            QuizAttempt.score.is_not(None),
        )
        .order_by(QuizAttempt.id, QuizAnswer.position)
    )
    attempts: dict[int, QuizAttempt] = {}
    questions: dict[int, QuestionFigures] = {}
    for attempt, answer in rows:
        attempts[attempt.id] = attempt
        if answer.question_id is None or not answer.points:
            continue
        figures = questions.setdefault(
            answer.question_id,
            QuestionFigures(answer.question_id, answer.question["title"], answer.kind.value),
        )
        earned = answer.score or 0.0
        figures.items.append(earned / answer.points)
        figures.rests.append(
            _share((attempt.score or 0.0) - earned, attempt.max_score - answer.points)
        )
    percentages = [
        100 * (a.score or 0.0) / a.max_score for a in attempts.values() if a.max_score > 0
    ]
    submitted = await session.scalar(
        select(func.count(QuizAttempt.id)).where(
            QuizAttempt.quiz_id == quiz.id, QuizAttempt.submitted_at.is_not(None)
        )
    )
    return {
        "quiz_id": quiz.id,
        "title": quiz.title,
        "max_score": quiz.max_score,
        "attempts": submitted or 0,
        "scored_attempts": len(attempts),
        "students": len({a.account_id for a in attempts.values()}),
        "mean_percent": round(statistics.fmean(percentages), 2) if percentages else None,
        "median_percent": round(statistics.median(percentages), 2) if percentages else None,
        "histogram": histogram(percentages),
        "questions": [figures.as_json() for figures in questions.values()],
    }
