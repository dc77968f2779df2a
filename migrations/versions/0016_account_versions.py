"""Account versions, and the right to close the day

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24

A disabled account, or one whose pages or rights were taken away, kept its full power until it
logged out. ``users.account_version`` is bumped by every change of an account (active, pages,
rights, scope, department, staff, name, password reset); every service call compares the version
the login saw with it and refuses a changed account (issue 14/10).

Closing the day 日结 becomes its own right (issue 14/12). Every ordinary account that could close
the day before, the 收费中心 page with all customers as its data scope, is given it, so that a
clinic can still close its day after the upgrade; the administrator takes it away where it is
not wanted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('users', sa.Column('account_version', sa.Integer(), nullable=False, server_default='1'))
    op.execute(sa.text(
        "INSERT INTO user_grants (user_id, code) "
        "SELECT u.id, 'right:close_day' FROM users u "
        "WHERE u.is_admin = :no AND u.data_scope = 'all' "
        "AND EXISTS (SELECT 1 FROM user_grants g WHERE g.user_id = u.id AND g.code = 'page:cashier') "
        "AND NOT EXISTS (SELECT 1 FROM user_grants g WHERE g.user_id = u.id AND g.code = 'right:close_day')"
    ).bindparams(sa.bindparam('no', False, type_=sa.Boolean())))


def downgrade() -> None:
    op.execute("DELETE FROM user_grants WHERE code = 'right:close_day'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('account_version')
