"""Tallies of open reminders due before a date, kept by triggers

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23

The dashboard counts every open reminder due today or earlier. For a user who sees part of the
clinic each of them had its scope keys checked: two scans of ~100k open overdue reminders at 1M
customers, 39 ms (issue 3 asks for 20). Now the reminders due before ``counted_before`` are tallied
per kind and per combination of scope keys (a few thousand rows at most), and only the reminders
due since then are counted one by one.

The tallies are kept by triggers, on SQLite and PostgreSQL alike, whoever writes: each insert, each
change of status, due date, kind, assignee or scope copies, and each delete adds the change as +1/-1
deltas (upserts, so the order the triggers run in never matters). ``counted_before`` starts in 1900
(nothing tallied: the counts are right from the first moment) and ``followups.catch_up_tallies``
moves it to today, adding the days it passes over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TALLY_KEYS = ('kind', 'department_id', 'registered_by_id', 'cs_staff_id', 'consultant_id', 'assignee_id')
REMINDER_KEYS = ('scope_department_id', 'scope_registered_by_id', 'scope_cs_staff_id', 'scope_consultant_id',
                 'assignee_id')
WATCHED = ('status', 'due_date', 'kind', *REMINDER_KEYS)
CUTOFF = "(SELECT counted_before FROM reminder_tally_state WHERE id = 1)"
SCOPE_COPIES = ('scope_department_id', 'scope_registered_by_id', 'scope_cs_staff_id', 'scope_consultant_id')
CUSTOMER_KEYS = ('department_id', 'registered_by_id', 'cs_staff_id', 'consultant_id')


def _values(row: str) -> str:
    return ', '.join([f'{row}.kind', *(f'coalesce({row}.{key}, 0)' for key in REMINDER_KEYS)])


def _add(row: str, delta: str, cutoff: str) -> str:
    """One upsert adding ``delta`` to the tally of ``row`` (OLD or NEW) when it is counted."""
    conflict = ', '.join(TALLY_KEYS)
    return (f"INSERT INTO reminder_tallies ({conflict}, n) SELECT {_values(row)}, {delta} "
            f"WHERE {row}.status = 'open' AND {row}.due_date < {cutoff} "
            f"ON CONFLICT ({conflict}) DO UPDATE SET n = reminder_tallies.n + ({delta});")


def upgrade() -> None:
    op.create_table(
        'reminder_tallies',
        *(sa.Column(key, sa.String(length=12) if key == 'kind' else sa.Integer(), nullable=False)
          for key in TALLY_KEYS),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*TALLY_KEYS, name=op.f('pk_reminder_tallies')),
    )
    state = op.create_table(
        'reminder_tally_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('counted_before', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_tally_state')),
    )
    op.bulk_insert(state, [{'id': 1, 'counted_before': date(1900, 1, 1)}])

    bind = op.get_bind()
    watched = ', '.join(WATCHED)
    if bind.dialect.name == 'sqlite':
        # The copy of the customer's keys (0010) is made by an UPDATE inside the insert trigger; that
        # UPDATE runs the change trigger below (-1 as inserted, +1 with the copies). Adding the row as
        # inserted first, in the same trigger, makes the order of the two triggers irrelevant.
        copies, keys = ', '.join(SCOPE_COPIES), ', '.join(CUSTOMER_KEYS)
        op.execute("DROP TRIGGER reminders_copy_scope")
        op.execute(f"CREATE TRIGGER reminders_copy_scope AFTER INSERT ON reminders BEGIN "
                   f"{_add('NEW', '1', CUTOFF)} "
                   f"UPDATE reminders SET ({copies}) = (SELECT {keys} FROM customers WHERE id = NEW.customer_id) "
                   f"WHERE id = NEW.id; END")
        op.execute(f"CREATE TRIGGER reminders_tally_change AFTER UPDATE OF {watched} ON reminders BEGIN "
                   f"{_add('OLD', '-1', CUTOFF)} {_add('NEW', '1', CUTOFF)} END")
        op.execute(f"CREATE TRIGGER reminders_tally_delete AFTER DELETE ON reminders BEGIN "
                   f"{_add('OLD', '-1', CUTOFF)} END")
    elif bind.dialect.name == 'postgresql':
        # FOR SHARE: a catch-up (which locks the row to move the date) waits for the writers that read
        # the old date, and a writer waits for the catch-up, so no reminder is tallied twice or never.
        op.execute(f"CREATE FUNCTION reminders_tally() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"DECLARE cutoff date; BEGIN "
                   f"SELECT counted_before INTO cutoff FROM reminder_tally_state WHERE id = 1 FOR SHARE; "
                   f"IF TG_OP <> 'INSERT' THEN {_add('OLD', '-1', 'cutoff')} END IF; "
                   f"IF TG_OP <> 'DELETE' THEN {_add('NEW', '1', 'cutoff')} END IF; "
                   f"RETURN NULL; END $$")
        op.execute(f"CREATE TRIGGER reminders_tally AFTER INSERT OR DELETE OR UPDATE OF {watched} ON reminders "
                   f"FOR EACH ROW EXECUTE FUNCTION reminders_tally()")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        copies, keys = ', '.join(SCOPE_COPIES), ', '.join(CUSTOMER_KEYS)
        for name in ('reminders_tally_change', 'reminders_tally_delete', 'reminders_copy_scope'):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER reminders_copy_scope AFTER INSERT ON reminders BEGIN "
                   f"UPDATE reminders SET ({copies}) = (SELECT {keys} FROM customers WHERE id = NEW.customer_id) "
                   f"WHERE id = NEW.id; END")
    elif bind.dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS reminders_tally ON reminders")
        op.execute("DROP FUNCTION IF EXISTS reminders_tally()")
    op.drop_table('reminder_tally_state')
    op.drop_table('reminder_tallies')
