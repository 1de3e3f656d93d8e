"""Pages and API of notebook runs (publish checks)."""
