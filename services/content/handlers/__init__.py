"""HTTP handlers of content: each module ends with ``default_handlers(prefix)``."""
