"""index enrollments by course, for catalog counts and instructors' figures

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 18:20:00
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_enrollments_course_id"), "enrollments", ["course_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_enrollments_course_id"), table_name="enrollments")
