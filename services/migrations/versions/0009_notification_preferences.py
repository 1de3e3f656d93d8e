"""notification preferences: notification preferences, email deliveries and digests

Each person's email choice per kind of notification (``notification_preferences``), the
email side of each notification (``email_deliveries``: sent alone or in a digest), the
daily digests (``notification_digests``, one per person and day) and the keys that make a
scheduled notification happen once (``notification_once``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 22:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

EMAIL_CHOICE = sa.Enum("OFF", "EMAIL", "DIGEST", name="email_choice")


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("email", EMAIL_CHOICE, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "kind"),
    )
    op.create_table(
        "notification_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        _created_at(),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "day"),
    )
    op.create_table(
        "email_deliveries",
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("channel", EMAIL_CHOICE, nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        _created_at(),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["digest_id"], ["notification_digests.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("notification_id"),
    )
    op.create_index(
        "email_deliveries_pending_idx",
        "email_deliveries",
        ["channel", "account_id", "sent_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_email_deliveries_digest_id"), "email_deliveries", ["digest_id"], unique=False
    )
    op.create_table(
        "notification_once",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "kind", "subject_id"),
    )


def downgrade() -> None:
    op.drop_table("notification_once")
    op.drop_table("email_deliveries")  # its indexes go with it
    op.drop_table("notification_digests")
    op.drop_table("notification_preferences")
    EMAIL_CHOICE.drop(op.get_bind(), checkfirst=True)
