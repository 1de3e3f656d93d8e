"""Groups (sections) of a course's students: a group name per enrolment, set by the
instructor on the course's students page and used by the analytics' group filter.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 20:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enrollments", sa.Column("group_name", sa.String(60), nullable=True))
    op.create_index(
        "ix_enrollments_course_id_group_name", "enrollments", ["course_id", "group_name"]
    )


def downgrade() -> None:
    op.drop_index("ix_enrollments_course_id_group_name", table_name="enrollments")
    op.drop_column("enrollments", "group_name")
