"""order_adjustments.kind wide enough for 'package_refund'

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23

PostgreSQL enforces VARCHAR lengths (SQLite does not): a course refund's kind ``package_refund`` is 14
characters, the column was 12. Found by running the suite on PostgreSQL (issue 6).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('order_adjustments', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=12), type_=sa.String(length=20),
                              existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('order_adjustments', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=20), type_=sa.String(length=12),
                              existing_nullable=False)
