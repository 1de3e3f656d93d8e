"""HTTP handlers of learning: each module ends with ``default_handlers(prefix)``."""
