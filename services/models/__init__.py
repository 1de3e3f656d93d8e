"""SQLAlchemy models of the course database, one module per area; import them from here.

Rows are nouns (``Account``, ``Course``); the hub's user object is a different thing with a
different name. Times are stored in UTC.
"""

from coursehub.services.models.accounts import Account, LoginThrottle, PasswordReset, RoleChange
from coursehub.services.models.base import Base, utcnow
from coursehub.services.models.courses import Course, CourseStatus, Enrollment

__all__ = [
    "Account",
    "Base",
    "Course",
    "CourseStatus",
    "Enrollment",
    "LoginThrottle",
    "PasswordReset",
    "RoleChange",
    "utcnow",
]
