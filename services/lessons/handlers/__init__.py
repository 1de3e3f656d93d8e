"""HTTP handlers of lessons: each module ends with ``default_handlers(prefix)``."""
