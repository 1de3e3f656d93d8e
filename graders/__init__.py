"""CourseHub graders (filled by later capabilities)."""
