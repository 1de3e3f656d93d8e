"""SQLAlchemy models of the course database, one module per area; import them from here.

Rows are nouns (``Account``, ``Course``); the hub's user object is a different thing with a
different name. Times are stored in UTC.
"""

from coursehub.services.models.accounts import Account, LoginThrottle, PasswordReset, RoleChange
from coursehub.services.models.base import Base, utcnow
from coursehub.services.models.courses import (
    Category,
    Course,
    CourseStatus,
    Enrollment,
    Lesson,
    LessonKind,
    LessonVersion,
    Module,
    Upload,
)
from coursehub.services.models.learning import LessonProgress, Note

__all__ = [
    "Account",
    "Base",
    "Category",
    "Course",
    "CourseStatus",
    "Enrollment",
    "Lesson",
    "LessonKind",
    "LessonProgress",
    "LessonVersion",
    "LoginThrottle",
    "Module",
    "Note",
    "PasswordReset",
    "RoleChange",
    "Upload",
    "utcnow",
]
