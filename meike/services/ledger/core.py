"""The ledger core: receipts and their numbers, tenders, account entries and balances.

Every movement of money is one receipt written in one transaction with its tenders and account
entries; a balance is the sum of its entries and is never allowed below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import AccountChanged, NotFound, PermissionDenied, ValidationError
from meike.models import (
    AccountEntry,
    Coupon,
    Customer,
    PackageUse,
    Payment,
    PaymentMethod,
    Receipt,
)
from meike.models.ledger import (
    ACCOUNT_COUPON,
    ACCOUNT_LABELS,
    ASSET_ACCOUNTS,
)
from meike.money import MAX_FEN, yuan
from meike.permissions import Actor, Page, Right
from meike.rules.text import unsafe_char
from meike.services import bizday
from meike.services.customers import load_in_scope

RECEIPT_KINDS = {
    "settle": "收费收据", "collect": "还款收据", "deposit": "定金收据", "prepaid": "预存收据",
    "coupon": "购券收据", "inpatient": "住院押金收据", "refund": "退款收据", "discharge": "出院退款收据",
    "void": "退单收据", "package_use": "划扣单",
}
MAX_NOTE = 200




@dataclass(frozen=True)
class Tender:
    """One part of a payment: ``amount_fen`` through a payment method (an account when its kind is one)."""

    payment_method_id: int | None
    amount_fen: int
    coupon_id: int | None = None


@dataclass(frozen=True)
class ReceiptResult:
    receipt_id: int
    receipt_no: str
    amount_fen: int
    replayed: bool = False


# --- receipt numbers and idempotency keys ------------------------------------------------------


def receipt_number(day: date, serial: int) -> str:
    """R20261123-0001: the business day and a gapless serial within it."""
    return f"R{day:%Y%m%d}-{serial:04d}"


def next_receipt_no(s: Session, day: date) -> str:
    """Take the next number of ``day`` inside the caller's transaction (rolled back with it: no gaps).
    ``day`` comes from ``bizday.posting_day``, which holds the counter's lock already."""
    counter = bizday.lock_day(s, day)
    counter.last_no += 1
    s.flush()
    return receipt_number(day, counter.last_no)


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > 64 or unsafe_char(key) is not None:
        raise ValidationError.single("amount", "收款请求无效，请关闭后重新收款")
    return key



# --- balances ----------------------------------------------------------------------------------


def balance(s: Session, customer_id: int, account: str, *, coupon_id: int | None = None) -> int:
    q = select(func.coalesce(func.sum(AccountEntry.amount_fen), 0)).where(
        AccountEntry.customer_id == customer_id, AccountEntry.account == account)
    if coupon_id is not None:
        q = q.where(AccountEntry.coupon_id == coupon_id)
    return int(s.scalar(q) or 0)


def balances(s: Session, customer_id: int) -> dict[str, int]:
    rows = s.execute(select(AccountEntry.account, func.sum(AccountEntry.amount_fen))
                     .where(AccountEntry.customer_id == customer_id).group_by(AccountEntry.account))
    out = dict.fromkeys(ACCOUNT_LABELS, 0)
    out.update({a: int(v or 0) for a, v in rows})
    return out


def package_remaining(s: Session, package_id: int) -> int:
    return int(s.scalar(select(func.coalesce(func.sum(PackageUse.sessions), 0))
                        .where(PackageUse.package_id == package_id)) or 0)


# --- writing a receipt -------------------------------------------------------------------------


def _method(s: Session, method_id: int | None, errors: dict[str, str]) -> PaymentMethod | None:
    method = s.get(PaymentMethod, method_id) if method_id is not None else None
    if method is None:
        errors.setdefault("payment_method", "请选择支付方式")
    elif not method.is_active:
        errors.setdefault("payment_method", f"支付方式“{method.name}”已停用")
    return method


def account_of(method: PaymentMethod) -> str | None:
    return method.kind if method.kind in ASSET_ACCOUNTS else None


