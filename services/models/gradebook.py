"""Grade categories of a course's gradebook: weighted groups of assessments ("Homework 40 %",
"Quizzes 20 %"), each optionally dropping a student's lowest scores.

An assignment names its category in ``Assignment.category_id``; a quiz in ``QuizCategory``
(a row per categorised quiz, so the quiz tables stay the quizzes' own). Deleting a category
leaves its assessments uncategorised.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class GradeCategory(Base):
    """A weighted group of a course's assessments; ``weight`` is a percentage of the course
    grade and ``drop_lowest`` how many of a student's lowest scores in it do not count."""

    __tablename__ = "grade_categories"
    __table_args__ = (UniqueConstraint("course_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    weight: Mapped[float] = mapped_column(Float, default=0)
    drop_lowest: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class QuizCategory(Base):
    """The grade category of one quiz (quizzes without a row are uncategorised)."""

    __tablename__ = "quiz_categories"

    quiz_id: Mapped[int] = mapped_column(
        ForeignKey("quizzes.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("grade_categories.id", ondelete="CASCADE"), index=True
    )
