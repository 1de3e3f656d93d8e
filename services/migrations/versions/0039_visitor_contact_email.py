"""the address a visitor's contact request is answered at

``support_tickets.contact_email`` is the address given on the public contact form
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
    op.add_column("support_tickets", sa.Column("contact_email", sa.String(320), nullable=True))


def downgrade() -> None:
    op.drop_column("support_tickets", "contact_email")
