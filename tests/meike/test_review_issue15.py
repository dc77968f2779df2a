"""A fresh-eyes review of issue 15's promises: the one idempotent money operation, the declarative
closed-day guard, names of closed days, ``Changes`` and the receipt-number mark.

The desk is tests/meike/conftest_money.py's (李四 has no member level; 水光针 ￥1,280, 脱毛 ￥500).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from meike import changes, check
from meike.db import Clinic
from meike.errors import MeikeError, NotFound, ValidationError
from meike.models import (
    Customer,
    DayClose,
    Order,
    OrderLine,
    PackageUse,
    Payment,
    PaymentMethod,
    PerformanceEntry,
    Receipt,
)
from meike.permissions import DataScope, Page
from meike.services import cashier, dayclose, dictionaries, ledger
from meike.services.bizday import DayClosed
from meike.services.cashier import LineSpec, Tender
from meike.services.dictionaries import Kind
from tests.conftest import make_user
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture, snapshot  # noqa: F401 (fixtures)

MONDAY = date(2026, 3, 2)


def cash(desk: Desk, amount: int) -> Tender:
    return Tender(desk.methods["现金"], amount)


def settled(clinic: Clinic, desk: Desk, *lines: LineSpec, key: str, customer: int | None = None) -> tuple[int, list[int]]:
    order_id = cashier.open_order(clinic, desk.cashier, customer_id=customer or desk.plain, lines=list(lines))
    total = cashier.get_order(clinic, desk.cashier, order_id).total_fen
    cashier.pay(clinic, desk.cashier, order_id, [cash(desk, total)], idempotency_key=key)
    with clinic.read() as s:
        ids = list(s.scalars(select(OrderLine.id).where(OrderLine.order_id == order_id).order_by(OrderLine.id)))
    return order_id, ids


def closed_monday(clinic: Clinic, desk: Desk, frozen: list[datetime]) -> tuple[int, list[int]]:
    """A sale on Monday, Monday closed, the clock on Tuesday."""
    order = settled(clinic, desk, LineSpec(desk.items["脱毛"]), key="monday-sale")
    report = dayclose.day_report(clinic, desk.cashier)
    dayclose.close_day(clinic, desk.cashier, counted_cash_fen=report.expected_cash_fen)
    frozen[0] = frozen[0] + timedelta(days=1)
    return order


# --- money_op: a key bound to its target ---------------------------------------------------------


def test_a_price_change_key_sent_again_as_a_payment_of_the_order_is_refused(clinic: Clinic, desk: Desk) -> None:
    """A price change 补差 collected with ``tenders`` writes a "collect" receipt on the order: a payment
    (还欠款) of the same order sent with that key is another request and must not be answered with it."""
    order_id, (line,) = settled(clinic, desk, LineSpec(desk.items["脱毛"]), key="sale")
    cashier.reprice_line(clinic, desk.cashier, line, unit_price_fen=52_000, reason="改", supervisor=None,
                         tenders=[cash(desk, 1_000)], idempotency_key="rep")
    books = snapshot(clinic)
    with pytest.raises(ValidationError):
        cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 1_000)], idempotency_key="rep")
    assert snapshot(clinic) == books


def test_a_key_of_a_customer_out_of_scope_is_not_described_to_another_target(clinic: Clinic, desk: Desk) -> None:
    """A replay by an account that does not see the receipt's customer learns nothing of it: not its
    number and amount through the refusal of another target ("这笔已经办理过（收据 R…，￥…）")."""
    _order, (line,) = settled(clinic, desk, LineSpec(desk.items["脱毛"]), key="sale")
    cashier.refund_line(clinic, desk.cashier, line, amount_fen=6_000, tenders=[cash(desk, 6_000)], reason="退",
                        supervisor=desk.boss, reverse_performance=True, idempotency_key="ref")
    own = make_user(clinic, desk.admin, "own", pages=[Page.CASHIER, Page.CUSTOMERS, Page.REGISTRATION],
                    scope=DataScope.OWN)
    from meike.services import customers
    mine = customers.register_customer(clinic, own, name="赵六", mobile="13600003333")
    _own_order, (own_line,) = settled(clinic, desk, LineSpec(desk.items["脱毛"]), key="own-sale", customer=mine)
    books = snapshot(clinic)
    with pytest.raises(NotFound):
        cashier.refund_line(clinic, own, own_line, amount_fen=6_000, tenders=[cash(desk, 6_000)], reason="退",
                            supervisor=desk.boss, reverse_performance=True, idempotency_key="ref")
    assert snapshot(clinic) == books
