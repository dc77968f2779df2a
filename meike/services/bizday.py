"""The business date 营业日期 and closed days 日结: a closed day is immutable.

Every money row carries the business date it was posted on; its model says so by the marker
``meike.models.base.BusinessDated`` (receipts, tenders, account entries, course uses, performance,
price changes and refunds, and orders once settled with their lines). Rows dated on a closed day
cannot be added, changed (in a column the model freezes) or deleted: a guard on every session flush
refuses it, whichever service tries (an order line moved off such an order, a settled order or receipt
turned anything but voided, the close itself deleted or edited), and an INSERT, UPDATE or DELETE statement
on a marked table or on the closes — built or written as text, or the legacy bulk methods — is refused
before it runs (it would pass the flush by). Not covered: a statement run on the session's Connection or
the engine directly; ``--check`` finds what that changes. Corrections post on the open day.

Money and the close take turns on the day (several workstations on PostgreSQL): every money write
takes the day with ``posting_day`` — it locks the day's receipt counter row (``SELECT … FOR
UPDATE``) and only then looks whether the day is closed — and the close locks the same row with
``lock_day`` before it counts the day. A payment still open when another PC closes is counted by
that close (the close waits for it); a payment started while a close is open waits, sees the day
closed and posts on the next one. On SQLite every write transaction begins IMMEDIATE (the whole
database's write lock, ``meike.db.sqlite``), which serialises them anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta
from functools import cache

from sqlalchemy import Table, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session, class_mapper
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.sql.elements import TextClause

from meike import clock
from meike.db import bulk_guards
from meike.errors import MeikeError
from meike.models import Base, DayClose, ReceiptCounter, SystemSetting
from meike.models.base import BusinessDated

# Not one of the settings page's keys: only a supervisor changes it, through ``set_business_date``.
SETTING = "cashier.business_date"


class DayClosed(MeikeError):
    """Something tried to post on, change or remove a row of a closed business day."""


def is_closed(s: Session, day: date) -> bool:
    return s.get(DayClose, day) is not None


def open_business_date(s: Session) -> date:
    """The day money is posted on now: the supervisor's chosen date, else today; never a closed day."""
    row = s.get(SystemSetting, SETTING)
    day = date.fromisoformat(row.value) if row is not None and row.value else clock.now().date()
    closed = set(s.scalars(select(DayClose.business_date).where(DayClose.business_date >= day)))
    while day in closed:
        day += timedelta(days=1)
    return day


def lock_day(s: Session, day: date) -> ReceiptCounter:
    """Lock ``day``'s counter row for the rest of the caller's transaction (made when the day has none yet).

    Every money write and the close of ``day`` take this lock, so they never overlap. Take it before
    anything else of the day is read: in PostgreSQL's READ COMMITTED every statement after the wait
    sees what the other transaction committed.
    """
    query = select(ReceiptCounter).where(ReceiptCounter.business_date == day).with_for_update()
    counter = s.scalar(query)
    if counter is None:  # the day's first receipt; another workstation may be writing it right now
        try:
            with s.begin_nested():
                s.add(ReceiptCounter(business_date=day, last_no=0))
        except IntegrityError:
            pass
        counter = s.scalar(query)
        assert counter is not None
    return counter


def posting_day(s: Session) -> date:
    """The open business day, locked for the caller's money write (``lock_day``).

    A close that committed while this transaction waited for the lock is seen after it: money then
    posts on the next open day instead.
    """
    seen: set[date] = set()
    day = open_business_date(s)
    while day not in seen:
        seen.add(day)
        lock_day(s, day)
        if s.scalar(select(DayClose.business_date).where(DayClose.business_date == day)) is None:
            return day
        day = open_business_date(s)
    return day  # a date that stays closed (never from open_business_date): the flush guard refuses it in words


@cache
def dated_tables() -> frozenset[Table]:
    """The tables of the models marked ``BusinessDated`` (every mapped model imported by ``meike.models``)."""
    return frozenset(m.local_table for m in Base.registry.mappers  # type: ignore[misc]
                     if issubclass(m.class_, BusinessDated))


def _history_days(obj: object, attribute: str = "business_date") -> set[date]:
    """Every day ``obj``'s attribute held in this flush: before, unchanged and after."""
    history = instance_state(obj).attrs[attribute].history
    return {d for d in (*history.deleted, *history.unchanged, *history.added) if isinstance(d, date)}


