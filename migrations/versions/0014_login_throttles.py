"""Login throttling per typed name and per workstation

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24

Login failures were counted on the account's row only: an unknown name answered at once and
differently, so names could be told apart, and five failures locked any account (the administrator
too) for a fixed time, again and again. Now every failure is counted for the typed name (known or
not, under a SHA-256 of it) and for the workstation; past the free attempts each further failure
doubles a wait, capped at ``login.lock_minutes`` (issue 14/22). ``users.failed_logins`` and
``users.locked_until`` stay as the account manager's view of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'login_throttles',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', sa.DateTime(), nullable=False),
        sa.Column('blocked_until', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles')),
    )
    op.create_index('ix_login_throttles_last_failure_at', 'login_throttles', ['last_failure_at'])


def downgrade() -> None:
    op.drop_index('ix_login_throttles_last_failure_at', table_name='login_throttles')
    op.drop_table('login_throttles')
