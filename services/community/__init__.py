"""Community: a course's forums, direct messages and announcements."""
