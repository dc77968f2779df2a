"""Customers' numbers typed in other digit forms are stored in ASCII

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24

Until now a mobile typed partly full-width (``13８００１３８０００``) was stored as typed, so the duplicate
check, caller-ID matching, the last-4 search and SMS all missed it; ID cards in full-width or
Arabic-Indic digits were accepted and stored as such. The services now NFKC-normalise every number
typed before checking and storing it (issue 14/19b). This revision does the same to what is stored:
each customer's ``mobile``, ``id_card``, ``qq`` and ``card_no`` that holds anything but ASCII is
NFKC-normalised, and a decimal digit of another script that NFKC leaves alone (``٣``, ``३``) becomes
its 0–9 (nobody can retype those now: the old checks had read them as the digits they are).

Derived values follow: ``mobile_last4`` is the new mobile's last 4 (the last-4 search and its index);
the mobile loses separators and a +86 / 0086 prefix as ``normalise_mobile`` does; an ID card is upper
case. The name and its pinyin initials, the birthday (read from the ID card's digits when it was
typed) and the reminders' scope copies (0010-0012: department, registrar, customer service and
consultant ids) do not depend on these columns and stay as they are. A card number that would become
another customer's keeps its old spelling (the id is logged, never the number). Only rows with a
non-ASCII character are read: the byte length of the text differs from its length in characters.

Nothing to undo on downgrade: the ASCII spelling is as valid for the older schema.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger('alembic.runtime.migration')

COLUMNS = ('mobile', 'id_card', 'qq', 'card_no')
_SEPARATORS = re.compile(r"[\s\-()（）]")


def _ascii(text: str) -> str:
    """NFKC, then every other decimal digit as its ASCII digit, without surrounding spaces."""
    text = unicodedata.normalize('NFKC', text or '').strip()
    return ''.join(str(unicodedata.decimal(c)) if c.isdecimal() and not '0' <= c <= '9' else c for c in text)


def _mobile(text: str) -> str:
    digits = _SEPARATORS.sub('', _ascii(text))
    for prefix in ('+86', '0086'):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
    return digits


CLEAN = {'mobile': _mobile, 'id_card': lambda text: _ascii(text).upper(), 'qq': _ascii, 'card_no': _ascii}
LENGTHS = {'mobile': 20, 'id_card': 18, 'qq': 20, 'card_no': 20}  # a spelling that would not fit is kept


def _non_ascii(dialect: str, column: str) -> str:
    if dialect == 'postgresql':
        return f'octet_length({column}) <> char_length({column})'
    return f'length(CAST({column} AS BLOB)) <> length({column})'


def upgrade() -> None:
    bind = op.get_bind()
    where = ' OR '.join(_non_ascii(bind.dialect.name, column) for column in COLUMNS)
    rows = bind.execute(sa.text(f"SELECT id, {', '.join(COLUMNS)} FROM customers WHERE {where} ORDER BY id")).all()
    changed = kept = 0
    for row in rows:
        values = dict(zip(('id', *COLUMNS), row, strict=True))
        new = {column: CLEAN[column](values[column] or '') for column in COLUMNS if values[column]}
        new = {column: value for column, value in new.items()
               if value != values[column] and len(value) <= LENGTHS[column]}
        if 'card_no' in new and bind.execute(sa.text('SELECT 1 FROM customers WHERE card_no = :c AND id <> :id'),
                                             {'c': new['card_no'], 'id': values['id']}).first() is not None:
            del new['card_no']
            kept += 1
            log.warning('customer %s: its card number in ASCII is another customer\'s; kept as typed', values['id'])
        if not new:
            continue
        if 'mobile' in new:
            new['mobile_last4'] = new['mobile'][-4:]
        assignments = ', '.join(f'{column} = :{column}' for column in new)
        bind.execute(sa.text(f'UPDATE customers SET {assignments} WHERE id = :id'), {**new, 'id': values['id']})
        changed += 1
    if rows:
        log.info('numbers in ASCII: %d customers changed, %d card numbers kept as typed', changed, kept)


def downgrade() -> None:
    pass
