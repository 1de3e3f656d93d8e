"""lessons: "show code cells" per lesson, and the data files uploaded with a lesson

``lessons.show_code``: whether the player shows a notebook lesson's code cells (read-only,
with their outputs) or only the outputs (Voilà's ``strip_sources``, the default).
``lesson_files`` holds each data file uploaded with a lesson by its path relative to the
lesson's working directory (``data/weather.csv``), its bytes and size; the lesson kernel
finds them there, read-only.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "lessons",
        sa.Column("show_code", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_table(
        "lesson_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(["lesson_id"], ["lessons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lesson_id", "path"),
    )


def downgrade() -> None:
    op.drop_table("lesson_files")
    op.drop_column("lessons", "show_code")
