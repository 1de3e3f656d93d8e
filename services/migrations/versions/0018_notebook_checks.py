"""notebook checks: a lesson version's publish check (papermill run in the sandbox)

``notebook_checks``: one per checked lesson version: whether it ran, what the author saw
(per-cell run times, the failing cell and its traceback, missing files, widgets), the
executed notebook, and whether it was published anyway after failing.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 16:58:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notebook_checks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "lesson_version_id",
            sa.Integer,
            sa.ForeignKey("lesson_versions.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("published_anyway", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("summary", JSONB, nullable=False),
        sa.Column("executed", JSONB),
        sa.Column("checked_by_id", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("notebook_checks")
