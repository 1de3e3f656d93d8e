"""The one audit log: ``record()`` inside the caller's transaction, searching and CSV export.

Every administrative and grading change (role changes, grade overrides, refunds, site
settings, suspensions, certificate revocations, course review) is written here and nowhere
else. There is no update or delete path; the table refuses both (migration 0020).
"""
