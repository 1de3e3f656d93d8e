"""analytics rollups: figures of each course kept by the job queue, read by analytics pages

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 16:50:00
"""

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
