"""SQLAlchemy models of the course database, one module per area; import them from here.

Rows are nouns (``Account``, ``Course``); the hub's user object is a different thing with a
different name. Times are stored in UTC.
"""

from coursehub.services.models.accounts import Account, LoginThrottle, PasswordReset, RoleChange
from coursehub.services.models.assessment import (
    Assignment,
    AssignmentExtension,
    Grade,
    LatePenaltyUnit,
    Notification,
    Submission,
    SubmissionStatus,
)
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
    "Assignment",
    "AssignmentExtension",
    "Base",
    "Category",
    "Course",
    "CourseStatus",
    "Enrollment",
    "Grade",
    "LatePenaltyUnit",
    "Lesson",
    "LessonKind",
    "LessonProgress",
    "LessonVersion",
    "LoginThrottle",
    "Module",
    "Note",
    "Notification",
    "PasswordReset",
    "RoleChange",
    "Submission",
    "SubmissionStatus",
    "Upload",
    "utcnow",
]
