"""assignment source checks: an nbgrader source's solution and released versions run at upload

``assignment_source_checks``: one per uploaded version of an assignment's source (its
notebook's and data files' digests): queued, running, done or error; whether every test cell
behaved (passes with the solution, the autograded ones fail in the released version), the
cells that did not, and both executed notebooks.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 19:25:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignment_source_checks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "assignment_id",
            sa.Integer,
            sa.ForeignKey("assignments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("files_sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("ok", sa.Boolean),
        sa.Column("summary", JSONB),
        sa.Column("problem", sa.Text),
        sa.Column("solution_executed", JSONB),
        sa.Column("released_executed", JSONB),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint(
            "assignment_id",
            "source_sha256",
            "files_sha256",
            name="assignment_source_checks_version_key",
        ),
    )
    op.create_index(
        "assignment_source_checks_digest_idx",
        "assignment_source_checks",
        ["source_sha256", "files_sha256"],
    )


def downgrade() -> None:
    op.drop_index("assignment_source_checks_digest_idx", "assignment_source_checks")
    op.drop_table("assignment_source_checks")
