"""Lists of orders and one order's detail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from meike.db import Clinic
from meike.db.prefix import prefix_clause
from meike.errors import ValidationError
from meike.models import (
    Customer,
    Order,
    OrderLine,
    Payment,
    User,
)
from meike.models.cashier import ORDER_SETTLED
from meike.permissions import Actor, DataScope, Page
from meike.rules.text import search_text
from meike.rules.validation import mask_mobile, nfkc, normalise_mobile
from meike.services import scope
from meike.services.cashier.common import STATUS_LABELS, load_order
from meike.services.customers import guard_search

# --- lists ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRow:
    id: int
    customer_id: int
    customer_name: str
    card_no: str
    mobile: str
    items: str
    total_fen: int
    paid_fen: int
    status: str
    receipt_no: str
    created_at: datetime
    settled_at: datetime | None
    created_by: str
    cancel_reason: str


def _list_query(actor: Actor, status: str, text: str) -> tuple[ColumnElement[bool], ...]:
    if status not in STATUS_LABELS:
        raise ValidationError.single("status", "未知的单据状态")
    clauses: list[ColumnElement[bool]] = [Order.status == status, scope.customer_clause(actor)]
    text = search_text(text)
    if text:
        needle = text.lower()
        number = normalise_mobile(text)  # "１３８ 0013 8000": the digits as stored
        number = number if number.isascii() and number.isdigit() else text
        clauses.append(or_(
            prefix_clause(Customer.name, text),
            prefix_clause(Customer.name_initials, needle),
            Customer.mobile == number, Customer.mobile_last4 == number, Customer.card_no == nfkc(text),
            Order.receipt_no == nfkc(text).upper(),
        ))
    return tuple(clauses)


def _needs_customer(actor: Actor, text: str) -> bool:
    return bool(text.strip()) or actor.data_scope is not DataScope.ALL


def count_orders(clinic: Clinic, actor: Actor, *, status: str, text: str = "") -> int:
    actor.require_page(Page.CASHIER)
    clauses = _list_query(actor, status, text)
    guard_search(clinic, actor, text)  # a whole mobile typed here is a number probe too
    q = select(func.count(Order.id))
    if _needs_customer(actor, text):
        q = q.join(Customer, Customer.id == Order.customer_id).where(*clauses)
    else:  # scope "all" and no text: the (status, …) index answers alone
        q = q.where(Order.status == status)
    with clinic.read() as s:
        return s.scalar(q) or 0


def list_orders(clinic: Clinic, actor: Actor, *, status: str, offset: int = 0, limit: int = 200,
                text: str = "") -> list[OrderRow]:
    """One page of orders of a status ('new' = 未付款, 'settled' = 已付款), newest first, within scope."""
    actor.require_page(Page.CASHIER)
    guard_search(clinic, actor, text)
    newest = Order.settled_at.desc() if status == ORDER_SETTLED else Order.created_at.desc()
    q = (
        select(Order, Customer, User.display_name, User.username)
        .join(Customer, Customer.id == Order.customer_id)
        .join(User, User.id == Order.created_by_id)
        .where(*_list_query(actor, status, text))
        .order_by(newest, Order.id.desc()).offset(offset).limit(limit)
    )
    with clinic.read() as s:
        found = s.execute(q).all()
        ids = [o.id for o, *_ in found]
        summaries = _item_summaries(s, ids)
        # What was paid, for the orders of this page only.
        paid: dict[int | None, int] = dict(s.execute(select(Payment.order_id, func.sum(Payment.amount_fen))
                              .where(Payment.order_id.in_(ids)).group_by(Payment.order_id)).tuples().all()) if ids else {}
        return [
            OrderRow(o.id, c.id, c.name, c.card_no, mask_mobile(c.mobile),
                     summaries.get(o.id, ""), o.total_fen, int(paid.get(o.id) or 0), o.status, o.receipt_no or "",
                     o.created_at, o.settled_at, display or username, o.cancel_reason)
            for o, c, display, username in found
        ]


def _item_summaries(s: Session, order_ids: list[int]) -> dict[int, str]:
    """"双眼皮、水光针×2" per order, read in one query for the whole page."""
    parts: dict[int, list[str]] = {}
    if not order_ids:
        return {}
    q = (select(OrderLine.order_id, OrderLine.item_name, OrderLine.quantity)
         .where(OrderLine.order_id.in_(order_ids)).order_by(OrderLine.order_id, OrderLine.id))
    for order_id, name, quantity in s.execute(q):
        parts.setdefault(order_id, []).append(name if quantity == 1 else f"{name}×{quantity}")
    return {k: "、".join(v) for k, v in parts.items()}


@dataclass(frozen=True)
class OrderLineView:
    item_name: str
    quantity: int
    unit_price_fen: int
    amount_fen: int


@dataclass(frozen=True)
class OrderDetail:
    id: int
    customer_name: str
    card_no: str
    status: str
    total_fen: int
    paid_fen: int
    receipt_no: str
    lines: list[OrderLineView]


def get_order(clinic: Clinic, actor: Actor, order_id: int) -> OrderDetail:
    actor.require_page(Page.CASHIER)
    with clinic.read() as s:
        o = load_order(s, actor, order_id)
        return OrderDetail(
            o.id, o.customer.name, o.customer.card_no, o.status, o.total_fen,
            sum(p.amount_fen for p in o.payments), o.receipt_no or "",
            [OrderLineView(li.item_name, li.quantity, li.unit_price_fen, li.amount_fen) for li in o.lines],
        )


