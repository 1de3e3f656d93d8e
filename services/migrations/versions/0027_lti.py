"""LTI 1.3: registered platforms, CourseHub's signing keys, people linked by a platform's sub

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 20:10:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_platforms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(500), nullable=False),
        sa.Column("deployment_ids", JSONB, nullable=False),
        sa.Column("auth_login_url", sa.String(2000), nullable=False),
        sa.Column("auth_token_url", sa.String(2000), nullable=False),
        sa.Column("key_set_url", sa.String(2000), nullable=False),
        sa.Column(
            "course_id", sa.Integer, sa.ForeignKey("courses.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("issuer", "client_id"),
    )
    op.create_table(
        "lti_tool_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kid", sa.String(100), nullable=False, unique=True),
        sa.Column("private_key_pem", sa.Text, nullable=False),
        sa.Column("public_jwk", JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "lti_identities",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "platform_id",
            sa.Integer,
            sa.ForeignKey("lti_platforms.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_launch_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("platform_id", "subject"),
    )
    op.create_index("ix_lti_identities_account_id", "lti_identities", ["account_id"])


def downgrade() -> None:
    op.drop_table("lti_identities")
    op.drop_table("lti_tool_keys")
    op.drop_table("lti_platforms")
