"""HTTP handlers of community: each module ends with ``default_handlers(prefix)``."""
