"""analytics in the viewer's time zone and the instructor's at-risk threshold

``analytics_course_days`` gains ``time_zone`` (part of its key): a course's days are counted
in UTC and in each time zone its staff and the administrators have in their profiles, so a
viewer sees days as they live them. ``analytics_settings`` gains ``inactive_days``: how many
days without activity put a student at risk in that course (14 unless the instructor says).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 19:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "analytics_course_days",
        sa.Column("time_zone", sa.String(64), nullable=False, server_default="UTC"),
    )
    op.drop_constraint("analytics_course_days_pkey", "analytics_course_days", type_="primary")
    op.create_primary_key(
        "analytics_course_days_pkey", "analytics_course_days", ["course_id", "time_zone", "day"]
    )
    op.add_column(
        "analytics_settings",
        sa.Column("inactive_days", sa.Integer, nullable=False, server_default="14"),
    )


def downgrade() -> None:
    op.drop_column("analytics_settings", "inactive_days")
    op.execute("DELETE FROM analytics_course_days WHERE time_zone <> 'UTC'")
    op.drop_constraint("analytics_course_days_pkey", "analytics_course_days", type_="primary")
    op.create_primary_key(
        "analytics_course_days_pkey", "analytics_course_days", ["course_id", "day"]
    )
    op.drop_column("analytics_course_days", "time_zone")
