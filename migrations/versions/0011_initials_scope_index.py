"""Pinyin-initials index carries the scope keys

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23

An own-department search by pinyin initials read every customer whose initials matched ("zs":
thousands) to check the scope: 27 ms at 1M customers. With the scope keys in the index SQLite checks
them there (2 ms). The new index serves plain initials lookups as well, so the old one goes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_customers_initials_scope', 'customers',
                    ['name_initials', 'registered_by_id', 'cs_staff_id', 'consultant_id', 'department_id'],
                    unique=False)
    op.drop_index('ix_customers_name_initials', table_name='customers')


def downgrade() -> None:
    op.create_index('ix_customers_name_initials', 'customers', ['name_initials'], unique=False)
    op.drop_index('ix_customers_initials_scope', table_name='customers')
