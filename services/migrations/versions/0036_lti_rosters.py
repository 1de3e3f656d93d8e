"""LTI roster sync (Names and Role Provisioning Services): each LMS context's memberships
address with its last sync (when, how many added, updated, left and failed, or why it
failed), and the context's members as the roster last listed them (active, or left with
the time they left: their enrolment ended, their account and work kept).

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07 22:58:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_rosters",
        sa.Column(
            "lti_context_id",
            sa.Integer,
            sa.ForeignKey("lti_contexts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("memberships_url", sa.String(2000), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_synced_at", sa.DateTime(timezone=True)),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("left", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
    )
    op.create_table(
        "lti_roster_members",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "lti_context_id",
            sa.Integer,
            sa.ForeignKey("lti_contexts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("roles", postgresql.JSONB, nullable=False),
        sa.Column("place", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column(
            "joined_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("left_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("lti_context_id", "account_id"),
    )
    op.create_index("ix_lti_roster_members_account_id", "lti_roster_members", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_lti_roster_members_account_id", "lti_roster_members")
    op.drop_table("lti_roster_members")
    op.drop_table("lti_rosters")
