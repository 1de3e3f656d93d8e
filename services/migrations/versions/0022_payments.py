"""payments: course prices in other currencies, payments, handled provider events

``course_prices``: a paid course's price in a currency other than the default.
``payments``: one per completed checkout, numbered by ``payment_invoice_numbers``.
``payment_events``: provider events already handled (webhooks are idempotent by event id).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 19:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

STATUS = sa.Enum("PAID", "REFUNDED", name="payment_status")


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("payment_invoice_numbers", start=1)))
    op.create_table(
        "course_prices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "course_id",
            sa.Integer,
            sa.ForeignKey("courses.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_cents", sa.Integer, nullable=False),
        sa.UniqueConstraint("course_id", "currency"),
        sa.CheckConstraint("amount_cents > 0", name="course_prices_positive"),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "invoice_number",
            sa.Integer,
            server_default=sa.text("nextval('payment_invoice_numbers')"),
            nullable=False,
            unique=True,
        ),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("checkout_id", sa.String(255), nullable=False, unique=True),
        sa.Column("payment_ref", sa.String(255), nullable=False, index=True),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", ondelete="SET NULL"),
            index=True,
        ),
        sa.Column(
            "course_id", sa.Integer, sa.ForeignKey("courses.id", ondelete="SET NULL"), index=True
        ),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_cents", sa.Integer, nullable=False),
        sa.Column("discount_cents", sa.Integer, nullable=False, server_default="0"),
        sa.Column("promotion_code", sa.String(100), nullable=False, server_default=""),
        sa.Column("email", sa.String(320), nullable=False, server_default=""),
        sa.Column("course_title", sa.String(200), nullable=False, server_default=""),
        sa.Column("status", STATUS, nullable=False, server_default="PAID"),
        sa.Column(
            "paid_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("refund_requested_at", sa.DateTime(timezone=True)),
        sa.Column(
            "refund_requested_by_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", ondelete="SET NULL"),
        ),
        sa.Column("refunded_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "payment_events",
        sa.Column("provider", sa.String(20), primary_key=True),
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
    )


def downgrade() -> None:
    op.drop_table("payment_events")
    op.drop_table("payments")
    op.drop_table("course_prices")
    STATUS.drop(op.get_bind(), checkfirst=True)
    op.execute(sa.schema.DropSequence(sa.Sequence("payment_invoice_numbers")))
