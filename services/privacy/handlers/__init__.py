"""Pages of the privacy domain: My data (export, delete my account)."""
