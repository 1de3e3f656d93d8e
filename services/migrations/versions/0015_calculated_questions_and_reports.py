"""calculated quiz questions' pre-generated variants, and report notebooks for staff

``quiz_question_variants``: values and answers a calculated question's generator notebook
produced for one seed, taken by at most one attempt (``answer_id``).
``report_notebooks`` / ``report_runs``: a course's report notebooks, their schedule and every
run kept (its state, the executed notebook and a sentence for staff).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 16:45:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quiz_question_variants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "question_id",
            sa.Integer,
            sa.ForeignKey("quiz_questions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("generator_hash", sa.String(64), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("values", JSONB, nullable=False),
        sa.Column("answer", JSONB, nullable=False),
        sa.Column("answer_id", sa.Integer, sa.ForeignKey("quiz_answers.id", ondelete="SET NULL")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("question_id", "generator_hash", "seed"),
    )
    op.create_index(
        "quiz_question_variants_free_idx",
        "quiz_question_variants",
        ["question_id", "generator_hash"],
        postgresql_where=sa.text("answer_id IS NULL"),
    )
    op.create_table(
        "report_notebooks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "course_id",
            sa.Integer,
            sa.ForeignKey("courses.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("notebook", JSONB, nullable=False),
        sa.Column("schedule", sa.String(10), nullable=False, server_default="none"),
        sa.Column("with_names", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("time_limit_seconds", sa.Integer, nullable=False, server_default="300"),
        sa.Column("pseudonym_key", sa.String(64), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True)),
        sa.Column("created_by_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="SET NULL")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_table(
        "report_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "report_id",
            sa.Integer,
            sa.ForeignKey("report_notebooks.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("trigger", sa.String(12), nullable=False),
        sa.Column("with_names", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("problem", sa.Text, nullable=False, server_default=""),
        sa.Column("notebook", JSONB),
        sa.Column("seconds", sa.Float),
        sa.Column("requested_by_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="SET NULL")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("report_runs")
    op.drop_table("report_notebooks")
    op.drop_table("quiz_question_variants")
