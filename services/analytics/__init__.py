"""Learning analytics: students' progress pages, each course's analytics for its staff and
the platform's for administrators, read from rollup tables the job queue keeps."""
