"""LTI 1.3 Assignment and Grade Services: the LMS contexts that launched into a course (with
their line-items endpoint) and the line item of each assignment in each context

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 20:25:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_contexts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "platform_id",
            sa.Integer,
            sa.ForeignKey("lti_platforms.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("context_id", sa.String(255), nullable=False),
        sa.Column(
            "course_id", sa.Integer, sa.ForeignKey("courses.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("lineitems_url", sa.String(2000), nullable=True),
        sa.Column("ags_scopes", JSONB, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("platform_id", "context_id"),
    )
    op.create_table(
        "lti_line_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "lti_context_id",
            sa.Integer,
            sa.ForeignKey("lti_contexts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "assignment_id",
            sa.Integer,
            sa.ForeignKey("assignments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("lineitem_url", sa.String(2000), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("lti_context_id", "assignment_id"),
    )
    op.create_index("ix_lti_line_items_assignment_id", "lti_line_items", ["assignment_id"])


def downgrade() -> None:
    op.drop_table("lti_line_items")
    op.drop_table("lti_contexts")
