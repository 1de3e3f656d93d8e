"""Report notebooks for a course's staff: attached, run on a pseudonymised snapshot, kept."""
