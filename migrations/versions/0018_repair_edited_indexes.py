"""Repair the indexes that edits of shipped revisions 0003 and 0004 added or changed

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

Revisions 0003 and 0004 were edited after later revisions existed (issue 15): a database that had
already passed them was never given what the edits added. Depending on which build upgraded it, a
clinic's database may hold

* ``ix_reminders_open_due`` on (status, due_date, kind) instead of (status, kind, due_date);
* ``ix_performance_entries_business_date`` on (business_date, role) only, not covering;
* ``ix_payments_business_date`` on (business_date) only, not covering;
* no ``ix_orders_status_settled`` at all.

Each is compared with what the program expects and, if missing or different, made again. Nothing
else changes; a database made by the shipped revisions as they are now passes through untouched.
From here on a test keeps a checksum of every revision, so a shipped one cannot be edited again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → index → the columns it must have, in order (as the models declare them)
EXPECTED: dict[str, dict[str, list[str]]] = {
    'reminders': {'ix_reminders_open_due': ['status', 'kind', 'due_date']},
    'performance_entries': {
        'ix_performance_entries_business_date': ['business_date', 'role', 'department_id', 'amount_fen']},
    'payments': {
        'ix_payments_business_date': ['business_date', 'payment_method_id', 'account', 'amount_fen', 'received_by_id']},
    'orders': {'ix_orders_status_settled': ['status', 'settled_at']},
}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, indexes in EXPECTED.items():
        have = {ix['name']: list(ix['column_names']) for ix in inspector.get_indexes(table)}
        for name, columns in indexes.items():
            if have.get(name) == columns:
                continue
            if name in have:
                op.drop_index(name, table_name=table)
            op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    """Nothing to undo: the indexes are what revisions 0003 and 0004 create as they stand."""
