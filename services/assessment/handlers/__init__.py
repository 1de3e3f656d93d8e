"""HTTP handlers of assessment: each module ends with ``default_handlers(prefix)``."""
