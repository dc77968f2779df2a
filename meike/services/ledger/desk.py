"""The customer-accounts desk: deposits 定金, prepaid 预存, coupons 券, inpatient deposits 住院押金,
refunds from a balance, and what a customer holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import ValidationError
from meike.models import (
    AccountEntry,
    Coupon,
    Customer,
    Department,
    Package,
    PackageUse,
    Staff,
)
from meike.models.ledger import (
    ACCOUNT_COUPON,
    ACCOUNT_DEPOSIT,
    ACCOUNT_INPATIENT,
    ACCOUNT_LABELS,
    ACCOUNT_PREPAID,
)
from meike.money import MAX_FEN, yuan
from meike.permissions import Actor, Page, Right
from meike.rules.text import clean_text, take_text
from meike.services import audit, performance
from meike.services.customers import load_in_scope
from meike.services.ledger.core import (
    MAX_NOTE,
    ReceiptResult,
    Tender,
    balance,
    balances,
    empty_receipt,
    post,
    require_supervisor,
    write_receipt,
)
from meike.services.ledger.idempotent import Target, money_op, receipt_answer

# --- deposits, prepaid, coupons, inpatient deposits ---------------------------------------------


def _chosen(customer_id: int | None) -> int:
    if customer_id is None:
        raise ValidationError.single("customer", "请选择顾客")
    return customer_id


def _customer(s: Session, actor: Actor, customer_id: int) -> Customer:
    """The customer, locked for this transaction: money of one customer moves one transaction at a time
    (PostgreSQL; SQLite's writers hold the whole database), so balances are read and spent exactly."""
    return load_in_scope(s, actor, customer_id, lock=True)


def _check_staff(s: Session, staff_id: int | None, department_id: int | None) -> None:
    if staff_id is not None and s.get(Staff, staff_id) is None:
        raise ValidationError.single("staff", "推介职员不存在")
    if department_id is not None and s.get(Department, department_id) is None:
        raise ValidationError.single("department", "科室不存在")


def top_up(clinic: Clinic, actor: Actor, customer_id: int | None, *, account: str, tenders: Sequence[Tender],
           idempotency_key: str, staff_id: int | None = None, department_id: int | None = None,
           inpatient_no: str = "", note: str = "") -> ReceiptResult:
    """Take money into an account: 定金 (with the referring staff and credited department), 预存, 住院押金."""
    actor.require_page(Page.CASHIER)
    if account not in (ACCOUNT_DEPOSIT, ACCOUNT_PREPAID, ACCOUNT_INPATIENT):
        raise ValidationError.single("account", "账户类型无效")
    errors: dict[str, str] = {}
    inpatient_no = take_text(errors, inpatient_no, field="inpatient_no", label="住院编号", limit=30,
                             required=account == ACCOUNT_INPATIENT)
    note = take_text(errors, note, field="note", label="备注", limit=MAX_NOTE, multiline=True)
    if errors:
        raise ValidationError(errors)
    customer_id = _chosen(customer_id)
    target = Target(account, customer_id=customer_id, standalone=True, tenders=tenders)

    def write(s: Session, key: str) -> ReceiptResult:
        customer = _customer(s, actor, customer_id)
        _check_staff(s, staff_id, department_id)
        receipt = write_receipt(s, actor, kind=account, customer=customer, key=key, tenders=tenders,
                                note=note, external_only=True)
        post(s, actor, receipt, account, receipt.amount_fen, staff_id=staff_id, department_id=department_id,
             inpatient_no=inpatient_no, note=note)
        if account != ACCOUNT_PREPAID:
            performance.credit_deposit(s, receipt, receipt.amount_fen, staff_id, department_id)
        audit.record(s, actor, f"account.{account}", "receipt", receipt.id, after={
            "customer": customer.name, "card_no": customer.card_no, "amount_fen": receipt.amount_fen,
            "receipt_no": receipt.receipt_no, "staff_id": staff_id, "department_id": department_id,
            "inpatient_no": inpatient_no})
        return ReceiptResult(receipt.id, receipt.receipt_no, receipt.amount_fen)

    return money_op(clinic, actor, idempotency_key, target, write, receipt_answer)


def sell_coupon(clinic: Clinic, actor: Actor, customer_id: int | None, *, name: str, face_value_fen: int,
                valid_until: date, tenders: Sequence[Tender], idempotency_key: str,
                supervisor: Actor | None = None) -> ReceiptResult:
    """购券: a coupon bought for the tenders' sum, or given free (no tenders: 赠券).

    A coupon is money to spend: the part of its face value nobody pays for (a free coupon, a price below
    the face value) is given away, so it needs ``supervisor``, a holder of ``Right.APPROVE_PRICE`` who
    confirmed with their password; the sale's audit row names them and the amount given.
    """
    actor.require_page(Page.CASHIER)
    errors: dict[str, str] = {}
    name = take_text(errors, name, field="name", label="券名称", limit=60, required=True)
    if not isinstance(face_value_fen, int) or not 0 < face_value_fen < MAX_FEN:
        errors["face_value"] = "券面值必须大于 0"
    expired = valid_until < clock.now().date()
    if errors:
        if expired:
            errors["valid_until"] = "有效期不能早于今天"
        raise ValidationError(errors)
    paying = sum(t.amount_fen for t in tenders if isinstance(t.amount_fen, int) and t.amount_fen > 0)
    if paying < face_value_fen:
        what = "赠券" if not tenders else f"售价低于券面值（赠送 {yuan(face_value_fen - paying)}）"
        require_supervisor(supervisor, Right.APPROVE_PRICE, what)
    customer_id = _chosen(customer_id)
    target = Target("coupon", customer_id=customer_id, standalone=True, coupon_face_fen=face_value_fen,
                    tenders=tenders)

    def write(s: Session, key: str) -> ReceiptResult:
        customer = _customer(s, actor, customer_id)
        # Checked after the replay: a retry after midnight of a sale that went through gets its receipt.
        if expired:
            raise ValidationError.single("valid_until", "有效期不能早于今天")
        if tenders:
            receipt = write_receipt(s, actor, kind="coupon", customer=customer, key=key, tenders=tenders,
                                    note=name, external_only=True)
        else:
            receipt = empty_receipt(s, actor, "coupon", customer.id, None, key, note=f"赠券 {name}")
        if receipt.amount_fen > face_value_fen:
            raise ValidationError.single("amount", "售价不能高于券面值")
        granted = face_value_fen - receipt.amount_fen  # > 0 only with the supervisor required above
        coupon = Coupon(customer_id=customer.id, name=name, face_value_fen=face_value_fen,
                        price_fen=receipt.amount_fen, valid_until=valid_until, receipt_id=receipt.id,
                        created_at=receipt.created_at)
        s.add(coupon)
        s.flush()
        # What was paid is money in; the rest of the face value is a grant (a promotion).
        if receipt.amount_fen:
            post(s, actor, receipt, ACCOUNT_COUPON, receipt.amount_fen, coupon_id=coupon.id)
        if face_value_fen > receipt.amount_fen:
            post(s, actor, receipt, ACCOUNT_COUPON, face_value_fen - receipt.amount_fen, coupon_id=coupon.id,
                 is_grant=True, note="赠送")
        audit.record(s, actor, "account.coupon", "coupon", coupon.id, after={
            "customer": customer.name, "name": name, "face_value_fen": face_value_fen,
            "price_fen": receipt.amount_fen, "valid_until": valid_until, "receipt_no": receipt.receipt_no,
            "granted_fen": granted, "supervisor": supervisor.username if granted and supervisor else None})
        return ReceiptResult(receipt.id, receipt.receipt_no, receipt.amount_fen)

    return money_op(clinic, actor, idempotency_key, target, write, receipt_answer)


def refund_balance(clinic: Clinic, actor: Actor, customer_id: int | None, *, account: str,
                   tenders: Sequence[Tender], idempotency_key: str, supervisor: Actor | None,
                   reason: str, reverse_performance: bool = False) -> ReceiptResult:
    """退款 from a balance (预存 / 定金) or 出院退款 of the unused inpatient deposit; needs a supervisor.

    A deposit's department credit 科室定金业绩 goes back with the money; the referring staff's credit
    only when ``reverse_performance``."""
    actor.require_page(Page.CASHIER)
    if account not in (ACCOUNT_DEPOSIT, ACCOUNT_PREPAID, ACCOUNT_INPATIENT):
        raise ValidationError.single("account", "账户类型无效")
    reason = clean_text(reason, field="reason", label="退款原因", limit=MAX_NOTE, multiline=True, required=True)
    require_supervisor(supervisor, Right.REFUND, "退款")
    assert supervisor is not None
    customer_id = _chosen(customer_id)
    kind = "discharge" if account == ACCOUNT_INPATIENT else "refund"
    target = Target(kind, customer_id=customer_id, standalone=True, account=account, tenders=tenders)

    def write(s: Session, key: str) -> ReceiptResult:
        customer = _customer(s, actor, customer_id)
        have = balance(s, customer.id, account)
        wanted = sum(t.amount_fen for t in tenders if isinstance(t.amount_fen, int))
        if wanted > have:
            raise ValidationError.single(
                "amount", f"{ACCOUNT_LABELS[account]}余额只有 {yuan(have)}，不能退 {yuan(wanted)}")
        receipt = write_receipt(s, actor, kind=kind, customer=customer, key=key, tenders=tenders,
                                note=reason, external_only=True, sign=-1)
        post(s, actor, receipt, account, receipt.amount_fen, note=reason[:MAX_NOTE])
        if account != ACCOUNT_PREPAID:
            performance.reverse_deposit(s, customer.id, account, -receipt.amount_fen, receipt,
                                        staff=reverse_performance)
        audit.record(s, actor, f"account.{kind}", "receipt", receipt.id, after={
            "customer": customer.name, "account": account, "amount_fen": -receipt.amount_fen,
            "receipt_no": receipt.receipt_no, "reason": reason, "supervisor": supervisor.username,
            "reverse_performance": reverse_performance})
        return ReceiptResult(receipt.id, receipt.receipt_no, receipt.amount_fen)

    return money_op(clinic, actor, idempotency_key, target, write, receipt_answer)


# --- what a customer holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class CouponView:
    id: int
    name: str
    face_value_fen: int
    remaining_fen: int
    valid_until: date


@dataclass(frozen=True)
class PackageView:
    id: int
    item_id: int
    item_name: str
    sessions: int
    remaining: int
    value_fen: int
    created_at: datetime


@dataclass(frozen=True)
class AccountSummary:
    balances: dict[str, int]
    coupons: list[CouponView]
    packages: list[PackageView]
    inpatient_no: str


def customer_accounts(clinic: Clinic, actor: Actor, customer_id: int) -> AccountSummary:
    actor.require_any_page(Page.CASHIER, Page.CUSTOMERS)
    with clinic.read() as s:
        load_in_scope(s, actor, customer_id)
        return summary_in(s, customer_id)


def summary_in(s: Session, customer_id: int) -> AccountSummary:
    coupon_left: dict[int | None, int] = dict(s.execute(
        select(AccountEntry.coupon_id, func.sum(AccountEntry.amount_fen))
        .where(AccountEntry.customer_id == customer_id, AccountEntry.coupon_id.is_not(None))
        .group_by(AccountEntry.coupon_id)).tuples().all())
    coupons = [CouponView(c.id, c.name, c.face_value_fen, int(coupon_left.get(c.id) or 0), c.valid_until)
               for c in s.scalars(select(Coupon).where(Coupon.customer_id == customer_id).order_by(Coupon.id))]
    left: dict[int, int] = dict(s.execute(
        select(PackageUse.package_id, func.sum(PackageUse.sessions)).join(Package, Package.id == PackageUse.package_id)
        .where(Package.customer_id == customer_id).group_by(PackageUse.package_id)).tuples().all())
    packages = [PackageView(p.id, p.item_id, p.item_name, p.sessions, int(left.get(p.id) or 0), p.value_fen,
                            p.created_at)
                for p in s.scalars(select(Package).where(Package.customer_id == customer_id).order_by(Package.id))]
    inpatient_no = s.scalar(select(AccountEntry.inpatient_no).where(
        AccountEntry.customer_id == customer_id, AccountEntry.account == ACCOUNT_INPATIENT,
        AccountEntry.inpatient_no != "").order_by(AccountEntry.id.desc()).limit(1)) or ""
    return AccountSummary(balances(s, customer_id), coupons, packages, inpatient_no)




__all__ = ["AccountSummary", "CouponView", "PackageView", "customer_accounts", "refund_balance", "sell_coupon",
           "summary_in", "top_up"]
