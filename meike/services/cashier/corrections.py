"""Corrections of a settled order: void 退单, refunds 退款 of a line or a course, price changes 多退少补."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import NotFound, ValidationError
from meike.models import (
    AccountEntry,
    Item,
    Order,
    OrderAdjustment,
    OrderLine,
    OrderShare,
    Package,
    PackageUse,
    Payment,
    Receipt,
)
from meike.models.cashier import ORDER_NEW, ORDER_SETTLED, ORDER_VOIDED
from meike.models.ledger import ACCOUNT_ARREARS
from meike.money import MAX_FEN, yuan
from meike.permissions import Actor, Page, Right
from meike.services import audit, bizday, history, ledger, performance
from meike.services.cashier.common import (
    STATUS_LABELS,
    PayResult,
    line_net,
    load_order,
    order_arrears,
    reason_text,
    tender_log,
    tendered,
)
from meike.services.customers import load_in_scope
from meike.services.ledger import Tender

# --- void 退单 ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoidResult:
    receipt_no: str
    refunded_fen: int
    reopened_order_id: int


def void(clinic: Clinic, actor: Actor, order_id: int, *, reason: str, supervisor: Actor | None,
         reverse_performance: bool, idempotency_key: str) -> VoidResult:
    """退单: a settled order is voided on the open business day by a supervisor.

    Everything it moved is reversed by a numbered void receipt: the tenders are paid back the way
    they came, account entries and arrears are reversed, course sessions used come back, courses it
    sold are withdrawn (only if unused). Its receipts keep their numbers, marked voided. The order
    comes back as a new unpaid order with the same lines (恢复结帐前的业务状态) so it can be corrected.
    """
    actor.require_page(Page.CASHIER)
    reason = reason_text(reason, "退单")
    ledger.require_supervisor(supervisor, Right.VOID, "退单")
    assert supervisor is not None
    target = ledger.Target("void", order_id=order_id)

    def answer(s: Session, found: ledger.ReceiptResult) -> VoidResult:
        reopened = s.scalar(select(Order.id).where(Order.source_order_id == order_id))
        return VoidResult(found.receipt_no, -found.amount_fen, reopened or 0)

    def write(s: Session, key: str) -> VoidResult:
        order = load_order(s, actor, order_id, lock=True)
        if order.status != ORDER_SETTLED:
            raise ValidationError.single("order", f"该单{STATUS_LABELS.get(order.status, order.status)}，只能退已结单的单")
        if s.scalar(select(OrderAdjustment.id).where(OrderAdjustment.order_id == order.id).limit(1)):
            raise ValidationError.single("order", "该单已办理退款或改价，不能整单退单")
        sold = list(s.scalars(select(Package).where(Package.order_line_id.in_([li.id for li in order.lines]))))
        for package in sold:
            if ledger.package_remaining(s, package.id) != package.sessions:
                raise ValidationError.single("order", f"“{package.item_name}”疗程已使用，不能退单，请办理疗程退款")
        receipts = list(s.scalars(select(Receipt).where(Receipt.order_id == order.id, Receipt.status == "valid")))
        payments = list(s.scalars(select(Payment).where(Payment.order_id == order.id)))
        entries = list(s.scalars(select(AccountEntry).where(AccountEntry.order_id == order.id)))
        day = bizday.posting_day(s)
        now = clock.now()
        receipt = Receipt(receipt_no=ledger.next_receipt_no(s, day), business_date=day, kind="void",
                          customer_id=order.customer_id, order_id=order.id,
                          amount_fen=-sum(p.amount_fen for p in payments), status="valid",
                          cashier_id=actor.user_id, created_at=now, idempotency_key=key,
                          note=f"退单 {order.receipt_no}：{reason}", reprints=0)
        s.add(receipt)
        s.flush()
        for p in payments:
            s.add(Payment(receipt_id=receipt.id, order_id=order.id, payment_method_id=p.payment_method_id,
                          account=p.account, amount_fen=-p.amount_fen, business_date=day,
                          received_by_id=actor.user_id, created_at=now))
        for e in entries:
            ledger.post(s, actor, receipt, e.account, -e.amount_fen, order_id=order.id, coupon_id=e.coupon_id,
                        note="退单冲回")
        for line in order.lines:
            if line.package_id is not None:
                s.add(PackageUse(package_id=line.package_id, sessions=line.quantity, kind="restored",
                                 order_line_id=line.id, receipt_id=receipt.id, business_date=day, created_at=now))
        for package in sold:
            s.add(PackageUse(package_id=package.id, sessions=-package.sessions, kind="refunded",
                             order_line_id=package.order_line_id, receipt_id=receipt.id, business_date=day,
                             created_at=now))
        performance.reverse_order(s, order, receipt, staff=reverse_performance)
        for r in receipts:
            r.status = "voided"
        order.status = ORDER_VOIDED
        order.void_reason = reason
        order.voided_at = now
        reopened = Order(customer_id=order.customer_id, visit_id=order.visit_id, status=ORDER_NEW,
                         total_fen=order.total_fen, created_by_id=actor.user_id, created_at=now,
                         cancel_reason="", consultant_id=order.consultant_id, source_order_id=order.id,
                         lines=[li.copy() for li in order.lines])
        s.add(reopened)
        s.flush()
        for share in s.scalars(select(OrderShare).where(OrderShare.order_id == order.id)).all():
            s.add(OrderShare(order_id=reopened.id, role=share.role, staff_id=share.staff_id,
                             percent=share.percent))
        history.after_void(s, order)
        audit.record(s, actor, "order.void", "order", order.id, before={"status": ORDER_SETTLED}, after={
            "status": ORDER_VOIDED, "reason": reason, "supervisor": supervisor.username,
            "receipt_no": receipt.receipt_no, "voided_receipts": [r.receipt_no for r in receipts],
            "refunded_fen": -receipt.amount_fen, "reverse_performance": reverse_performance,
            "reopened_order_id": reopened.id})
        return VoidResult(receipt.receipt_no, -receipt.amount_fen, reopened.id)

    return ledger.money_op(clinic, actor, idempotency_key, target, write, answer)


# --- refunds 退款 and price changes 多退少补 on a settled order ------------------------------------


def _answer(s: Session, found: ledger.ReceiptResult) -> PayResult:
    """The result of an earlier call with this key (refunds and price changes)."""
    return PayResult(found.receipt_id, found.receipt_no, found.amount_fen, 0, True)


def _settled_line(s: Session, actor: Actor, order_line_id: int) -> tuple[Order, OrderLine]:
    line = s.get(OrderLine, order_line_id)
    if line is None:
        raise NotFound("收费项目不存在")
    order = load_order(s, actor, line.order_id, lock=True)
    if order.status != ORDER_SETTLED:
        raise ValidationError.single("order", "只能对已结单的收费项目退款或改价")
    return order, line


def refund_line(clinic: Clinic, actor: Actor, order_line_id: int, *, amount_fen: int, tenders: Sequence[Tender],
                reason: str, supervisor: Actor | None, reverse_performance: bool, idempotency_key: str) -> PayResult:
    """项目退款: give back part or all of a settled line. Arrears on the order are reduced first; the
    rest goes out through ``tenders`` (cash, card, … or into the prepaid balance). The consultant's
    and doctor's performance is reversed in proportion when ``reverse_performance``."""
    actor.require_page(Page.CASHIER)
    reason = reason_text(reason, "退款")
    ledger.require_supervisor(supervisor, Right.REFUND, "退款")
    assert supervisor is not None
    ledger.check_key(idempotency_key)
    if not isinstance(amount_fen, int) or amount_fen <= 0:
        raise ValidationError.single("amount", "退款金额必须大于 0")
    target = ledger.Target("refund", line_id=order_line_id, adjustment_kind="refund", adjusted_fen=-amount_fen,
                           tenders=tenders)

    def write(s: Session, key: str) -> PayResult:
        order, line = _settled_line(s, actor, order_line_id)
        if line.package_sessions:
            raise ValidationError.single("amount", "疗程请按次数办理疗程退款")
        return _refund_in(s, actor, order, line, amount_fen, 0, "refund", tenders, reason, supervisor,
                          reverse_performance, key)

    return ledger.money_op(clinic, actor, idempotency_key, target, write, _answer)


