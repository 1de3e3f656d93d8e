"""HTTP handlers of notifications: each module ends with ``default_handlers(prefix)``."""
