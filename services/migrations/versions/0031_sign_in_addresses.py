"""Sign-in history keeps the address the proxy saw each sign-in come from.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 20:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sign_ins", sa.Column("address", sa.String(45), nullable=False, server_default="")
    )


def downgrade() -> None:
    op.drop_column("sign_ins", "address")
