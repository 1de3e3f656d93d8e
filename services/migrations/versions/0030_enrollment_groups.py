"""Groups (sections) of a course's students: a group name per enrolment, set by the
instructor on the course's students page, and the analytics rollups counted per group
(funnel, grades, days) for the analytics' group filter.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 20:45:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def _keys() -> list[sa.Column]:
    return [
        sa.Column(
            "course_id",
            sa.Integer,
            sa.ForeignKey("courses.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("group_name", sa.String(60), primary_key=True),
    ]


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=False, server_default="0")


def upgrade() -> None:
    op.add_column("enrollments", sa.Column("group_name", sa.String(60), nullable=True))
    op.create_index(
        "ix_enrollments_course_id_group_name", "enrollments", ["course_id", "group_name"]
    )
    op.create_table(
        "analytics_group_lessons",
        *_keys(),
        sa.Column(
            "lesson_id",
            sa.Integer,
            sa.ForeignKey("lessons.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _count("started"),
        _count("completed"),
        sa.Column("seconds_total", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("median_seconds", sa.Float),
    )
    op.create_table(
        "analytics_group_items",
        *_keys(),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("item_id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        _count("students"),
        sa.Column("median_percent", sa.Float),
        sa.Column("mean_percent", sa.Float),
        sa.Column("histogram", JSONB, nullable=False, server_default="[]"),
    )
    op.create_table(
        "analytics_group_days",
        *_keys(),
        sa.Column("time_zone", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        _count("enrolments"),
        _count("active_students"),
        _count("lesson_completions"),
        _count("course_completions"),
        _count("submissions"),
    )


def downgrade() -> None:
    op.drop_table("analytics_group_days")
    op.drop_table("analytics_group_items")
    op.drop_table("analytics_group_lessons")
    op.drop_index("ix_enrollments_course_id_group_name", table_name="enrollments")
    op.drop_column("enrollments", "group_name")
