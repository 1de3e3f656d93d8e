"""administration: site settings, course review history, sign-ins, suspensions, report exports

``site_settings``: settings an administrator changed (the rest take their defaults).
``course_review_events``: submitted / returned / approved / unpublished / archived, with the
fingerprint of what was submitted. ``sign_ins``: each successful sign-in. ``suspensions``:
accounts that cannot sign in. ``admin_report_exports``: large reports built by a job.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 19:35:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def _account(name: str, *, cascade: bool = False, **kw: object) -> sa.Column:
    return sa.Column(
        name,
        sa.Integer,
        sa.ForeignKey("accounts.id", ondelete="CASCADE" if cascade else "SET NULL"),
        **kw,
    )


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "site_settings",
        sa.Column("key", sa.String(60), primary_key=True),
        sa.Column("value", JSONB, nullable=False),
        _now("updated_at"),
        _account("updated_by_id"),
    )
    op.create_table(
        "course_review_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "course_id",
            sa.Integer,
            sa.ForeignKey("courses.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event", sa.String(20), nullable=False),
        _account("by_id"),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("fingerprint", sa.String(64), nullable=False, server_default=""),
        _now("at"),
    )
    op.create_index("course_review_events_course_idx", "course_review_events", ["course_id", "id"])
    op.create_table(
        "sign_ins",
        sa.Column("id", sa.BigInteger, primary_key=True),
        _account("account_id", cascade=True, nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        _now("at"),
    )
    op.create_index("sign_ins_account_idx", "sign_ins", ["account_id", "at"])
    op.create_table(
        "suspensions",
        _account("account_id", cascade=True, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        _account("by_id"),
        _now("at"),
    )
    op.create_table(
        "admin_report_exports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("params", JSONB, nullable=False),
        sa.Column("state", sa.String(20), nullable=False, server_default="queued"),
        _account("requested_by_id"),
        sa.Column("rows", sa.Integer),
        sa.Column("csv", sa.Text),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        _now("created_at"),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    for table in (
        "admin_report_exports",
        "suspensions",
        "sign_ins",
        "course_review_events",
        "site_settings",
    ):
        op.drop_table(table)
