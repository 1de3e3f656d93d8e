"""gradebook categories: weighted gradebook categories

Grade categories of a course (weight, drop lowest N), the category of each assignment
(``assignments.category_id``) and of each categorised quiz (``quiz_categories``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 21:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grade_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("drop_lowest", sa.Integer(), server_default="0", nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("course_id", "name"),
    )
    op.create_index(
        op.f("ix_grade_categories_course_id"), "grade_categories", ["course_id"], unique=False
    )
    op.create_table(
        "quiz_categories",
        sa.Column("quiz_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["grade_categories.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["quiz_id"], ["quizzes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("quiz_id"),
    )
    op.create_index(
        op.f("ix_quiz_categories_category_id"), "quiz_categories", ["category_id"], unique=False
    )
    op.add_column("assignments", sa.Column("category_id", sa.Integer(), nullable=True))
    op.create_index(
        op.f("ix_assignments_category_id"), "assignments", ["category_id"], unique=False
    )
    op.create_foreign_key(
        "assignments_category_id_fkey",
        "assignments",
        "grade_categories",
        ["category_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint("assignments_category_id_fkey", "assignments", type_="foreignkey")
    op.drop_index(op.f("ix_assignments_category_id"), table_name="assignments")
    op.drop_column("assignments", "category_id")
    op.drop_table("quiz_categories")  # its index goes with it
    op.drop_table("grade_categories")
