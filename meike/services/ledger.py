"""Money documents and customer accounts: receipts, tenders, deposits 定金, prepaid 预存, coupons 券,
inpatient deposits 住院押金, arrears 欠款 and refunds from a balance.

Every movement of money is one receipt written in one transaction with its tenders and account
entries; a balance is the sum of its entries and is never allowed below zero. A repeated request
with the same idempotency key (double click, retry, crash replay) returns the first receipt and
moves nothing more.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import AccountChanged, NotFound, PermissionDenied, StorageError, ValidationError
from meike.models import (
    AccountEntry,
    Coupon,
    Customer,
    Department,
    Package,
    PackageUse,
    Payment,
    PaymentMethod,
    Receipt,
    Staff,
)
from meike.models.ledger import (
    ACCOUNT_ARREARS,
    ACCOUNT_COUPON,
    ACCOUNT_DEPOSIT,
    ACCOUNT_INPATIENT,
    ACCOUNT_LABELS,
    ACCOUNT_PREPAID,
    ASSET_ACCOUNTS,
)
from meike.money import MAX_FEN, yuan
from meike.permissions import Actor, Page, Right
from meike.rules.text import clean_text, take_text, unsafe_char
from meike.services import audit, bizday, performance
from meike.services.customers import load_in_scope

RECEIPT_KINDS = {
    "settle": "收费收据", "collect": "还款收据", "deposit": "定金收据", "prepaid": "预存收据",
    "coupon": "购券收据", "inpatient": "住院押金收据", "refund": "退款收据", "discharge": "出院退款收据",
    "void": "退单收据", "package_use": "划扣单",
}
MAX_NOTE = 200

T = TypeVar("T")


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


# --- receipt numbers and the once-only guard ---------------------------------------------------


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


def replayed(s: Session, key: str, *, kind: str | tuple[str, ...], customer_id: int | None = None,
             order_id: int | None = None, tenders: Sequence[Tender] | None = None) -> ReceiptResult | None:
    """The receipt an earlier call with this key wrote, if any; a key reused for another thing is refused,
    and so is one sent again with other ``tenders`` (methods and amounts): the first call went through
    as it was, and the cashier must not be told that the corrected amount was taken."""
    receipt = s.scalar(select(Receipt).where(Receipt.idempotency_key == key))
    if receipt is None:
        return None
    kinds = (kind,) if isinstance(kind, str) else kind
    if (receipt.kind not in kinds or (customer_id is not None and receipt.customer_id != customer_id)
            or (order_id is not None and receipt.order_id != order_id)):
        raise ValidationError.single("amount", "收款请求无效，请关闭后重新收款")
    if tenders is not None:
        asked = sorted((t.payment_method_id, abs(t.amount_fen)) for t in tenders
                       if isinstance(t.amount_fen, int) and t.amount_fen)
        done = sorted((m, abs(a)) for m, a in s.execute(
            select(Payment.payment_method_id, Payment.amount_fen).where(Payment.receipt_id == receipt.id)))
        if asked != done:
            raise ValidationError.single("amount", f"这笔已经办理过（收据 {receipt.receipt_no}，{yuan(abs(receipt.amount_fen))}），"
                                                   "与现在填写的金额或支付方式不同，没有再次收付。请核对收据后关闭窗口重新办理")
    return ReceiptResult(receipt.id, receipt.receipt_no, receipt.amount_fen, replayed=True)


TRANSIENT_ATTEMPTS = 4


def transient(exc: BaseException) -> bool:
    """A conflict that goes away when the transaction is run again: SQLite busy past its timeout,
    a PostgreSQL deadlock or serialization failure."""
    if isinstance(exc, StorageError):
        return exc.transient
    if not isinstance(exc, OperationalError | DBAPIError):
        return False
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in ("40001", "40P01") or "database is locked" in str(exc)


def once(clinic: Clinic, key: str, work: Callable[[], T], replay: Callable[[Session], T | None]) -> T:
    """Run ``work``; if another workstation committed the same key meanwhile, return what it wrote.

    A transient conflict with another workstation is retried (nothing was written by the failed
    attempt), so a busy database never reaches the cashier as an error.
    """
    for attempt in range(TRANSIENT_ATTEMPTS):
        try:
            return work()
        except IntegrityError:
            with clinic.read() as s:
                found = replay(s)
            if found is None:
                raise
            return found
        except (OperationalError, DBAPIError, StorageError) as e:
            if not transient(e) or attempt == TRANSIENT_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1) * (1 + random.random()))
    raise AssertionError("unreachable")


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


# --- deposits, prepaid, coupons, inpatient deposits ---------------------------------------------


def _customer(s: Session, actor: Actor, customer_id: int | None) -> Customer:
    """The customer, locked for this transaction: money of one customer moves one transaction at a time
    (PostgreSQL; SQLite's writers hold the whole database), so balances are read and spent exactly."""
    if customer_id is None:
        raise ValidationError.single("customer", "请选择顾客")
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
    key = check_key(idempotency_key)

    def work() -> ReceiptResult:
        with clinic.write() as s:
            customer = _customer(s, actor, customer_id)
            again = replayed(s, key, kind=account, customer_id=customer.id, tenders=tenders)
            if again is not None:
                return again
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

    return once(clinic, key, work, lambda s: replayed(s, key, kind=account, tenders=tenders))


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
    key = check_key(idempotency_key)

    def work() -> ReceiptResult:
        with clinic.write() as s:
            customer = _customer(s, actor, customer_id)
            again = replayed(s, key, kind="coupon", customer_id=customer.id, tenders=tenders)
            if again is not None:
                return again
            # Checked after the replay: a retry after midnight of a sale that went through gets its receipt.
            if expired:
                raise ValidationError.single("valid_until", "有效期不能早于今天")
            if tenders:
                receipt = write_receipt(s, actor, kind="coupon", customer=customer, key=key, tenders=tenders,
                                        note=name, external_only=True)
            else:
                day = bizday.posting_day(s)
                receipt = Receipt(receipt_no=next_receipt_no(s, day), business_date=day, kind="coupon",
                                  customer_id=customer.id, order_id=None, amount_fen=0, status="valid",
                                  cashier_id=actor.user_id, created_at=clock.now(), idempotency_key=key,
                                  note=f"赠券 {name}", reprints=0)
                s.add(receipt)
                s.flush()
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

    return once(clinic, key, work, lambda s: replayed(s, key, kind="coupon", tenders=tenders))


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
    key = check_key(idempotency_key)
    kind = "discharge" if account == ACCOUNT_INPATIENT else "refund"

    def work() -> ReceiptResult:
        with clinic.write() as s:
            customer = _customer(s, actor, customer_id)
            again = replayed(s, key, kind=kind, customer_id=customer.id, tenders=tenders)
            if again is not None:
                return again
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

    return once(clinic, key, work, lambda s: replayed(s, key, kind=kind, tenders=tenders))


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
    coupon_left = dict(s.execute(
        select(AccountEntry.coupon_id, func.sum(AccountEntry.amount_fen))
        .where(AccountEntry.customer_id == customer_id, AccountEntry.coupon_id.is_not(None))
        .group_by(AccountEntry.coupon_id)).all())
    coupons = [CouponView(c.id, c.name, c.face_value_fen, int(coupon_left.get(c.id) or 0), c.valid_until)
               for c in s.scalars(select(Coupon).where(Coupon.customer_id == customer_id).order_by(Coupon.id))]
    left = dict(s.execute(
        select(PackageUse.package_id, func.sum(PackageUse.sessions)).join(Package, Package.id == PackageUse.package_id)
        .where(Package.customer_id == customer_id).group_by(PackageUse.package_id)).all())
    packages = [PackageView(p.id, p.item_id, p.item_name, p.sessions, int(left.get(p.id) or 0), p.value_fen,
                            p.created_at)
                for p in s.scalars(select(Package).where(Package.customer_id == customer_id).order_by(Package.id))]
    inpatient_no = s.scalar(select(AccountEntry.inpatient_no).where(
        AccountEntry.customer_id == customer_id, AccountEntry.account == ACCOUNT_INPATIENT,
        AccountEntry.inpatient_no != "").order_by(AccountEntry.id.desc()).limit(1)) or ""
    return AccountSummary(balances(s, customer_id), coupons, packages, inpatient_no)


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


__all__ = [
    "ACCOUNT_ARREARS", "ACCOUNT_COUPON", "ACCOUNT_DEPOSIT", "ACCOUNT_INPATIENT", "ACCOUNT_PREPAID",
    "AccountSummary", "ReceiptResult", "Tender", "balance", "balances", "customer_accounts", "refund_balance",
    "sell_coupon", "top_up",
]
