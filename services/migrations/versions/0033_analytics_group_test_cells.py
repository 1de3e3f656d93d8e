"""The autograded test cells' rollups counted per group (``enrollments.group_name``), for the
analytics' group filter.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 20:46:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "analytics_group_test_cells",
        sa.Column(
            "course_id",
            sa.Integer,
            sa.ForeignKey("courses.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("group_name", sa.String(60), primary_key=True),
        sa.Column(
            "assignment_id",
            sa.Integer,
            sa.ForeignKey("assignments.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("grade_id", sa.String(200), primary_key=True),
        _count("position"),
        _count("attempts"),
        _count("passed"),
        _count("students"),
        _count("students_passed"),
        sa.Column("mean_attempts_to_pass", sa.Float),
        sa.Column("median_hours_to_pass", sa.Float),
        sa.Column("failures", JSONB, nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    op.drop_table("analytics_group_test_cells")
