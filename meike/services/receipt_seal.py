"""A receipt's seal: a digest of everything a money document moved, kept in the audit row that wrote it.

The audit log is a hash chain anchored outside the database (``audit_guard``); the money rows are not.
So the audit row of every money action carries a seal of its receipt — the customer, the order, kind,
amount, business date, cashier and time, every tender (method, account, amount, order, who took it), every account
entry (customer, account, amount, grant, coupon, order) and every performance credit (role, staff,
department, line, amount) written with it. ``meike.check`` recomputes the seal from the rows as they are
now: a tender moved to another method, a deposit turned into prepaid, a top-up moved to another
customer, a commission moved to another consultant, on an open day as on a closed one, no longer agrees
with the log. (Rows written before seals existed carry none and are compared as before.)

The seal is a plain SHA-256 like the chain: it proves what the log proves, no more (README, Data safety).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike.models import AccountEntry, Payment, PerformanceEntry, Receipt

# The audit actions that write a receipt (its number in ``after["receipt_no"]``), with the receipt's amount
# as the row gives it ("-": the row keeps it positive; "tenders": the sum of the row's own tender list).
# Each of them seals its receipt.
MONEY_ACTIONS = {
    "account.deposit": "amount_fen", "account.prepaid": "amount_fen", "account.inpatient": "amount_fen",
    "account.coupon": "price_fen", "account.refund": "-amount_fen", "account.discharge": "-amount_fen",
    "order.settle": "paid_fen", "order.collect": "paid_fen", "order.void": "-refunded_fen",
    "order.refund": "tenders", "order.package_refund": "tenders", "order.reprice": "paid_fen",
}
SEALED_ACTIONS = frozenset(MONEY_ACTIONS)

_RECEIPT = (Receipt.id, Receipt.receipt_no, Receipt.kind, Receipt.customer_id, Receipt.order_id, Receipt.amount_fen,
            Receipt.business_date, Receipt.cashier_id, Receipt.created_at)
_PAYMENT = (Payment.receipt_id, Payment.payment_method_id, Payment.account, Payment.amount_fen, Payment.order_id,
            Payment.received_by_id, Payment.business_date)
_ENTRY = (AccountEntry.receipt_id, AccountEntry.customer_id, AccountEntry.account, AccountEntry.amount_fen,
          AccountEntry.is_grant, AccountEntry.coupon_id, AccountEntry.order_id)
_CREDIT = (PerformanceEntry.receipt_id, PerformanceEntry.role, PerformanceEntry.staff_id,
           PerformanceEntry.department_id, PerformanceEntry.order_line_id, PerformanceEntry.amount_fen)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "1" if value else "0"
    if hasattr(value, "isoformat"):
        return str(value.isoformat(timespec="seconds") if hasattr(value, "hour") else value.isoformat())
    return str(value)


def _digest(receipt: tuple[Any, ...], payments: Iterable[tuple[Any, ...]], entries: Iterable[tuple[Any, ...]],
            credits: Iterable[tuple[Any, ...]]) -> str:
    lines = ["R " + "|".join(_text(v) for v in receipt[1:])]
    for tag, rows in (("P", payments), ("A", entries), ("C", credits)):
        lines += sorted(f"{tag} " + "|".join(_text(v) for v in row[1:]) for row in rows)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:32]


def seal(s: Session, receipt_no: str) -> str | None:
    """The seal of the receipt ``receipt_no`` as its rows are now (None when there is no such receipt)."""
    receipt = s.execute(select(*_RECEIPT).where(Receipt.receipt_no == receipt_no)).first()
    if receipt is None:
        return None
    rid = receipt[0]
    return _digest(tuple(receipt),
                   s.execute(select(*_PAYMENT).where(Payment.receipt_id == rid)).tuples().all(),
                   s.execute(select(*_ENTRY).where(AccountEntry.receipt_id == rid)).tuples().all(),
                   s.execute(select(*_CREDIT).where(PerformanceEntry.receipt_id == rid)).tuples().all())


def _stream(s: Session, columns: tuple[Any, ...], key: Any) -> Iterator[tuple[int, list[tuple[Any, ...]]]]:
    rows = s.execute(select(*columns).order_by(key).execution_options(yield_per=20_000)).tuples()
    for rid, group in groupby(rows, key=lambda r: r[0]):
        yield rid, list(group)


def all_seals(s: Session) -> Iterator[tuple[str, str]]:
    """(receipt number, seal) of every receipt, by id, in one pass over each table."""
    streams = [_stream(s, _PAYMENT, Payment.receipt_id), _stream(s, _ENTRY, AccountEntry.receipt_id),
               _stream(s, _CREDIT, PerformanceEntry.receipt_id)]
    heads: list[tuple[int, list[tuple[Any, ...]]] | None] = [next(it, None) for it in streams]
    receipts = s.execute(select(*_RECEIPT).order_by(Receipt.id).execution_options(yield_per=20_000)).tuples()
    for receipt in receipts:
        rid = receipt[0]
        parts: list[list[tuple[Any, ...]]] = []
        for i, it in enumerate(streams):
            while heads[i] is not None and heads[i][0] < rid:  # type: ignore[index]
                heads[i] = next(it, None)  # rows of a receipt that is gone: the receipt check tells
            head = heads[i]
            if head is not None and head[0] == rid:
                parts.append(head[1])
                heads[i] = next(it, None)
            else:
                parts.append([])
        yield receipt[1], _digest(tuple(receipt), *parts)
