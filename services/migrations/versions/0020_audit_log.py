"""audit log: the one append-only record of administrative and grading changes

``audit_log``: who (id and name kept, no foreign key, so entries outlive accounts), what
(a dotted action), which thing (kind and id), before/after JSON, a reason, the request id.
A trigger refuses UPDATE, DELETE and TRUNCATE on it. The role changes kept until now in
``role_changes`` move into it, and that table goes.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 19:25:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ENUM, JSONB

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

ROLE = ENUM("STUDENT", "INSTRUCTOR", "ADMIN", name="account_role", create_type=False)

REFUSE = """
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
"""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor_id", sa.BigInteger),
        sa.Column("actor_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target_kind", sa.String(40), nullable=False),
        sa.Column("target_id", sa.String(100), nullable=False, server_default=""),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("request_id", sa.String(100)),
        sa.Column("course_id", sa.Integer),
    )
    op.create_index("audit_log_target_idx", "audit_log", ["target_kind", "target_id", "at"])
    op.create_index("audit_log_at_idx", "audit_log", ["at"])
    op.create_index("audit_log_actor_idx", "audit_log", ["actor_id", "at"])
    op.execute(
        """
        INSERT INTO audit_log (at, actor_id, actor_name, action, target_kind, target_id,
                               before, after)
        SELECT rc.changed_at, rc.changed_by_id, coalesce(a.username, ''), 'role.change',
               'account', rc.account_id::text,
               jsonb_build_object('role', rc.old_role::text),
               jsonb_build_object('role', rc.new_role::text)
        FROM role_changes rc LEFT JOIN accounts a ON a.id = rc.changed_by_id
        ORDER BY rc.id
        """
    )
    op.drop_table("role_changes")
    op.execute(REFUSE)


def downgrade() -> None:
    op.create_table(
        "role_changes",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("changed_by_id", sa.Integer, sa.ForeignKey("accounts.id")),
        sa.Column(
            "old_role",
            ROLE,
            nullable=False,
        ),
        sa.Column(
            "new_role",
            ROLE,
            nullable=False,
        ),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION audit_log_refuse_change()")
