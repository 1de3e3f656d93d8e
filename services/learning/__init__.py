"""Learning: the course player, progress, notes and bookmarks, and a student's dashboard."""
