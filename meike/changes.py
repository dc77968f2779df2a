"""What an action changed: the rows its committed transactions wrote, by table.

A window refreshes what an action touched and nothing else. Instead of each page knowing which other
pages to poke after a payment or a registration, every service's writes are recorded here from the
unit of work itself (SQLAlchemy's flush), kept only if the transaction commits, and handed to whoever
ran the action (``ui/operations``), which announces one ``Changes`` to the whole window.

Nothing is recorded outside a ``collect()`` block, so scripts, the scheduler and tests pay nothing.
The collector is a context variable: a worker thread running an action collects only that action's
writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

# Groups a page can ask about; a table not named here is still recorded under its own name.
GROUPS: dict[str, frozenset[str]] = {
    "customers": frozenset({"customers"}),
    "visits": frozenset({"visits", "appointments"}),
    "records": frozenset({"consultations", "treatments"}),
    "reminders": frozenset({"reminders", "reminder_tallies"}),
    "money": frozenset({"orders", "order_lines", "order_shares", "order_adjustments", "receipts", "payments",
                        "account_entries", "coupons", "packages", "package_uses", "performance_entries",
                        "day_closes"}),
    "calls": frozenset({"call_records"}),
    "sms": frozenset({"sms_messages", "sms_templates"}),
    "settings": frozenset({"system_settings", "departments", "item_categories", "items", "staff", "staff_roles",
                           "channels", "info_sources", "member_levels", "payment_methods", "promotions"}),
    "accounts": frozenset({"users", "user_grants"}),
}


@dataclass(frozen=True)
class Changes:
    """Rows written by one action, by table name (ids of rows with a single integer key)."""

    tables: dict[str, frozenset[int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.tables)

    def touches(self, *groups: str) -> bool:
        """Whether any of the named groups (``GROUPS``) or tables was written."""
        for name in groups:
            wanted = GROUPS.get(name, frozenset({name}))
            if any(table in wanted for table in self.tables):
                return True
        return False

    def ids(self, table: str) -> frozenset[int]:
        return self.tables.get(table, frozenset())

    @property
    def customers(self) -> frozenset[int]:
        return self.ids("customers")

    def merged(self, other: Changes) -> Changes:
        joined = {name: ids for name, ids in self.tables.items()}
        for name, ids in other.tables.items():
            joined[name] = joined.get(name, frozenset()) | ids
        return Changes(joined)

    @classmethod
    def of(cls, **tables: Iterable[int]) -> Changes:
        """A hand-made record (tests, and actions whose effect is outside the database)."""
        return cls({name: frozenset(ids) for name, ids in tables.items()})


class _Collector:
    def __init__(self) -> None:
        self.tables: dict[str, set[int]] = {}

    def add(self, pending: dict[str, set[int]]) -> None:
        for name, ids in pending.items():
            self.tables.setdefault(name, set()).update(ids)

    def result(self) -> Changes:
        return Changes({name: frozenset(ids) for name, ids in self.tables.items()})


_current: ContextVar[_Collector | None] = ContextVar("meike_changes", default=None)
_PENDING = "meike_changes_pending"


@contextmanager
def collect() -> Iterator[_Collector]:
    """Record the committed writes made inside the block; ``.result()`` gives them as ``Changes``."""
    collector = _Collector()
    token = _current.set(collector)
    try:
        yield collector
    finally:
        _current.reset(token)


def _row_id(obj: object) -> int | None:
    state = inspect(obj)
    assert state is not None  # a mapped row (the unit of work's own)
    key = state.mapper.primary_key_from_instance(obj)
    if len(key) == 1 and isinstance(key[0], int):
        return key[0]
    return None


def within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    """Whether ``transaction`` (None: the outermost) is ``ended`` or runs inside it."""
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: UOWTransaction) -> None:
    if _current.get() is None:
        return
    # (savepoint or None for the outermost transaction, table, id): a savepoint rolled back drops its own
    # rows only, never what the transaction wrote before it.
    pending: list[tuple[SessionTransaction | None, str, int | None]] = session.info.setdefault(_PENDING, [])
    savepoint = session.get_nested_transaction()
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table is None:
            continue
        pending.append((savepoint, table, _row_id(obj)))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    collector = _current.get()
    if pending and collector is not None:
        tables: dict[str, set[int]] = {}
        for _savepoint, table, row in pending:
            ids = tables.setdefault(table, set())
            if row is not None:
                ids.add(row)
        collector.add(tables)


def rolled_back_to(previous: SessionTransaction) -> SessionTransaction | None:
    """What a rollback of ``previous`` undid: the savepoint it is in (a failed flush inside ``begin_nested``
    is reported as its flush's subtransaction, and rolls back to the savepoint), or None: the whole
    transaction."""
    transaction: SessionTransaction | None = previous
    while transaction is not None and not transaction.nested:
        transaction = transaction.parent
    return transaction


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if not pending:
        return
    savepoint = rolled_back_to(previous_transaction)
    if savepoint is None:
        session.info.pop(_PENDING, None)
        return
    session.info[_PENDING] = [p for p in pending if not within(p[0], savepoint)]


def note(**tables: Iterable[int]) -> None:
    """Record a change made without the ORM's unit of work (a bulk statement, a file) in the current
    action, if one is collecting."""
    collector = _current.get()
    if collector is not None:
        collector.add({name: set(ids) for name, ids in tables.items()})
