"""analytics rollups: figures of each course kept by the job queue, read by analytics pages

``analytics_settings``: whether a course's students see the class median of grades.
``analytics_courses``, ``analytics_course_days``, ``analytics_lessons``, ``analytics_items``,
``analytics_test_cells``, ``analytics_students``: a course's figures as the last refresh
computed them; ``analytics_platform_days``: the platform's figures per day.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 16:50:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def _course(primary_key: bool = False) -> sa.Column:
    return sa.Column(
        "course_id",
        sa.Integer,
        sa.ForeignKey("courses.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "analytics_settings",
        _course(primary_key=True),
        sa.Column("show_class_median", sa.Boolean, nullable=False, server_default="false"),
    )
    op.create_table(
        "analytics_courses",
        _course(primary_key=True),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        # When a page last asked for a refresh (one job per course at a time).
        sa.Column("requested_at", sa.DateTime(timezone=True)),
        _count("students"),
        _count("completed"),
        _count("active_7_days"),
        sa.Column("median_progress", sa.Float, nullable=False, server_default="0"),
        _count("at_risk"),
    )
    op.create_table(
        "analytics_course_days",
        _course(primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        _count("enrolments"),
        _count("active_students"),
        _count("lesson_completions"),
        _count("course_completions"),
        _count("submissions"),
    )
    op.create_table(
        "analytics_lessons",
        sa.Column(
            "lesson_id",
            sa.Integer,
            sa.ForeignKey("lessons.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _course(),
        _count("started"),
        _count("completed"),
        sa.Column("seconds_total", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("median_seconds", sa.Float),
        sa.Column("video_buckets", JSONB),
    )
    op.create_index("analytics_lessons_course_idx", "analytics_lessons", ["course_id"])
    op.create_table(
        "analytics_items",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("item_id", sa.Integer, primary_key=True),
        _course(),
        sa.Column("title", sa.String(200), nullable=False),
        _count("students"),
        sa.Column("median_percent", sa.Float),
        sa.Column("mean_percent", sa.Float),
        sa.Column("histogram", JSONB, nullable=False, server_default="[]"),
    )
    op.create_index("analytics_items_course_idx", "analytics_items", ["course_id"])
    op.create_table(
        "analytics_test_cells",
        sa.Column(
            "assignment_id",
            sa.Integer,
            sa.ForeignKey("assignments.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("grade_id", sa.String(200), primary_key=True),
        _course(),
        _count("position"),
        _count("attempts"),
        _count("passed"),
        _count("students"),
        _count("students_passed"),
        sa.Column("mean_attempts_to_pass", sa.Float),
        sa.Column("median_hours_to_pass", sa.Float),
        sa.Column("failures", JSONB, nullable=False, server_default="[]"),
    )
    op.create_index("analytics_test_cells_course_idx", "analytics_test_cells", ["course_id"])
    op.create_table(
        "analytics_students",
        _course(primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        _count("lessons_completed"),
        sa.Column("last_active_at", sa.DateTime(timezone=True)),
        sa.Column("mean_grade_percent", sa.Float),
        sa.Column("at_risk", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("reasons", JSONB, nullable=False, server_default="[]"),
    )
    op.create_index(
        "analytics_students_at_risk_idx",
        "analytics_students",
        ["course_id", "last_active_at"],
        postgresql_where=sa.text("at_risk"),
    )
    op.create_table(
        "analytics_platform_days",
        sa.Column("day", sa.Date, primary_key=True),
        _count("users"),
        _count("new_users"),
        _count("daily_active"),
        _count("weekly_active"),
        _count("monthly_active"),
        _count("enrolments"),
        _count("completions"),
    )


def downgrade() -> None:
    for table in (
        "analytics_platform_days",
        "analytics_students",
        "analytics_test_cells",
        "analytics_items",
        "analytics_lessons",
        "analytics_course_days",
        "analytics_courses",
        "analytics_settings",
    ):
        op.drop_table(table)
