"""course images, and the address a visitor's contact request is answered at

``course_images`` holds the picture an instructor uploaded for a course (checked PNG, JPEG or
WebP bytes with their checksum and size); a course without one is shown with a generated
picture. ``support_tickets.contact_email`` is the address given on the public contact form
by a visitor who has no account (their ticket's ``account_id`` is empty).

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-07 23:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "course_images",
        sa.Column(
            "course_id",
            sa.Integer(),
            sa.ForeignKey("courses.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column(
            "uploaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column("support_tickets", sa.Column("contact_email", sa.String(320), nullable=True))


def downgrade() -> None:
    op.drop_column("support_tickets", "contact_email")
    op.drop_table("course_images")
