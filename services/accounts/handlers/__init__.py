"""HTTP handlers of accounts: each module ends with ``default_handlers(prefix)``."""