def write_receipt(s: Session, actor: Actor, *, kind: str, customer: Customer, key: str,
                  tenders: Sequence[Tender], order_id: int | None = None, note: str = "",
                  external_only: bool = False, sign: int = 1) -> Receipt:
    """A receipt with its tenders, inside the caller's transaction.

    ``sign`` is +1 when the customer pays and −1 when the clinic pays out (refunds): each tender's
    amount is given positive and stored with the sign. A tender through an account method takes the
    money from (or, paid out, puts it into) that account, which must hold enough.
    """
    day = bizday.posting_day(s)  # locked: the close of this day waits for this transaction
    now = clock.now()
    errors: dict[str, str] = {}
    rows: list[tuple[PaymentMethod, int, str | None, Coupon | None]] = []
    for tender in tenders:
        method = _method(s, tender.payment_method_id, errors)
        amount = tender.amount_fen
        if not isinstance(amount, int) or amount <= 0:
            errors.setdefault("amount", "每种支付方式的金额必须大于 0")
            continue
        if amount >= MAX_FEN:
            errors.setdefault("amount", "金额过大")
            continue
        if method is None:
            continue
        account = account_of(method)
        if account is not None and external_only:
            errors.setdefault("payment_method", f"“{method.name}”不能用于这笔收款，请选择现金、银行卡等")
            continue
        coupon = None
        if account == ACCOUNT_COUPON:
            coupon = s.get(Coupon, tender.coupon_id) if tender.coupon_id is not None else None
            if coupon is None or coupon.customer_id != customer.id:
                errors.setdefault("coupon", "请选择顾客的一张券")
                continue
            if sign > 0 and coupon.valid_until < day:
                errors.setdefault("coupon", f"“{coupon.name}”已于 {coupon.valid_until:%Y-%m-%d} 过期")
                continue
        rows.append((method, amount, account, coupon))
    if not rows and not errors:
        errors["amount"] = "请填写收款金额"
    if errors:
        raise ValidationError(errors)
    # Enough in each account (several tenders may draw on the same one).
    wanted: dict[tuple[str, int | None], int] = {}
    for _method_row, amount, account, coupon in rows:
        if account is not None and sign > 0:
            k = (account, coupon.id if coupon else None)
            wanted[k] = wanted.get(k, 0) + amount
    for (account, coupon_id), amount in wanted.items():
        have = balance(s, customer.id, account, coupon_id=coupon_id)
        if amount > have:
            label = ACCOUNT_LABELS[account]
            raise ValidationError.single("amount", f"{label}余额不足：可用 {yuan(have)}，需要 {yuan(amount)}")
    receipt = Receipt(receipt_no=next_receipt_no(s, day), business_date=day, kind=kind, customer_id=customer.id,
                      order_id=order_id, amount_fen=sign * sum(a for _m, a, _ac, _c in rows), status="valid",
                      cashier_id=actor.user_id, created_at=now, idempotency_key=key, note=note.strip()[:MAX_NOTE],
                      reprints=0)
    s.add(receipt)
    s.flush()
    for method, amount, account, coupon in rows:
        s.add(Payment(receipt_id=receipt.id, order_id=order_id, payment_method_id=method.id, account=account,
                      amount_fen=sign * amount, business_date=day, received_by_id=actor.user_id, created_at=now))
        if account is not None:
            post(s, actor, receipt, account, -sign * amount, order_id=order_id,
                 coupon_id=coupon.id if coupon else None)
    return receipt


def post(s: Session, actor: Actor, receipt: Receipt, account: str, amount_fen: int, *, order_id: int | None = None,
         coupon_id: int | None = None, staff_id: int | None = None, department_id: int | None = None,
         inpatient_no: str = "", is_grant: bool = False, note: str = "") -> AccountEntry:
    entry = AccountEntry(customer_id=receipt.customer_id, account=account, amount_fen=amount_fen,
                         receipt_id=receipt.id, order_id=order_id, coupon_id=coupon_id, staff_id=staff_id,
                         department_id=department_id, inpatient_no=inpatient_no, is_grant=is_grant,
                         business_date=receipt.business_date, note=note, created_by_id=actor.user_id,
                         created_at=receipt.created_at)
    s.add(entry)
    return entry


def require_supervisor(supervisor: Actor | None, right: Right, what: str) -> Actor:
    """The supervisor who confirmed ``what`` with their password, holding ``right`` now (their account is
    checked against the database like the cashier's)."""
    if supervisor is None:
        raise ValidationError.single("supervisor", f"{what}需要主管输入密码确认")
    supervisor_live(supervisor)
    if not supervisor.has_right(right):
        raise PermissionDenied(f"{supervisor.label}没有{what}的权限")
    return supervisor


def supervisor_live(supervisor: Actor) -> None:
    """A supervisor's account unchanged since they confirmed; else a refusal that names them (the cashier
    stays logged in)."""
    try:
        supervisor.check_live()
    except AccountChanged:
        raise PermissionDenied(f"主管“{supervisor.label}”的账号已停用或权限已变更，请重新输入主管密码") from None



def receipt_for_key(clinic: Clinic, actor: Actor, key: str) -> ReceiptResult | None:
    """The receipt a money call with this idempotency key wrote, if it went through (within the actor's scope)."""
    actor.require_page(Page.CASHIER)
    key = check_key(key)
    with clinic.read() as s:
        receipt = s.scalar(select(Receipt).where(Receipt.idempotency_key == key))
        if receipt is None:
            return None
        load_in_scope(s, actor, receipt.customer_id)
        return ReceiptResult(receipt.id, receipt.receipt_no, receipt.amount_fen, replayed=True)


def load_receipt(s: Session, actor: Actor, receipt_id: int) -> Receipt:
    receipt = s.get(Receipt, receipt_id)
    if receipt is None:
        raise NotFound("收据不存在")
    load_in_scope(s, actor, receipt.customer_id)
    return receipt




def empty_receipt(s: Session, actor: Actor, kind: str, customer_id: int, order_id: int | None, key: str,
                  note: str = "") -> Receipt:
    """A numbered receipt that moves no money now (all on arrears, a course session, a free coupon)."""
    day = bizday.posting_day(s)
    receipt = Receipt(receipt_no=next_receipt_no(s, day), business_date=day, kind=kind,
                      customer_id=customer_id, order_id=order_id, amount_fen=0, status="valid",
                      cashier_id=actor.user_id, created_at=clock.now(), idempotency_key=key, note=note, reprints=0)
    s.add(receipt)
    s.flush()
    return receipt
