"""quizzes: when students see the correct answers

``quizzes.show_answers``: ``AFTER_EACH_ATTEMPT``, ``AFTER_LAST_ATTEMPT`` (the default: once
the student has no attempt left, or the quiz is past its due date), ``AFTER_DUE_DATE`` or
``NEVER``. Existing quizzes get the default, so no answer is shown while attempts remain.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

CHOICES = ("AFTER_EACH_ATTEMPT", "AFTER_LAST_ATTEMPT", "AFTER_DUE_DATE", "NEVER")


def upgrade() -> None:
    policy = sa.Enum(*CHOICES, name="quiz_answer_policy")
    policy.create(op.get_bind(), checkfirst=True)
    op.add_column(
        "quizzes",
        sa.Column(
            "show_answers",
            policy,
            server_default="AFTER_LAST_ATTEMPT",
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("quizzes", "show_answers")
    sa.Enum(name="quiz_answer_policy").drop(op.get_bind(), checkfirst=True)
