"""grade history in the audit log only; the site logo is an uploaded image

``grade_changes`` kept each attempt's grading changes while the audit log kept the same
changes again. The audit log is now the one record: rows of ``grade_changes`` that have no
twin in it (changes made before the audit log existed) move into it as ``grade.<action>``
entries about the submission (the grade cell, when there is one, under ``grade_id`` in
before and after), and the table goes. Entries already in the log stay as they are: it is
append-only.

``site_images`` holds the uploaded logo (PNG or JPEG bytes with their checksum); the old
``logo_url`` setting goes, and the log says so.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07 23:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def _with_cell(column: str) -> str:
    return (
        f"CASE WHEN gc.grade_id IS NOT NULL AND jsonb_typeof(gc.{column}) = 'object' "
        f"THEN gc.{column} || jsonb_build_object('grade_id', gc.grade_id) ELSE gc.{column} END"
    )


MOVE = f"""
INSERT INTO audit_log (at, actor_id, actor_name, action, target_kind, target_id,
                       before, after, reason, course_id)
SELECT gc.changed_at, gc.changed_by_id, coalesce(a.username, ''), 'grade.' || gc.action,
       'submission', gc.submission_id::text, {_with_cell("before")}, {_with_cell("after")},
       gc.reason, asg.course_id
FROM grade_changes gc
LEFT JOIN accounts a ON a.id = gc.changed_by_id
LEFT JOIN submissions s ON s.id = gc.submission_id
LEFT JOIN assignments asg ON asg.id = s.assignment_id
WHERE NOT EXISTS (
    SELECT 1 FROM audit_log twin
    WHERE twin.action = 'grade.' || gc.action
      AND twin.target_kind = 'submission'
      AND twin.target_id = gc.submission_id::text
      AND (gc.changed_by_id IS NULL OR twin.actor_id = gc.changed_by_id)
      AND twin.at BETWEEN gc.changed_at - interval '1 minute'
                      AND gc.changed_at + interval '1 minute'
      AND twin.before IS NOT DISTINCT FROM gc.before
      AND twin.after IS NOT DISTINCT FROM gc.after
)
ORDER BY gc.changed_at, gc.id
"""

LOGO_URL_GONE = """
INSERT INTO audit_log (actor_name, action, target_kind, target_id, before, after, reason)
SELECT 'coursehub', 'settings.change', 'site_setting', 'logo_url', value, NULL,
       'The logo is an uploaded image now: upload it again under Site settings.'
FROM site_settings WHERE key = 'logo_url' AND value IS NOT NULL AND value <> '""'::jsonb
"""

# Downgrading brings the grading entries back into a table of their own (the log keeps them).
MOVE_BACK = """
INSERT INTO grade_changes (submission_id, grade_id, action, before, after, reason,
                           changed_by_id, changed_at)
SELECT s.id,
       coalesce(al.after ->> 'grade_id', al.before ->> 'grade_id'),
       substr(al.action, 7),
       CASE WHEN jsonb_typeof(al.before) = 'object' THEN al.before - 'grade_id' ELSE al.before END,
       CASE WHEN jsonb_typeof(al.after) = 'object' THEN al.after - 'grade_id' ELSE al.after END,
       al.reason, acc.id, al.at
FROM audit_log al
JOIN submissions s ON s.id::text = al.target_id
LEFT JOIN accounts acc ON acc.id = al.actor_id
WHERE al.target_kind = 'submission' AND al.action LIKE 'grade.%'
ORDER BY al.at, al.id
"""


def upgrade() -> None:
    op.execute(MOVE)
    op.drop_index("grade_changes_submission_idx", table_name="grade_changes")
    op.drop_table("grade_changes")
    op.execute(LOGO_URL_GONE)
    op.execute("DELETE FROM site_settings WHERE key = 'logo_url'")
    op.create_table(
        "site_images",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column(
            "uploaded_by_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="SET NULL")
        ),
        sa.Column(
            "uploaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_table("site_images")
    op.create_table(
        "grade_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("grade_id", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["changed_by_id"], ["accounts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "grade_changes_submission_idx",
        "grade_changes",
        ["submission_id", "changed_at"],
        unique=False,
    )
    op.execute(MOVE_BACK)
