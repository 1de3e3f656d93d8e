"""profiles, emailed account links, data exports, support tickets

``profiles``: bio, pronouns, time zone, language and avatar of an account.
``account_links``: single-use emailed links (confirm a new email, delete the account).
``data_exports``: "download my data" requests (one queued per person at a time).
``support_tickets`` and ``support_replies``: support requests and their conversation.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 19:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _now() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def _account(name: str = "account_id", ondelete: str = "CASCADE", **kw: object) -> sa.Column:
    return sa.Column(name, sa.Integer, sa.ForeignKey("accounts.id", ondelete=ondelete), **kw)


def upgrade() -> None:
    op.create_table(
        "profiles",
        _account(primary_key=True),
        sa.Column("bio", sa.Text, nullable=False, server_default=""),
        sa.Column("pronouns", sa.String(40), nullable=False, server_default=""),
        sa.Column("time_zone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("language", sa.String(16), nullable=False, server_default="en"),
        sa.Column("avatar_upload_id", sa.Integer, sa.ForeignKey("uploads.id", ondelete="SET NULL")),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "account_links",
        sa.Column("id", sa.Integer, primary_key=True),
        _account(nullable=False, index=True),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("new_email", sa.String(320)),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        _now(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "data_exports",
        sa.Column("id", sa.Integer, primary_key=True),
        _account(nullable=False, index=True),
        sa.Column("state", sa.String(20), nullable=False, server_default="queued"),
        sa.Column("token_sha256", sa.String(64), unique=True),
        sa.Column("storage_name", sa.String(100)),
        sa.Column("size", sa.Integer),
        sa.Column("error", sa.Text),
        _now(),
        sa.Column("ready_at", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "data_exports_one_queued",
        "data_exports",
        ["account_id"],
        unique=True,
        postgresql_where=sa.text("state = 'queued'"),
    )
    op.create_table(
        "support_tickets",
        sa.Column("id", sa.Integer, primary_key=True),
        _account(ondelete="SET NULL", index=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("page_link", sa.String(2000), nullable=False, server_default=""),
        sa.Column(
            "screenshot_upload_id", sa.Integer, sa.ForeignKey("uploads.id", ondelete="SET NULL")
        ),
        sa.Column("status", sa.String(20), nullable=False, server_default="open", index=True),
        _account("assignee_id", ondelete="SET NULL"),
        _now(),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "support_replies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("support_tickets.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        _account("author_id", ondelete="SET NULL"),
        sa.Column("body", sa.Text, nullable=False),
        _now(),
    )


def downgrade() -> None:
    op.drop_table("support_replies")
    op.drop_table("support_tickets")
    op.drop_table("data_exports")
    op.drop_table("account_links")
    op.drop_table("profiles")
