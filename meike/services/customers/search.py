"""Customer search within the data scope: the grid, the search box, lookups by id and mobile."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, func, literal, select
from sqlalchemy.orm import Session

from meike.db import Clinic
from meike.db.prepared import Prepared
from meike.errors import NotFound, ValidationError
from meike.models import Appointment, Channel, Customer, Department, Visit
from meike.permissions import Actor
from meike.rules.customer_class import (
    CLASS_LABELS,
    VISIT_TYPE_LABELS,
    CustomerClass,
    VisitType,
    customer_class,
)
from meike.rules.validation import (
    mask_mobile,
    normalise_mobile,
)
from meike.services import scope
from meike.services.customers.probes import _guard, _missed, _probe_of
from meike.services.customers.query import (
    _CONSULTANT,
    _CS_STAFF,
    GENDERS,
    TABS,
    VISIT_TABS,
    CustomerQuery,
    CustomerRow,
    _may_see_numbers,
    _prefix,
    _require_customer_page,
    _search_clause,
    _search_kind,
    _text_clause,
)


def _class_clause(value: str) -> Any:
    if value == CustomerClass.POTENTIAL:
        return Customer.purchase_occasions == 0
    if value == CustomerClass.NEW:
        return Customer.purchase_occasions == 1
    if value == CustomerClass.RETURNING:
        return Customer.purchase_occasions >= 2
    raise ValidationError.single("customer_class", "顾客类别无效")


def _day_range(column: Any, start: date | None, end: date | None, *, is_date: bool = False) -> list[Any]:
    out = []
    if start is not None:
        out.append(column >= (start if is_date else datetime.combine(start, time())))
    if end is not None:
        out.append(column <= end if is_date else column < datetime.combine(end + timedelta(days=1), time()))
    return out


def tab_query(actor: Actor, q: CustomerQuery) -> Select[Any]:
    """The query of a customer list: rows of the tab as (Customer, Visit | None, Appointment | None), the
    actor's data scope and ``q``'s conditions applied (what the grid shows; SMS 群发 sends to the same set).
    Checks no page right and no number probes: the callers do (``guard_search``)."""
    if q.tab not in TABS:
        raise ValidationError.single("tab", "未知的页签")
    conditions: list[Any] = [scope.customer_clause(actor)]
    text = _search_clause(q.text, actor)
    if text is not None:
        conditions.append(text)
    if q.channel_id is not None:
        conditions.append(Customer.channel_id == q.channel_id)
    if q.cs_staff_id is not None:
        conditions.append(Customer.cs_staff_id == q.cs_staff_id)
    if q.customer_class:
        conditions.append(_class_clause(q.customer_class))
    if q.tab in VISIT_TABS:
        stmt: Select[Any] = select(Customer, Visit, literal(None)).join(Visit, Visit.customer_id == Customer.id)
        conditions.append(Visit.status == "active")
        conditions += _day_range(Visit.business_date, q.date_from, q.date_to, is_date=True)
        if q.tab == "deal":
            conditions.append(Visit.is_deal.is_(True))
        elif q.tab == "no_deal":
            conditions.append(Visit.is_deal.is_(False))
        if q.consultant_id is not None:
            conditions.append(Visit.consultant_id == q.consultant_id)
        return stmt.where(*conditions).order_by(Visit.id.desc())
    if q.tab == "booked":
        stmt = select(Customer, literal(None), Appointment).join(Appointment, Appointment.customer_id == Customer.id)
        conditions.append(Appointment.status == "booked")
        conditions += _day_range(Appointment.appointment_at, q.date_from, q.date_to)
        if q.consultant_id is not None:
            conditions.append(Customer.consultant_id == q.consultant_id)
        return stmt.where(*conditions).order_by(Appointment.appointment_at, Appointment.id)
    conditions += _day_range(Customer.created_at, q.date_from, q.date_to)
    if q.consultant_id is not None:
        conditions.append(Customer.consultant_id == q.consultant_id)
    return select(Customer, literal(None), literal(None)).where(*conditions).order_by(Customer.id.desc())


def _query(text: str, query: CustomerQuery | None) -> CustomerQuery:
    return query if query is not None else CustomerQuery(text=text)


def count_customers(clinic: Clinic, actor: Actor, *, text: str = "", query: CustomerQuery | None = None) -> int:
    _require_customer_page(actor)
    q = _query(text, query)
    found = _search_kind(q.text, prefixes=_may_see_numbers(actor))
    _guard(clinic, actor, found)
    stmt = tab_query(actor, q).order_by(None)
    with clinic.read() as s:
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    _missed(clinic, actor, found, total)
    return total


def search_customers(clinic: Clinic, actor: Actor, *, text: str = "", query: CustomerQuery | None = None,
                     offset: int = 0, limit: int = 200) -> list[CustomerRow]:
    """One page of the grid in the actor's scope; mobiles masked. Number probes are limited (``_Probes``)."""
    box_alone = query is None or query == CustomerQuery(text=query.text)  # the search box alone
    found = _search_kind(text if query is None else query.text, prefixes=_may_see_numbers(actor))
    if found is not None and box_alone:
        if _probe_of(found) is not None:
            _require_customer_page(actor)  # checks the account too
            _guard(clinic, actor, found)
        else:  # the statement and the scope's values are kept per actor: the account is checked here
            actor.check_live()
        rows = _search_box(clinic, actor, *found, offset=offset, limit=limit)
    else:
        _require_customer_page(actor)
        _guard(clinic, actor, found)
        rows = _search_grid(clinic, actor, _query(text, query), offset=offset, limit=limit)
    if offset == 0:
        _missed(clinic, actor, found, len(rows))
    return rows