def _days_of(session: Session, obj: BusinessDated) -> set[date]:
    via = obj.DAY_OF
    if via is None:
        return _history_days(obj)
    # Every row the relationship led to in this flush: the one a row leaves (moved to another order) as well
    # as the one it joins, found through the relationship's history and through its key's.
    mapper = class_mapper(type(obj))
    relationship = mapper.relationships[via]
    (column,) = relationship.local_columns
    key_attr = mapper.get_property_by_column(column).key
    state = instance_state(obj)
    with session.no_autoflush:
        linked = state.attrs[via].history
        owners = [o for o in (*linked.deleted, *linked.unchanged, *linked.added) if o is not None]
        keys = state.attrs[key_attr].history
        for key in {k for k in (*keys.deleted, *keys.unchanged, *keys.added) if k is not None}:
            found = session.get(relationship.mapper.class_, key)
            if found is not None:
                owners.append(found)
        if not owners:
            owner = getattr(obj, via)
            if owner is not None:
                owners.append(owner)
    days: set[date] = set()
    for owner in owners:
        days |= _history_days(owner)
    return days


def _changed(obj: BusinessDated) -> bool:
    attrs = instance_state(obj).attrs
    if any(attrs[column].history.has_changes() for column in obj.DAY_FROZEN):
        return True
    if obj.DAY_OF is not None and attrs[obj.DAY_OF].history.has_changes():  # moved before its key is synced
        return True
    return any(value not in allowed for column, allowed in obj.DAY_ONLY_TO.items()
               for value in attrs[column].history.added)


def _touched(session: Session) -> set[date]:
    """The business days of the dated rows this flush adds, removes or changes."""
    days: set[date] = set()
    rows: Iterable[object] = (*session.new, *session.deleted)
    for obj in rows:
        if isinstance(obj, BusinessDated):
            days |= _days_of(session, obj)
    for obj in session.dirty:
        if isinstance(obj, BusinessDated) and session.is_modified(obj) and _changed(obj):
            days |= _days_of(session, obj)
    return days


def _close_changed(session: Session) -> date | None:
    """The day of a close this flush removes or changes (a close is never undone or edited: deleting it
    would open the day for posting again)."""
    for obj in session.deleted:
        if isinstance(obj, DayClose):
            return obj.business_date
    for obj in session.dirty:
        if isinstance(obj, DayClose) and session.is_modified(obj):
            return obj.business_date
    return None


@event.listens_for(Session, "before_flush")
def _refuse_closed_days(session: Session, _context: object, _instances: object) -> None:
    close = _close_changed(session)
    if close is not None:
        raise DayClosed(f"{close:%Y-%m-%d} 的日结记录不能修改或删除")
    days = _touched(session)
    if not days:
        return
    closed = sorted(session.scalars(select(DayClose.business_date).where(DayClose.business_date.in_(days))))
    if closed:
        raise DayClosed(f"{closed[0]:%Y-%m-%d} 已日结，不能再修改；更正请在当前营业日期办理")


def _refuse_bulk_mappings(cls: type) -> None:
    """``Session.bulk_insert_mappings`` and the like on a dated model or the closes (``meike.db.bulk_guards``)."""
    if issubclass(cls, BusinessDated | DayClose):
        raise DayClosed(f"收款记录（{cls.__name__}）不能批量写入或修改：已日结的营业日期不能再修改，更正请在当前营业日期办理")


bulk_guards.append(_refuse_bulk_mappings)


_TEXT_WRITE = re.compile(r"^\s*(?:UPDATE|DELETE\s+FROM|INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO)\s+[\"`\[]?(\w+)",
                         re.IGNORECASE)


def _refuse_text(sql: str) -> None:
    """The same for a statement written as text (``session.execute(text("UPDATE payments …"))``)."""
    found = _TEXT_WRITE.match(sql)
    if found is None:
        return
    name = found.group(1).lower()
    if name == DayClose.__tablename__ or name in {t.name for t in dated_tables()}:
        raise DayClosed(f"收款记录（{name}）不能批量修改或删除：已日结的营业日期不能再修改，更正请在当前营业日期办理")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_writes(state: ORMExecuteState) -> None:
    """No INSERT, UPDATE or DELETE statement on a dated table or on the closes: the flush guard would not
    see the rows it adds or changes (nothing in the program writes money that way; every money row is
    added through the unit of work, which the flush guard sees)."""
    if isinstance(state.statement, TextClause):
        _refuse_text(state.statement.text)
        return
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and (table in dated_tables() or table in frozenset({DayClose.__table__})):
        raise DayClosed(f"收款记录（{table.name}）不能批量修改或删除：已日结的营业日期不能再修改，"
                        "更正请在当前营业日期办理")
