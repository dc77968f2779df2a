"""Guards for the audit chain's end and against TRUNCATE

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24

The audit log's rows were protected by row triggers (0008), but its end ``audit_head`` was not: cut
the tail and move the head back, or delete everything and the head, and nothing in the database
objected. Now the head only moves forward (a new last row), is never deleted and is one row
(``id = 1``). On PostgreSQL a statement-level trigger refuses TRUNCATE of both tables (TRUNCATE
bypasses row triggers). ``meike.services.audit_guard`` checks that these triggers and those of
0008 are in place (issue 14/16).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HEAD_MESSAGE = '审计日志的链尾只能前进，不能删除或回退'

SQLITE = (
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    f"BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}'); END",
    "CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head "
    "WHEN NEW.id <> OLD.id OR NEW.last_id <= OLD.last_id "
    f"BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}'); END",
    "CREATE TRIGGER audit_head_one_row BEFORE INSERT ON audit_head "
    "WHEN NEW.id <> 1 OR EXISTS (SELECT 1 FROM audit_head) "
    f"BEGIN SELECT RAISE(ABORT, '{HEAD_MESSAGE}'); END",
)

POSTGRES = (
    "CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.last_id > OLD.last_id THEN RETURN NEW; END IF; "
    "IF TG_OP = 'INSERT' AND NEW.id = 1 AND NOT EXISTS (SELECT 1 FROM audit_head) THEN RETURN NEW; END IF; "
    f"RAISE EXCEPTION '{HEAD_MESSAGE}'; END $$",
    "CREATE TRIGGER audit_head_forward_only BEFORE INSERT OR UPDATE OR DELETE ON audit_head "
    "FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE if dialect == 'sqlite' else POSTGRES if dialect == 'postgresql' else ():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for name in ('audit_head_no_delete', 'audit_head_forward_only', 'audit_head_one_row'):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_head_forward_only ON audit_head")
        op.execute("DROP FUNCTION IF EXISTS audit_head_forward_only()")