def _refund_in(s: Session, actor: Actor, order: Order, line: OrderLine, amount: int, sessions: int, kind: str,
               tenders: Sequence[Tender], reason: str, supervisor: Actor, reverse_performance: bool,
               key: str) -> PayResult:
    net = line_net(s, line)
    if amount > net:
        raise ValidationError.single("amount", f"退款金额不能超过该项目剩余金额 {yuan(net)}")
    owed = order_arrears(s, order.id)
    from_arrears = min(owed, amount)
    paying_out = tendered(tenders)
    if paying_out != amount - from_arrears:
        hint = f"（其中 {yuan(from_arrears)} 冲减欠款）" if from_arrears else ""
        raise ValidationError.single("amount", f"退款方式合计应为 {yuan(amount - from_arrears)}{hint}")
    if tenders:
        receipt = ledger.write_receipt(s, actor, kind="refund", customer=order.customer, key=key, tenders=tenders,
                                       order_id=order.id, note=reason, sign=-1)
    else:
        receipt = ledger.empty_receipt(s, actor, "refund", order.customer_id, order.id, key, note=reason)
    if from_arrears:
        ledger.post(s, actor, receipt, ACCOUNT_ARREARS, -from_arrears, order_id=order.id, note="退款冲减欠款")
    s.add(OrderAdjustment(order_id=order.id, order_line_id=line.id, kind=kind, amount_fen=-amount, sessions=sessions,
                          reverse_performance=reverse_performance, receipt_id=receipt.id,
                          business_date=receipt.business_date, reason=reason, created_by_id=actor.user_id,
                          created_at=receipt.created_at))
    performance.reverse_line(s, order, line, amount, receipt, staff=reverse_performance)
    audit.record(s, actor, f"order.{kind}", "order", order.id, after={
        "line": line.item_name, "amount_fen": amount, "sessions": sessions, "from_arrears_fen": from_arrears,
        "receipt_no": receipt.receipt_no, "reason": reason, "supervisor": supervisor.username,
        "reverse_performance": reverse_performance, "tenders": tender_log(s, receipt)})
    return PayResult(receipt.id, receipt.receipt_no, -paying_out, order_arrears(s, order.id))


