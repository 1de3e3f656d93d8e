"""SQLAlchemy models of the course database, one module per area; import them from here.

Rows are nouns (``Account``, ``Course``); the hub's user object is a different thing with a
different name. Times are stored in UTC.
"""

from coursehub.services.models.accounts import Account, LoginThrottle, PasswordReset, RoleChange
from coursehub.services.models.assessment import (
    Assignment,
    AssignmentExtension,
    AssignmentFile,
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
    LessonFile,
    LessonKind,
    LessonVersion,
    Module,
    Upload,
)
from coursehub.services.models.forums import (
    Announcement,
    ForumPost,
    ForumRead,
    ForumReport,
    ForumThread,
)
from coursehub.services.models.gradebook import GradeCategory, QuizCategory
from coursehub.services.models.grading import (
    ArchivedGrade,
    CourseGrader,
    FeedbackRelease,
    GradeChange,
    GradingRun,
    GradingRunItem,
    GradingRunKind,
    ManualScore,
    ReusableComment,
    RubricApplication,
    RubricItem,
    ScoreOverride,
)
from coursehub.services.models.learning import LessonProgress, Note
from coursehub.services.models.messages import Conversation, DirectMessage
from coursehub.services.models.notebook_runs import NotebookCheck
from coursehub.services.models.notify_settings import (
    EmailChoice,
    EmailDelivery,
    NotificationDigest,
    NotificationOnce,
    NotificationPreference,
)
from coursehub.services.models.quizzes import (
    AnswerPolicy,
    AnswerState,
    QuestionKind,
    Quiz,
    QuizAnswer,
    QuizAttempt,
    QuizQuestion,
    QuizQuestionVariant,
    QuizSlot,
)
from coursehub.services.models.reports import (
    ReportNotebook,
    ReportRun,
    ReportRunState,
    ReportSchedule,
)
from coursehub.services.models.variants import AssignmentVariant, AssignmentVariantRule

__all__ = [
    "Account",
    "Announcement",
    "AnswerPolicy",
    "AnswerState",
    "ArchivedGrade",
    "Assignment",
    "AssignmentExtension",
    "AssignmentFile",
    "AssignmentVariant",
    "AssignmentVariantRule",
    "Base",
    "Category",
    "Conversation",
    "Course",
    "CourseGrader",
    "CourseStatus",
    "DirectMessage",
    "EmailChoice",
    "EmailDelivery",
    "Enrollment",
    "FeedbackRelease",
    "ForumPost",
    "ForumRead",
    "ForumReport",
    "ForumThread",
    "Grade",
    "GradeCategory",
    "GradeChange",
    "GradingRun",
    "GradingRunItem",
    "GradingRunKind",
    "LatePenaltyUnit",
    "Lesson",
    "LessonFile",
    "LessonKind",
    "LessonProgress",
    "LessonVersion",
    "LoginThrottle",
    "ManualScore",
    "Module",
    "Note",
    "NotebookCheck",
    "Notification",
    "NotificationDigest",
    "NotificationOnce",
    "NotificationPreference",
    "PasswordReset",
    "QuestionKind",
    "Quiz",
    "QuizAnswer",
    "QuizAttempt",
    "QuizCategory",
    "QuizQuestion",
    "QuizQuestionVariant",
    "QuizSlot",
    "ReportNotebook",
    "ReportRun",
    "ReportRunState",
    "ReportSchedule",
    "ReusableComment",
    "RoleChange",
    "RubricApplication",
    "RubricItem",
    "ScoreOverride",
    "Submission",
    "SubmissionStatus",
    "Upload",
    "utcnow",
]