_SEARCH_BOX: dict[tuple[str, tuple[str, ...]], Prepared] = {}


@lru_cache(maxsize=256)
def _search_box_statement(kind: str, actor: Actor) -> tuple[Prepared, dict[str, int]]:
    """The 全部 tab filtered by the search box only, for one kind of text and one scope shape, and the
    actor's scope values (read only: every search of the actor shares them); PermissionDenied without
    the right to see customers. Kept per actor, which is immutable (a refusal is not kept): checking
    the right and working out the scope at every search cost a tenth of a lookup by mobile."""
    _require_customer_page(actor)
    key = (kind, scope.shape(actor))
    prepared = _SEARCH_BOX.get(key)
    if prepared is not None:
        return prepared, scope.bind_values(actor)

    def build() -> Select[Any]:
        in_scope = scope.bound_customer_clause(actor)  # the shape decides the SQL, not the ids
        text = _text_clause(kind, lambda name: bindparam(name, type_=String))
        page = (select(Customer.id).where(in_scope, text).order_by(Customer.id.desc())
                .offset(bindparam("offset", type_=Integer)).limit(bindparam("limit", type_=Integer)))
        customer = select(Customer.id, Customer.card_no, Customer.name, Customer.gender, Customer.mobile,
                          Customer.created_at, Customer.purchase_occasions)
        return (_with_names(customer, Customer.consultant_id)
                .where(Customer.id.in_(page.scalar_subquery())).order_by(Customer.id.desc()))

    return _SEARCH_BOX.setdefault(key, Prepared(build)), scope.bind_values(actor)


def _search_box(clinic: Clinic, actor: Actor, kind: str, values: dict[str, str], *, offset: int,
                limit: int) -> list[CustomerRow]:
    """The same rows as ``_search_grid`` for the search box alone, without the ORM: a mobile, a card
    number or a name typed at the front desk (or a caller's number) is answered in well under a
    millisecond. tests/meike/test_search_box.py compares both paths."""
    statement, scope_values = _search_box_statement(kind, actor)
    params = {**values, **scope_values, "offset": offset, "limit": limit}
    return [_row(*row) for row in statement.rows(clinic.engine, params)]


