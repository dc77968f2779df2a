"""Money columns to BIGINT on PostgreSQL

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-25

Every money column (fen) was INTEGER: 32 bits on PostgreSQL, so an amount above ¥21,474,836.47
(2³¹ fen), well below the program's limit of ¥1000亿 (``meike.money.MAX_FEN``), failed with the
driver's "integer out of range" (issue 14/18). On PostgreSQL they become BIGINT. SQLite's INTEGER
holds 64 bits already: nothing changes there (the models say ``BigInteger`` with an INTEGER variant
for SQLite, so the schema compares equal).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY_COLUMNS = {
    'orders': ('total_fen', 'invoice_fen'),
    'order_lines': ('unit_price_fen', 'amount_fen', 'list_price_fen'),
    'promotions': ('price_fen',),
    'receipts': ('amount_fen',),
    'payments': ('amount_fen',),
    'order_adjustments': ('amount_fen',),
    'items': ('price_fen', 'min_price_fen'),
    'account_entries': ('amount_fen',),
    'coupons': ('face_value_fen', 'price_fen'),
    'packages': ('value_fen',),
    'performance_entries': ('amount_fen',),
    'day_closes': ('expected_cash_fen', 'counted_cash_fen'),
    'treatments': ('price_fen',),
}


def _alter(sql_type: str) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite: INTEGER is 64-bit; no table rebuild for nothing
    for table, columns in MONEY_COLUMNS.items():  # one statement per table: one rewrite of it
        op.execute(f"ALTER TABLE {table} " + ", ".join(f"ALTER COLUMN {c} TYPE {sql_type}" for c in columns))


def upgrade() -> None:
    _alter('BIGINT')


def downgrade() -> None:
    # Refused by PostgreSQL (integer out of range) while an amount above 2³¹ fen is stored: nothing is cut.
    _alter('INTEGER')
