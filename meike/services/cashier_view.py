"""Read-only order facts for the cashier page: line ids, what each line is worth now,
arrears per order, the receipts of an order, void reasons.

Each function checks the page permission and the customer scope exactly as the cashier service does,
and only reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meike.db import Clinic
from meike.errors import NotFound
from meike.models import AccountEntry, Customer, Order, OrderAdjustment, OrderLine, Package, Receipt
from meike.models.ledger import ACCOUNT_ARREARS
from meike.permissions import Actor, Page
from meike.services import scope
from meike.services.cashier import line_net, order_arrears
from meike.services.customers import load_in_scope


@dataclass(frozen=True)
class LineFacts:
    id: int
    item_name: str
    quantity: int
    unit_price_fen: int
    amount_fen: int
    net_fen: int  # after price changes and refunds
    package_sessions: int  # > 0: the line sold a course
    package_id: int | None  # paid with a course session (划扣)

    @property
    def is_course(self) -> bool:
        return bool(self.package_sessions) or self.package_id is not None

    @property
    def label(self) -> str:
        name = self.item_name if self.quantity == 1 else f"{self.item_name}×{self.quantity}"
        if self.package_sessions:
            name += f"（疗程 {self.package_sessions * self.quantity} 次）"
        elif self.package_id is not None:
            name += "（疗程划扣）"
        return name


@dataclass(frozen=True)
class ReceiptFacts:
    id: int
    receipt_no: str
    kind: str
    status: str
    amount_fen: int
    created_at: datetime


@dataclass(frozen=True)
class OrderFacts:
    id: int
    customer_id: int
    customer_name: str
    card_no: str
    status: str
    total_fen: int
    net_fen: int  # total after price changes and refunds
    arrears_fen: int
    receipt_no: str
    lines: list[LineFacts]
    receipts: list[ReceiptFacts]
    invoice_no: str
    invoice_title: str
    invoice_fen: int
    version: int = 1  # handed back to pay / cancel: a change by another PC meanwhile is refused


def _order(s: Session, actor: Actor, order_id: int) -> Order:
    actor.require_page(Page.CASHIER)
    order = s.get(Order, order_id)
    if order is None:
        raise NotFound("收费单不存在")
    load_in_scope(s, actor, order.customer_id)
    return order


def order_facts(clinic: Clinic, actor: Actor, order_id: int) -> OrderFacts:
    with clinic.read() as s:
        o = _order(s, actor, order_id)
        lines = [LineFacts(li.id, li.item_name, li.quantity, li.unit_price_fen, li.amount_fen, line_net(s, li),
                           li.package_sessions, li.package_id) for li in o.lines]
        adjustments = int(s.scalar(select(func.coalesce(func.sum(OrderAdjustment.amount_fen), 0))
                                   .where(OrderAdjustment.order_id == o.id)) or 0)
        receipts = [ReceiptFacts(r.id, r.receipt_no, r.kind, r.status, r.amount_fen, r.created_at)
                    for r in s.scalars(select(Receipt).where(Receipt.order_id == o.id).order_by(Receipt.id))]
        return OrderFacts(o.id, o.customer_id, o.customer.name, o.customer.card_no, o.status, o.total_fen,
                          o.total_fen + adjustments, order_arrears(s, o.id), o.receipt_no or "", lines, receipts,
                          o.invoice_no, o.invoice_title, o.invoice_fen, o.version)


def arrears_by_order(clinic: Clinic, actor: Actor, order_ids: Sequence[int]) -> dict[int, int]:
    """What is still owed on each order (absent = nothing), one query for a page of orders."""
    actor.require_page(Page.CASHIER)
    if not order_ids:
        return {}
    q = (select(AccountEntry.order_id, func.sum(AccountEntry.amount_fen))
         .join(Order, Order.id == AccountEntry.order_id).join(Customer, Customer.id == Order.customer_id)
         .where(AccountEntry.order_id.in_(list(order_ids)), AccountEntry.account == ACCOUNT_ARREARS,
                scope.customer_clause(actor))
         .group_by(AccountEntry.order_id))
    with clinic.read() as s:
        return {order_id: int(v) for order_id, v in s.execute(q) if v}


def void_reasons(clinic: Clinic, actor: Actor, order_ids: Sequence[int]) -> dict[int, str]:
    actor.require_page(Page.CASHIER)
    if not order_ids:
        return {}
    q = (select(Order.id, Order.void_reason).join(Customer, Customer.id == Order.customer_id)
         .where(Order.id.in_(list(order_ids)), scope.customer_clause(actor)))
    with clinic.read() as s:
        return {order_id: reason for order_id, reason in s.execute(q)}


def package_arrears(clinic: Clinic, actor: Actor, package_id: int) -> int:
    """Arrears on the order that sold a course: a course refund reduces them before paying out."""
    with clinic.read() as s:
        package = s.get(Package, package_id)
        if package is None:
            raise NotFound("疗程不存在")
        order_id = s.scalar(select(OrderLine.order_id).where(OrderLine.id == package.order_line_id))
        if order_id is None:
            return 0
        _order(s, actor, order_id)
        return order_arrears(s, order_id)
