"""when a person unlinked Google sign-in

``accounts.google_unlinked_at`` is set when a person unlinks their Google identity in
Settings: from then on a Google identity whose verified address is theirs no longer links
itself to their account at sign-in (linking again from Settings clears it).

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-08 00:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("google_unlinked_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("accounts", "google_unlinked_at")
