"""Reminders carry their customer's scope keys; call records say when a call was answered or missed

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23

Scoped dashboard counts joined every open reminder to its customer (809 ms for an own-department
user at 1M customers, issue 3). The customer's department, registrar, customer-service and
consultant ids are now copied onto ``reminders`` and read from one partial covering index. Triggers
keep the copies equal to the customer's on every insert and every change of those four columns,
whichever program or workstation writes, on SQLite and PostgreSQL alike.

Call records get ``answered_at`` and ``missed`` (issue 5: hang-up detection).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = ('department_id', 'registered_by_id', 'cs_staff_id', 'consultant_id')
COPIES = tuple(f'scope_{key}' for key in KEYS)
OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        for copy in COPIES:
            batch_op.add_column(sa.Column(copy, sa.Integer(), nullable=True))
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answered_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('missed', sa.Boolean(), server_default=sa.false(), nullable=False))

    copies, keys = ', '.join(COPIES), ', '.join(KEYS)
    op.execute(f"UPDATE reminders SET ({copies}) = (SELECT {keys} FROM customers "
               f"WHERE customers.id = reminders.customer_id)")
    op.create_index('ix_reminders_open_scope', 'reminders',
                    ['status', 'kind', 'due_date', *COPIES, 'assignee_id'], unique=False,
                    sqlite_where=OPEN, postgresql_where=OPEN)

    changed = ' OR '.join(f'NEW.{key} IS NOT OLD.{key}' for key in KEYS)
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        op.execute(f"CREATE TRIGGER reminders_copy_scope AFTER INSERT ON reminders BEGIN "
                   f"UPDATE reminders SET ({copies}) = (SELECT {keys} FROM customers WHERE id = NEW.customer_id) "
                   f"WHERE id = NEW.id; END")
        op.execute(f"CREATE TRIGGER reminders_recopy_scope AFTER UPDATE OF customer_id ON reminders BEGIN "
                   f"UPDATE reminders SET ({copies}) = (SELECT {keys} FROM customers WHERE id = NEW.customer_id) "
                   f"WHERE id = NEW.id; END")
        op.execute(f"CREATE TRIGGER customers_push_scope AFTER UPDATE OF {keys} ON customers "
                   f"WHEN {changed} BEGIN "
                   f"UPDATE reminders SET ({copies}) = ({', '.join(f'NEW.{k}' for k in KEYS)}) "
                   f"WHERE customer_id = NEW.id; END")
    elif bind.dialect.name == 'postgresql':
        into = ', '.join(f'NEW.{copy}' for copy in COPIES)
        op.execute(f"CREATE FUNCTION reminders_copy_scope() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   f"SELECT {keys} INTO {into} FROM customers WHERE id = NEW.customer_id; "
                   f"RETURN NEW; END $$")
        op.execute("CREATE TRIGGER reminders_copy_scope BEFORE INSERT OR UPDATE OF customer_id ON reminders "
                   "FOR EACH ROW EXECUTE FUNCTION reminders_copy_scope()")
        distinct = ' OR '.join(f'NEW.{key} IS DISTINCT FROM OLD.{key}' for key in KEYS)
        values = ', '.join(f'{copy} = NEW.{key}' for copy, key in zip(COPIES, KEYS, strict=True))
        op.execute(f"CREATE FUNCTION customers_push_scope() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   f"IF {distinct} THEN UPDATE reminders SET {values} WHERE customer_id = NEW.id; END IF; "
                   f"RETURN NULL; END $$")
        op.execute(f"CREATE TRIGGER customers_push_scope AFTER UPDATE OF {keys} ON customers "
                   f"FOR EACH ROW EXECUTE FUNCTION customers_push_scope()")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        for name in ('reminders_copy_scope', 'reminders_recopy_scope', 'customers_push_scope'):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif bind.dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS reminders_copy_scope ON reminders")
        op.execute("DROP TRIGGER IF EXISTS customers_push_scope ON customers")
        op.execute("DROP FUNCTION IF EXISTS reminders_copy_scope()")
        op.execute("DROP FUNCTION IF EXISTS customers_push_scope()")
    op.drop_index('ix_reminders_open_scope', table_name='reminders',
                  sqlite_where=OPEN, postgresql_where=OPEN)
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.drop_column('missed')
        batch_op.drop_column('answered_at')
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        for copy in reversed(COPIES):
            batch_op.drop_column(copy)
