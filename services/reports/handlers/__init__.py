"""Report notebook pages and downloads for a course's staff."""
