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
from sqlalchemy.orm import Session, UOWTransaction

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


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: UOWTransaction) -> None:
    if _current.get() is None:
        return
    pending: dict[str, set[int]] = session.info.setdefault(_PENDING, {})
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table is None:
            continue
        ids = pending.setdefault(table, set())
        row = _row_id(obj)
        if row is not None:
            ids.add(row)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    collector = _current.get()
    if pending and collector is not None:
        collector.add(pending)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def note(**tables: Iterable[int]) -> None:
    """Record a change made without the ORM's unit of work (a bulk statement, a file) in the current
    action, if one is collecting."""
    collector = _current.get()
    if collector is not None:
        collector.add({name: set(ids) for name, ids in tables.items()})