def refund_package(clinic: Clinic, actor: Actor, package_id: int, *, sessions: int, tenders: Sequence[Tender],
                   reason: str, supervisor: Actor | None, reverse_performance: bool,
                   idempotency_key: str) -> PayResult:
    """疗程退款: give back unused sessions of a course at the price the course was sold for."""
    actor.require_page(Page.CASHIER)
    reason = reason_text(reason, "退款")
    ledger.require_supervisor(supervisor, Right.REFUND, "退款")
    assert supervisor is not None
    target = ledger.Target("refund", package_id=package_id, adjustment_kind="package_refund",
                           sessions=-sessions if isinstance(sessions, int) else None, tenders=tenders)

    def write(s: Session, key: str) -> PayResult:
        package = s.get(Package, package_id)
        if package is None:
            raise NotFound("疗程不存在")
        order, line = _settled_line(s, actor, package.order_line_id)
        left = ledger.package_remaining(s, package.id)
        if not isinstance(sessions, int) or not 1 <= sessions <= left:
            raise ValidationError.single("sessions", f"退款次数应在 1–{left} 之间")
        amount = refund_value(package.value_fen, package.sessions, left, sessions)
        result = _refund_in(s, actor, order, line, amount, sessions, "package_refund", tenders, reason,
                            supervisor, reverse_performance, key)
        receipt = s.get(Receipt, result.receipt_id)
        assert receipt is not None
        s.add(PackageUse(package_id=package.id, sessions=-sessions, kind="refunded", order_line_id=line.id,
                         receipt_id=receipt.id, business_date=receipt.business_date,
                         created_at=receipt.created_at))
        return result

    return ledger.money_op(clinic, actor, idempotency_key, target, write, _answer)


