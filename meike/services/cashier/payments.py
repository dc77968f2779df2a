"""Pay: settle 结单 and collect arrears 还欠款 (分次支付)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from meike.db import Clinic
from meike.errors import ValidationError
from meike.models import (
    Order,
    Package,
    PackageUse,
)
from meike.models.cashier import ORDER_NEW, ORDER_SETTLED
from meike.models.ledger import ACCOUNT_ARREARS
from meike.money import yuan
from meike.permissions import Actor, Page
from meike.services import audit, history, ledger, performance
from meike.services.cashier.common import (
    STATUS_LABELS,
    PayResult,
    load_order,
    order_arrears,
    tender_log,
    tendered,
)
from meike.services.ledger import Tender

# --- pay: settle 结单 and collect arrears 还欠款 ---------------------------------------------------


def pay(clinic: Clinic, actor: Actor, order_id: int, tenders: Sequence[Tender], *, idempotency_key: str,
        allow_arrears: bool = False, expected_version: int | None = None) -> PayResult:
    """Take payment for an order, split across methods and accounts, in one receipt.

    A new order is settled 结单: it gets this receipt's number, its lines credit performance, courses
    sold become the customer's and course sessions used are deducted. What is not paid becomes
    arrears 欠款 when ``allow_arrears`` (the cashier confirmed it), otherwise the payment is refused.
    A settled order with arrears takes further payments 分次支付 the same way, up to what is owed.
    """
    actor.require_page(Page.CASHIER)
    target = ledger.Target(("settle", "collect"), order_id=order_id, tenders=tenders, no_adjustment=True)

    def answer(s: Session, found: ledger.ReceiptResult) -> PayResult:
        return PayResult(found.receipt_id, found.receipt_no, found.amount_fen, order_arrears(s, order_id), True)

    def write(s: Session, key: str) -> PayResult:
        order = load_order(s, actor, order_id, lock=True, expected_version=expected_version)
        if order.status == ORDER_NEW:
            return _settle_in(s, actor, order, tenders, key, allow_arrears)
        if order.status == ORDER_SETTLED:
            return _collect_in(s, actor, order, tenders, key)
        raise ValidationError.single("order", f"该单{STATUS_LABELS.get(order.status, order.status)}，不能收款")

    return ledger.money_op(clinic, actor, idempotency_key, target, write, answer)


def _settle_in(s: Session, actor: Actor, order: Order, tenders: Sequence[Tender], key: str,
               allow_arrears: bool) -> PayResult:
    paying = tendered(tenders)
    if paying > order.total_fen:
        raise ValidationError.single("amount", f"收款合计 {yuan(paying)} 超过应收 {yuan(order.total_fen)}")
    if paying < order.total_fen and not allow_arrears:
        raise ValidationError.single(
            "amount", f"收款合计 {yuan(paying)} 少于应收 {yuan(order.total_fen)}；如需欠款请勾选“余额记欠款”")
    customer = order.customer
    if tenders:
        receipt = ledger.write_receipt(s, actor, kind="settle", customer=customer, key=key, tenders=tenders,
                                       order_id=order.id)
    else:  # nothing paid now (all on arrears, or a course session only): still one numbered document
        receipt = ledger.empty_receipt(s, actor, "settle", customer.id, order.id, key)
    arrears = order.total_fen - paying
    if arrears:
        ledger.post(s, actor, receipt, ACCOUNT_ARREARS, arrears, order_id=order.id, note="结单欠款")
    day = receipt.business_date
    order.status = ORDER_SETTLED
    order.settled_at = receipt.created_at
    order.business_date = day
    order.receipt_no = receipt.receipt_no
    s.flush()
    shares = performance.order_shares(s, order.id)
    for line in order.lines:
        if line.package_id is not None:
            s.add(PackageUse(package_id=line.package_id, sessions=-line.quantity, kind="used",
                             order_line_id=line.id, receipt_id=receipt.id, business_date=day,
                             created_at=receipt.created_at))
        if line.package_sessions:
            package = Package(customer_id=customer.id, item_id=line.item_id, item_name=line.item_name,
                              order_line_id=line.id, sessions=line.package_sessions * line.quantity,
                              value_fen=line.amount_fen, created_at=receipt.created_at)
            s.add(package)
            s.flush()
            s.add(PackageUse(package_id=package.id, sessions=package.sessions, kind="bought", order_line_id=line.id,
                             receipt_id=receipt.id, business_date=day, created_at=receipt.created_at))
        performance.credit_line(s, order, line, line.amount_fen, receipt, shares)
    # Sessions used must still be there now (another workstation may have used them meanwhile).
    for package_id in {line.package_id for line in order.lines if line.package_id is not None}:
        s.flush()
        if ledger.package_remaining(s, package_id) < 0:
            raise ValidationError.single("package", "疗程剩余次数不足，请刷新后重试")
    history.after_settlement(s, order)
    audit.record(s, actor, "order.settle", "order", order.id, before={"status": ORDER_NEW}, after={
        "status": ORDER_SETTLED, "receipt_no": receipt.receipt_no, "paid_fen": paying, "arrears_fen": arrears,
        "tenders": tender_log(s, receipt), "business_date": day})
    return PayResult(receipt.id, receipt.receipt_no, paying, arrears)


def _collect_in(s: Session, actor: Actor, order: Order, tenders: Sequence[Tender], key: str) -> PayResult:
    owed = order_arrears(s, order.id)
    if owed <= 0:
        raise ValidationError.single("order", "该单已结清，不能再收款")
    paying = tendered(tenders)
    if paying > owed:
        raise ValidationError.single("amount", f"收款合计 {yuan(paying)} 超过欠款 {yuan(owed)}")
    receipt = ledger.write_receipt(s, actor, kind="collect", customer=order.customer, key=key, tenders=tenders,
                                   order_id=order.id, note=f"{order.receipt_no} 欠款")
    ledger.post(s, actor, receipt, ACCOUNT_ARREARS, -paying, order_id=order.id, note="还欠款")
    audit.record(s, actor, "order.collect", "order", order.id, after={
        "receipt_no": receipt.receipt_no, "paid_fen": paying, "arrears_fen": owed - paying,
        "tenders": tender_log(s, receipt)})
    return PayResult(receipt.id, receipt.receipt_no, paying, owed - paying)




def settle(clinic: Clinic, actor: Actor, order_id: int, *, payment_method_id: int | None, amount_fen: int,
           idempotency_key: str) -> str:
    """结单 with the whole amount in one method (the quick path of the payment dialog)."""
    with clinic.read() as s:
        order = load_order(s, actor, order_id)
        if order.status == ORDER_NEW and isinstance(amount_fen, int) and amount_fen != order.total_fen:
            raise ValidationError.single("amount", f"收款金额应等于应收金额 {yuan(order.total_fen)}")
    result = pay(clinic, actor, order_id, [Tender(payment_method_id, amount_fen)], idempotency_key=idempotency_key)
    return result.receipt_no


