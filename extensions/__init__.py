"""CourseHub extensions (filled by later capabilities)."""
