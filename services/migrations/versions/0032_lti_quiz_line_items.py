"""LTI line items for quizzes too: a line item is an assignment's or a quiz's

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 20:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("lti_line_items", "assignment_id", nullable=True)
    op.add_column(
        "lti_line_items",
        sa.Column("quiz_id", sa.Integer, sa.ForeignKey("quizzes.id", ondelete="CASCADE")),
    )
    op.create_index("ix_lti_line_items_quiz_id", "lti_line_items", ["quiz_id"])
    op.create_unique_constraint(
        "lti_line_items_lti_context_id_quiz_id_key", "lti_line_items", ["lti_context_id", "quiz_id"]
    )
    op.create_check_constraint(
        "lti_line_items_one_assessment",
        "lti_line_items",
        "(assignment_id IS NULL) <> (quiz_id IS NULL)",
    )


def downgrade() -> None:
    op.execute("DELETE FROM lti_line_items WHERE quiz_id IS NOT NULL")
    op.drop_constraint("lti_line_items_one_assessment", "lti_line_items")
    op.drop_constraint("lti_line_items_lti_context_id_quiz_id_key", "lti_line_items")
    op.drop_index("ix_lti_line_items_quiz_id", "lti_line_items")
    op.drop_column("lti_line_items", "quiz_id")
    op.alter_column("lti_line_items", "assignment_id", nullable=False)
