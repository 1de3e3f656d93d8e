"""certificates: each course's certificate rule, and the certificates issued by it

``certificate_rules``: a course's rule (all required lessons complete, optionally a minimum
weighted grade and a date before which none is issued), its title, signatory and template.
``certificates``: one per student and course, with a permanent unguessable ``public_id``,
the PDF (rendered by a job), the signed credential, and revocation or a regrade that put the
holder below the bar (staff decide; nothing is revoked silently).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 16:55:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificate_rules",
        sa.Column(
            "course_id",
            sa.Integer,
            sa.ForeignKey("courses.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("min_grade", sa.Float),
        sa.Column("not_before", sa.DateTime(timezone=True)),
        sa.Column("signatory_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("signatory_title", sa.String(200), nullable=False, server_default=""),
        sa.Column("signature_png", sa.LargeBinary),
        sa.Column("template_html", sa.Text),
        sa.Column("page_size", sa.String(10), nullable=False, server_default="A4"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(40), nullable=False, unique=True),
        sa.Column(
            "course_id",
            sa.Integer,
            sa.ForeignKey("courses.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("holder_name", sa.String(200), nullable=False),
        sa.Column("course_title", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("grade", sa.Float),
        sa.Column("show_grade", sa.Boolean, nullable=False, server_default="false"),
        sa.Column(
            "issued_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("pdf", sa.LargeBinary),
        sa.Column("pdf_error", sa.Text),
        sa.Column("credential", JSONB),
        sa.Column("below_bar_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_reason", sa.Text),
        sa.UniqueConstraint("course_id", "account_id"),
    )


def downgrade() -> None:
    op.drop_table("certificates")
    op.drop_table("certificate_rules")