def _with_names(stmt: Select[Any], consultant_id: Any) -> Select[Any]:
    """The page with the names of customer service, consultant, channel and department: one round trip
    however many rows are shown."""
    cs, consultant = _CS_STAFF, _CONSULTANT
    return (stmt.add_columns(cs.name, consultant.name, Channel.name, Department.name)
            .outerjoin(cs, cs.id == Customer.cs_staff_id)
            .outerjoin(consultant, consultant.id == consultant_id)
            .outerjoin(Channel, Channel.id == Customer.channel_id)
            .outerjoin(Department, Department.id == Customer.department_id))


def _row(cid: int, card_no: str, name: str, gender: str, mobile: str, created_at: datetime, occasions: int,
         cs_name: str | None, consultant_name: str | None, channel: str | None, department: str | None,
         v: Visit | None = None, a: Appointment | None = None) -> CustomerRow:
    return CustomerRow(
        cid, card_no, name, GENDERS.get(gender, ""), mask_mobile(mobile), channel or "", cs_name or "",
        consultant_name or "", department or "", created_at, CLASS_LABELS[customer_class(occasions)],
        v.id if v is not None else None,
        VISIT_TYPE_LABELS[VisitType(v.visit_type)] if v is not None else "",
        ("成交" if v.is_deal else "未成交") if v is not None else "",
        a.appointment_at if a is not None else None,
    )


def _search_grid(clinic: Clinic, actor: Actor, q: CustomerQuery, *, offset: int, limit: int) -> list[CustomerRow]:
    stmt = tab_query(actor, q)
    if q.tab == "all":
        # Pick the page of ids first: with scope "all" the search indexes cover it, so only the
        # rows shown are read from the table, however many customers match.
        page_ids = stmt.with_only_columns(Customer.id).offset(offset).limit(limit).scalar_subquery()
        stmt = stmt.where(Customer.id.in_(page_ids))
    else:
        stmt = stmt.offset(offset).limit(limit)
    consultant_id = Visit.consultant_id if q.tab in VISIT_TABS else Customer.consultant_id
    with clinic.read() as s:
        return [_row(c.id, c.card_no, c.name, c.gender, c.mobile, c.created_at, c.purchase_occasions,
                     cs_name, consultant_name, channel, department, v, a)
                for c, v, a, cs_name, consultant_name, channel, department
                in s.execute(_with_names(stmt, consultant_id))]


def load_in_scope(s: Session, actor: Actor, customer_id: int, *, lock: bool = False) -> Customer:
    """The customer, or NotFound when missing or outside the actor's data scope. ``lock``: the row stays
    locked to this transaction (PostgreSQL ``FOR UPDATE``; SQLite writers hold the database lock)."""
    actor.check_live()
    customer = s.get(Customer, customer_id, with_for_update=lock or None)
    if customer is None or not scope.in_scope(actor, customer):
        raise NotFound("顾客不存在或不在您的查看范围内")
    return customer


def find_by_mobile(clinic: Clinic, actor: Actor, mobile: str) -> CustomerRow | None:
    """An existing customer with this mobile, if the actor may see them (duplicate check)."""
    mobile = normalise_mobile(mobile)
    if len(mobile) != 11:
        return None
    rows = search_customers(clinic, actor, text=mobile, limit=1)
    return rows[0] if rows else None


def next_card_no(s: Session, today: datetime) -> str:
    """Card numbers are ``YYMMDD`` + a 4-digit serial of the day: 2611230001."""
    stem = today.strftime("%y%m%d")
    last = s.scalar(select(func.max(Customer.card_no)).where(_prefix(Customer.card_no, stem)))
    serial = int(last[len(stem):]) + 1 if last and last[len(stem):].isdigit() else 1
    return f"{stem}{serial:04d}"