def refund_value(value_fen: int, total: int, left: int, sessions: int) -> int:
    """What ``sessions`` of the ``left`` unused sessions are worth: additive, and all of them unused = the price."""
    return value_fen * left // total - value_fen * (left - sessions) // total


def package_refund_quote(clinic: Clinic, actor: Actor, package_id: int, sessions: int) -> int:
    actor.require_page(Page.CASHIER)
    with clinic.read() as s:
        package = s.get(Package, package_id)
        if package is None:
            raise NotFound("疗程不存在")
        load_in_scope(s, actor, package.customer_id)
        left = ledger.package_remaining(s, package.id)
        return refund_value(package.value_fen, package.sessions, left, max(0, min(sessions, left)))


def reprice_line(clinic: Clinic, actor: Actor, order_line_id: int, *, unit_price_fen: int, reason: str,
                 supervisor: Actor | None, tenders: Sequence[Tender], idempotency_key: str,
                 reverse_performance: bool = True) -> PayResult:
    """多退少补: a settled line's price changes. Higher: the difference becomes arrears, collected now
    with ``tenders`` or later, and is credited as performance. Lower: the difference is refunded like a
    project refund; the staff's performance of it is taken back when ``reverse_performance``."""
    actor.require_page(Page.CASHIER)
    reason = reason_text(reason, "改价")
    target = ledger.Target(("refund", "collect"), line_id=order_line_id, adjustment_kind="reprice", tenders=tenders,
                           line_unit_price_fen=unit_price_fen if isinstance(unit_price_fen, int) else None)

    def write(s: Session, key: str) -> PayResult:
        order, line = _settled_line(s, actor, order_line_id)
        if line.package_id is not None or line.package_sessions:
            raise ValidationError.single("price", "疗程项目不能改价")
        if not isinstance(unit_price_fen, int) or unit_price_fen < 0:
            raise ValidationError.single("price", "单价不能小于 0")
        item = s.get(Item, line.item_id)
        new_amount = unit_price_fen * line.quantity
        if new_amount >= MAX_FEN:
            raise ValidationError.single("price", "金额过大")
        if item is not None and unit_price_fen < item.min_price_fen:
            ledger.require_supervisor(supervisor, Right.APPROVE_PRICE, "低于最低价")
        diff = new_amount - line_net(s, line)
        if diff == 0:
            raise ValidationError.single("price", "价格没有变化")
        if diff < 0:
            ledger.require_supervisor(supervisor, Right.REFUND, "退差价")
            assert supervisor is not None
            return _refund_in(s, actor, order, line, -diff, 0, "reprice", tenders, reason, supervisor,
                              reverse_performance, key)
        receipt = (ledger.write_receipt(s, actor, kind="collect", customer=order.customer, key=key,
                                        tenders=tenders, order_id=order.id, note=reason)
                   if tenders else ledger.empty_receipt(s, actor, "collect", order.customer_id, order.id, key, reason))
        paying = tendered(tenders)
        if paying > diff:
            raise ValidationError.single("amount", f"补收金额不能超过差价 {yuan(diff)}")
        ledger.post(s, actor, receipt, ACCOUNT_ARREARS, diff - paying, order_id=order.id, note="改价补差")
        s.add(OrderAdjustment(order_id=order.id, order_line_id=line.id, kind="reprice", amount_fen=diff,
                              sessions=0, reverse_performance=False, receipt_id=receipt.id,
                              business_date=receipt.business_date, reason=reason, created_by_id=actor.user_id,
                              created_at=receipt.created_at))
        performance.credit_line(s, order, line, diff, receipt)
        audit.record(s, actor, "order.reprice", "order", order.id, before={"amount_fen": new_amount - diff},
                     after={"amount_fen": new_amount, "line": line.item_name, "paid_fen": paying,
                            "receipt_no": receipt.receipt_no, "reason": reason,
                            "supervisor": supervisor.username if supervisor else None})
        return PayResult(receipt.id, receipt.receipt_no, paying, order_arrears(s, order.id))

    return ledger.money_op(clinic, actor, idempotency_key, target, write, _answer)


