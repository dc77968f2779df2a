"""The one idempotent money operation.

A money request carries an idempotency key (the dialog's, kept across a double click, a retry, a crash
replay). ``money_op`` runs it once: in the write transaction it first looks for a receipt with that key
— found, it answers with that receipt and moves nothing more — and only then writes. The key is bound to
its target (kind, customer, order, line or course, amount, tenders): the same key sent for another
target is refused with a message and writes nothing, never answered with the other receipt.

A transient conflict with another workstation (a PostgreSQL deadlock or serialization failure, a
connection lost) is retried. A retry can never write twice: every attempt starts with the look-up by key
inside its own write transaction, so an attempt whose commit went through although its connection
failed is answered from its receipt; and two workstations racing with one key meet on the key's unique
index, the loser answered from the winner's receipt.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from meike.db import Clinic
from meike.errors import StorageError, ValidationError
from meike.models import (
    AccountEntry,
    Coupon,
    OrderAdjustment,
    OrderLine,
    PackageUse,
    Payment,
    PaymentMethod,
    Receipt,
)
from meike.models.ledger import ACCOUNT_COUPON
from meike.money import yuan
from meike.permissions import Actor
from meike.services import bizday
from meike.services.customers import load_in_scope
from meike.services.ledger.core import ReceiptResult, Tender, check_key

T = TypeVar("T")

INVALID_KEY = "收款请求无效，请关闭后重新收款"


@dataclass(frozen=True)
class Target:
    """What an idempotency key was sent for; a field left None is not checked.

    ``line_id``/``package_id``: the receipt's order adjustment is on this line / its course use on this
    course. ``adjustment_kind``: that adjustment's kind.
    ``adjusted_fen``: its amount (a refund: negative). ``line_unit_price_fen``: the line's
    unit price after that adjustment (a price change). ``sessions``: the course sessions moved (a course
    refund: negative). ``tenders``: the methods and amounts, as in the first call. ``standalone``: a receipt
    of no order (a balance's). ``account``: the receipt moved this account. ``coupon_face_fen``: the coupon it
    sold has this face value. ``no_adjustment``: the receipt changed no order line (a payment of the
    order, not a price change's 补差 collected on it, which is a "collect" receipt of the same order too).
    """

    kind: str | tuple[str, ...]
    customer_id: int | None = None
    order_id: int | None = None
    standalone: bool = False
    line_id: int | None = None
    adjustment_kind: str | None = None
    adjusted_fen: int | None = None
    line_unit_price_fen: int | None = None
    package_id: int | None = None
    sessions: int | None = None
    account: str | None = None
    coupon_face_fen: int | None = None
    tenders: Sequence[Tender] | None = None
    no_adjustment: bool = False


def _other_target(receipt: Receipt) -> ValidationError:
    return ValidationError.single("amount", f"这笔已经办理过（收据 {receipt.receipt_no}，{yuan(abs(receipt.amount_fen))}），"
                                            "与现在要办理的项目、数量或金额不同，没有再次收付。请核对收据后关闭窗口重新办理")


def _priced_at(s: Session, adjustment: OrderAdjustment, unit_price_fen: int) -> bool:
    """Whether the adjustment's line was worth ``unit_price_fen`` a unit right after it."""
    line = s.get(OrderLine, adjustment.order_line_id)
    assert line is not None
    return line.amount_fen + int(s.scalar(select(func.coalesce(func.sum(OrderAdjustment.amount_fen), 0)).where(
        OrderAdjustment.order_line_id == adjustment.order_line_id, OrderAdjustment.id <= adjustment.id)) or 0) == unit_price_fen * line.quantity


def check_target(s: Session, receipt: Receipt, target: Target) -> None:
    """Refuse ``receipt`` as the answer to a request for ``target`` unless it is what that request wrote."""
    kinds = (target.kind,) if isinstance(target.kind, str) else target.kind
    if (receipt.kind not in kinds or (target.customer_id is not None and receipt.customer_id != target.customer_id)
            or (target.order_id is not None and receipt.order_id != target.order_id)
            or (target.standalone and receipt.order_id is not None)):
        raise ValidationError.single("amount", INVALID_KEY)
    if (target.line_id is not None or target.adjustment_kind is not None or target.adjusted_fen is not None
            or target.line_unit_price_fen is not None):
        adjustment = s.scalar(select(OrderAdjustment).where(OrderAdjustment.receipt_id == receipt.id)
                              .order_by(OrderAdjustment.id).limit(1))
        if (adjustment is None or (target.line_id is not None and adjustment.order_line_id != target.line_id)
                or (target.adjustment_kind is not None and adjustment.kind != target.adjustment_kind)
                or (target.adjusted_fen is not None and adjustment.amount_fen != target.adjusted_fen)
                or (target.line_unit_price_fen is not None
                    and not _priced_at(s, adjustment, target.line_unit_price_fen))):
            raise _other_target(receipt)
    if target.no_adjustment and s.scalar(select(OrderAdjustment.id).where(
            OrderAdjustment.receipt_id == receipt.id).limit(1)) is not None:
        raise _other_target(receipt)
    if target.package_id is not None or target.sessions is not None:
        use = s.scalar(select(PackageUse).where(PackageUse.receipt_id == receipt.id).order_by(PackageUse.id).limit(1))
        if (use is None or (target.package_id is not None and use.package_id != target.package_id)
                or (target.sessions is not None and use.sessions != target.sessions)):
            raise _other_target(receipt)
    if target.account is not None and s.scalar(select(AccountEntry.id).where(
            AccountEntry.receipt_id == receipt.id, AccountEntry.account == target.account).limit(1)) is None:
        raise ValidationError.single("amount", INVALID_KEY)
    if target.coupon_face_fen is not None and s.scalar(
            select(Coupon.face_value_fen).where(Coupon.receipt_id == receipt.id)) != target.coupon_face_fen:
        raise _other_target(receipt)
    if target.tenders is not None:
        asked = sorted((t.payment_method_id, abs(t.amount_fen)) for t in target.tenders
                       if isinstance(t.amount_fen, int) and t.amount_fen)
        done = sorted((m, abs(a)) for m, a in s.execute(
            select(Payment.payment_method_id, Payment.amount_fen).where(Payment.receipt_id == receipt.id)))
        if asked == done:  # the same methods and amounts: the same coupons spent (or paid back into) too
            coupon_methods = set(s.scalars(select(PaymentMethod.id).where(PaymentMethod.kind == ACCOUNT_COUPON)))
            asked_coupons = sorted(t.coupon_id or 0 for t in target.tenders if t.payment_method_id in coupon_methods
                                   and isinstance(t.amount_fen, int) and t.amount_fen)
            done_coupons = sorted(c or 0 for c in s.scalars(select(AccountEntry.coupon_id).where(
                AccountEntry.receipt_id == receipt.id, AccountEntry.account == ACCOUNT_COUPON,
                AccountEntry.is_grant.is_(False))))
            if asked_coupons and asked_coupons != done_coupons:
                done = []
        if asked != done:
            raise ValidationError.single("amount", f"这笔已经办理过（收据 {receipt.receipt_no}，{yuan(abs(receipt.amount_fen))}），"
                                                   "与现在填写的金额或支付方式不同，没有再次收付。请核对收据后关闭窗口重新办理")


def replayed_for(s: Session, key: str, target: Target, actor: Actor | None = None) -> ReceiptResult | None:
    """The receipt an earlier call with this key wrote, if any. A key reused for another target is refused,
    and so is one sent again with other tenders (methods and amounts): the first call went through as it
    was, and the cashier must not be told that the corrected amount was taken. With ``actor``, the
    receipt's customer must be in their scope first (NotFound): the refusal of another target names the
    receipt's number and amount."""
    receipt = s.scalar(select(Receipt).where(Receipt.idempotency_key == key))
    if receipt is None:
        return None
    if actor is not None:
        load_in_scope(s, actor, receipt.customer_id)
    check_target(s, receipt, target)
    return ReceiptResult(receipt.id, receipt.receipt_no, receipt.amount_fen, replayed=True)


TRANSIENT_ATTEMPTS = 4


def transient(exc: BaseException) -> bool:
    """A conflict that goes away when the transaction is run again: a PostgreSQL deadlock or serialization
    failure, a connection lost, SQLite busy outside a write. A write that found SQLite busy has already
    waited its busy timeout and is reported, not retried (``clinic.write`` makes it a StorageError that is
    not transient)."""
    if isinstance(exc, StorageError):
        return exc.transient
    if not isinstance(exc, OperationalError | DBAPIError):
        return False
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in ("40001", "40P01") or "database is locked" in str(exc)


def once(clinic: Clinic, key: str, work: Callable[[], T], replay: Callable[[Session], T | None]) -> T:
    """Run ``work``; if another workstation committed the same key meanwhile, return what it wrote.

    A transient conflict with another workstation is retried, so a busy database never reaches the
    cashier as an error. ``work`` must look the key up (``replay``) first in its own transaction, as
    ``money_op`` does: an attempt that failed after its commit went through is then answered, not
    written again. The waits between attempts run on the task manager's database worker, never on the
    GUI thread.
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


def money_op(clinic: Clinic, actor: Actor, key: str, target: Target, write: Callable[[Session, str], T],
             answer: Callable[[Session, ReceiptResult], T]) -> T:
    """Run the money request ``write`` once for ``key``.

    ``write(session, key)`` does the work in the write transaction and writes a receipt with ``key``.
    A request already done answers ``answer(session, receipt)`` (after checking the receipt's customer is
    in ``actor``'s scope), whether found before writing or after losing the race for the key; a receipt
    written for another ``target`` is refused.
    """
    key = check_key(key)

    def replay(s: Session) -> T | None:
        found = replayed_for(s, key, target, actor)
        if found is None:
            return None
        return answer(s, found)

    def work() -> T:
        with clinic.write() as s:
            again = replay(s)
            if again is not None:
                return again
            # The day's lock, which every money write takes (``bizday.posting_day``), before looking again:
            # the same request still being written at another workstation (PostgreSQL) has committed when
            # we get it, and is answered here. Looked up only before, the request would find that
            # workstation's effect (the order settled, the course used) and be refused for it.
            bizday.posting_day(s)
            again = replay(s)
            if again is not None:
                return again
            return write(s, key)

    return once(clinic, key, work, replay)


def receipt_answer(s: Session, found: ReceiptResult) -> ReceiptResult:
    """The answer of a request that returns its receipt as it is."""
    return found
