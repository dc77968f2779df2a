"""What the cashier's modules share: order statuses, loading an order in scope, reasons, arrears."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meike.errors import ConflictError, NotFound, ValidationError
from meike.models import (
    AccountEntry,
    Order,
    OrderAdjustment,
    OrderLine,
    Payment,
    PaymentMethod,
    Receipt,
)
from meike.models.cashier import ORDER_CANCELLED, ORDER_NEW, ORDER_SETTLED, ORDER_VOIDED
from meike.models.ledger import ACCOUNT_ARREARS
from meike.permissions import Actor
from meike.rules.text import clean_text, normalise_text
from meike.services.customers import load_in_scope
from meike.services.ledger import Tender

STATUS_LABELS = {ORDER_NEW: "未付款", ORDER_SETTLED: "已付款", ORDER_CANCELLED: "已消单", ORDER_VOIDED: "已退单"}
MAX_QUANTITY = 999
MAX_REASON = 200


STALE_ORDER = "这张收费单在您打开后已被其他电脑修改（业绩分配、合并或状态变了），请刷新后再操作"


def load_order(s: Session, actor: Actor, order_id: int, *, lock: bool = False,
                expected_version: int | None = None) -> Order:
    """The order in the actor's scope; ``expected_version`` (what the window showed) must still hold."""
    q = select(Order).where(Order.id == order_id)
    order = s.scalar(q.with_for_update() if lock else q)
    if order is None:
        raise NotFound("收费单不存在")
    load_in_scope(s, actor, order.customer_id, lock=lock)  # the customer's money: one transaction at a time
    if expected_version is not None and order.version != expected_version:
        raise ConflictError(STALE_ORDER)
    return order


def reason_text(reason: str, what: str) -> str:
    reason = normalise_text(reason, multiline=True)
    if not reason:
        raise ValidationError.single("reason", f"请填写{what}原因")
    return clean_text(reason, field="reason", label="原因", limit=MAX_REASON, multiline=True)


@dataclass(frozen=True)
class PayResult:
    receipt_id: int
    receipt_no: str
    paid_fen: int
    arrears_fen: int  # what the customer still owes on this order
    replayed: bool = False


def order_arrears(s: Session, order_id: int) -> int:
    return int(s.scalar(select(func.coalesce(func.sum(AccountEntry.amount_fen), 0)).where(
        AccountEntry.order_id == order_id, AccountEntry.account == ACCOUNT_ARREARS)) or 0)


def tendered(tenders: Sequence[Tender]) -> int:
    return sum(t.amount_fen for t in tenders if isinstance(t.amount_fen, int))


def line_net(s: Session, line: OrderLine) -> int:
    """What a line is worth now: its amount plus its price changes and refunds."""
    return line.amount_fen + int(s.scalar(select(func.coalesce(func.sum(OrderAdjustment.amount_fen), 0))
                                          .where(OrderAdjustment.order_line_id == line.id)) or 0)



def tender_log(s: Session, receipt: Receipt) -> list[dict[str, object]]:
    s.flush()
    rows = s.execute(select(PaymentMethod.name, Payment.amount_fen).join(Payment, Payment.payment_method_id == PaymentMethod.id)
                     .where(Payment.receipt_id == receipt.id).order_by(Payment.id))
    return [{"method": name, "amount_fen": amount} for name, amount in rows]
