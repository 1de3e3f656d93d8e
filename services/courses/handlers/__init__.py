"""HTTP handlers of courses: each module ends with ``default_handlers(prefix)``."""
