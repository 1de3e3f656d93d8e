"""LTI 1.3 grade passback: the scores sent to the LMS's line items (the passback log)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_score_posts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "line_item_id",
            sa.Integer,
            sa.ForeignKey("lti_line_items.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("score_given", sa.Float, nullable=False),
        sa.Column("score_maximum", sa.Float, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_lti_score_posts_line_item_id", "lti_score_posts", ["line_item_id"])


def downgrade() -> None:
    op.drop_table("lti_score_posts")
