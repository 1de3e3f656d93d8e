"""assignment variants: per-student values of a parameterised assignment (papermill)

``assignment_variant_rules``: one per assignment with a ``parameters`` cell: how values are
drawn (declared ranges or lists with a seed, or one CSV row per student).
``assignment_variants``: the values each student got (recorded at their first fetch or at
release), the solution's expected values for that variant once computed, and when.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 17:15:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignment_variant_rules",
        sa.Column(
            "assignment_id",
            sa.Integer,
            sa.ForeignKey("assignments.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("rule", JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "assignment_variants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "assignment_id",
            sa.Integer,
            sa.ForeignKey("assignments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("parameters", JSONB, nullable=False),
        sa.Column("expected", JSONB),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("assignment_id", "account_id"),
    )


def downgrade() -> None:
    op.drop_table("assignment_variants")
    op.drop_table("assignment_variant_rules")
