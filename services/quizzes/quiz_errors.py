"""The quiz domain's refusal, shared by its modules (``quiz_questions`` re-exports it)."""

from __future__ import annotations

from coursehub.services.errors import Refusal


class QuizError(Refusal):
    """A request about quizzes that cannot be done; the message says what to do."""
