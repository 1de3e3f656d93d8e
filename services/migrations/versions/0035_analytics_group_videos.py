"""video watch coverage per group: ``analytics_group_lessons`` gains the video figures the
course's ``analytics_lessons`` has (students per tenth watched, plays per twentieth,
students re-watching each twentieth), counted among one group's students, so the analytics'
group filter shows a group's own video coverage

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07 22:55:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("analytics_group_lessons", sa.Column("video_buckets", JSONB))
    op.add_column("analytics_group_lessons", sa.Column("video_views", JSONB))
    op.add_column("analytics_group_lessons", sa.Column("video_rewatched", JSONB))


def downgrade() -> None:
    op.drop_column("analytics_group_lessons", "video_rewatched")
    op.drop_column("analytics_group_lessons", "video_views")
    op.drop_column("analytics_group_lessons", "video_buckets")
