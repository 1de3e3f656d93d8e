"""assignment files: the data files of an assignment, beside its notebook

``assignment_files`` holds each file of an assignment by its relative path (``data.txt``,
``data/weather.csv``), its bytes and size; one row per assignment and path, gone with the
assignment. Grading jobs get them read-only beside the notebook, students with the notebook.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 14:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignment_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assignment_id", "path"),
    )


def downgrade() -> None:
    op.drop_table("assignment_files")
