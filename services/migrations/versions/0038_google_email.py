"""the address of a person's linked Google identity

``accounts.google_email`` is what Google said the linked identity's address was when it was
linked (or at its latest sign-in), so Settings can say which Google account signs in; the
link itself stays ``google_subject`` (Google's stable ``sub``).

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07 22:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("google_email", sa.String(320), nullable=True))


def downgrade() -> None:
    op.drop_column("accounts", "google_email")
