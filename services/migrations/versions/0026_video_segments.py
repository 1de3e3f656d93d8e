"""which parts of a video each student watched, and how often

``lesson_progress.video_views``: for a video lesson, how many times the student played each
twentieth of it (the player reports the segments it played). ``analytics_lessons`` gains
``video_views`` (plays per twentieth, all students) and ``video_rewatched`` (students who
played that twentieth more than once).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 19:40:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("lesson_progress", sa.Column("video_views", JSONB))
    op.add_column("analytics_lessons", sa.Column("video_views", JSONB))
    op.add_column("analytics_lessons", sa.Column("video_rewatched", JSONB))


def downgrade() -> None:
    op.drop_column("analytics_lessons", "video_rewatched")
    op.drop_column("analytics_lessons", "video_views")
    op.drop_column("lesson_progress", "video_views")
