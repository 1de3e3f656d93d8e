"""A person's own data: exporting everything CourseHub holds about them, and deleting the
account (private rows removed, what others rely on anonymised)."""
