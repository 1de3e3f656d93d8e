"""HTTP handlers of quizzes: each module ends with ``default_handlers(prefix)``."""
