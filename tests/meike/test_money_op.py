"""The one idempotent money operation (``ledger.money_op``): a key is bound to its target — kind,
customer, order, line or course, amount, tenders — and a retry never writes twice.

The desk is tests/meike/conftest_money.py's (李四 has no member level; 水光针 ￥1,280, 脱毛 ￥500).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meike.db import Clinic
from meike.errors import StorageError, ValidationError
from meike.models import OrderLine, Receipt
from meike.services import cashier, ledger
from meike.services.cashier import LineSpec, Tender
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture, snapshot  # noqa: F401 (fixtures)

OTHER_TARGET = "与现在要办理的项目、数量或金额不同，没有再次收付"


def cash(desk: Desk, amount: int) -> Tender:
    return Tender(desk.methods["现金"], amount)


def settled(clinic: Clinic, desk: Desk, *lines: LineSpec, key: str) -> tuple[int, list[int]]:
    """A paid order of 李四 and its line ids."""
    order_id = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=list(lines))
    total = sum(cashier.get_order(clinic, desk.cashier, order_id).lines[i].amount_fen for i in range(len(lines)))
    cashier.pay(clinic, desk.cashier, order_id, [cash(desk, total)], idempotency_key=key)
    with clinic.read() as s:
        ids = list(s.scalars(select(OrderLine.id).where(OrderLine.order_id == order_id).order_by(OrderLine.id)))
    return order_id, ids


def refused(call, text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as e:
        call()
    assert any(text in m for m in e.value.errors.values()), e.value.errors


def test_a_refund_key_sent_again_for_another_line_is_refused_and_writes_nothing(clinic: Clinic, desk: Desk) -> None:
    _order, (first, second) = settled(clinic, desk, LineSpec(desk.items["水光针"]), LineSpec(desk.items["脱毛"]),
                                      key="sale")

    def refund(line: int, amount: int = 6_000) -> cashier.PayResult:
        return cashier.refund_line(clinic, desk.cashier, line, amount_fen=amount, tenders=[cash(desk, amount)],
                                   reason="退", supervisor=desk.boss, reverse_performance=True,
                                   idempotency_key="ref")

    done = refund(first)
    books = snapshot(clinic)
    again = refund(first)
    assert (again.receipt_no, again.replayed) == (done.receipt_no, True)
    refused(lambda: refund(second), OTHER_TARGET)  # another line: not answered with the first line's receipt
    refused(lambda: refund(first, 5_000), "没有再次收付")  # another amount
    assert snapshot(clinic) == books


def test_a_price_change_key_sent_again_for_another_line_or_price_is_refused(clinic: Clinic, desk: Desk) -> None:
    _order, (first, second) = settled(clinic, desk, LineSpec(desk.items["水光针"]), LineSpec(desk.items["水光针"]),
                                      key="sale")

    def reprice(line: int, price: int = 130_000) -> cashier.PayResult:
        return cashier.reprice_line(clinic, desk.cashier, line, unit_price_fen=price, reason="改", supervisor=None,
                                    tenders=[], idempotency_key="rep")

    done = reprice(first)
    books = snapshot(clinic)
    assert reprice(first).receipt_no == done.receipt_no and reprice(first).replayed
    refused(lambda: reprice(second), OTHER_TARGET)
    refused(lambda: reprice(first, 131_000), OTHER_TARGET)
    assert snapshot(clinic) == books
    # A lower price of the same line later on, with its own key, goes through (the ￥20 owed is cancelled first).
    lower = cashier.reprice_line(clinic, desk.cashier, first, unit_price_fen=120_000, reason="改", supervisor=desk.boss,
                                 tenders=[cash(desk, 8_000)], idempotency_key="rep-2", reverse_performance=True)
    assert not lower.replayed
    assert reprice(first).receipt_no == done.receipt_no  # the first change still answers its key


def test_a_course_refund_key_is_bound_to_its_course_and_sessions(clinic: Clinic, desk: Desk) -> None:
    settled(clinic, desk, LineSpec(desk.items["脱毛"], 1, 100_000, package_sessions=2), key="sale-a")
    settled(clinic, desk, LineSpec(desk.items["脱毛"], 1, 100_000, package_sessions=2), key="sale-b")
    courses = [p.id for p in ledger.customer_accounts(clinic, desk.cashier, desk.plain).packages]

    def refund(package: int, sessions: int = 1) -> cashier.PayResult:
        return cashier.refund_package(clinic, desk.cashier, package, sessions=sessions,
                                      tenders=[cash(desk, 50_000 * sessions)], reason="退", supervisor=desk.boss,
                                      reverse_performance=True, idempotency_key="pkg")

    done = refund(courses[0])
    books = snapshot(clinic)
    assert refund(courses[0]).receipt_no == done.receipt_no
    refused(lambda: refund(courses[1]), OTHER_TARGET)
    refused(lambda: refund(courses[0], 2), "没有再次收付")
    # A line refund with a course refund's key is another kind of request.
    refused(lambda: cashier.refund_line(clinic, desk.cashier, 1, amount_fen=1, tenders=[cash(desk, 1)], reason="退",
                                        supervisor=desk.boss, reverse_performance=True, idempotency_key="pkg"),
            "没有再次收付")
    assert snapshot(clinic) == books


def test_a_coupon_key_is_bound_to_its_face_value(clinic: Clinic, desk: Desk, frozen: list[datetime]) -> None:
    def sell(face: int) -> ledger.ReceiptResult:
        return ledger.sell_coupon(clinic, desk.cashier, desk.plain, name="代金券", face_value_fen=face,
                                  valid_until=frozen[0].date(), tenders=[], idempotency_key="cpn",
                                  supervisor=desk.boss)

    done = sell(50_000)
    books = snapshot(clinic)
    assert sell(50_000).receipt_no == done.receipt_no
    refused(lambda: sell(80_000), OTHER_TARGET)  # a free coupon of another value is not the one given
    assert snapshot(clinic) == books


def _receipts(clinic: Clinic) -> int:
    with clinic.read() as s:
        return s.scalar(select(func.count(Receipt.id))) or 0


def test_a_retry_after_a_commit_whose_answer_was_lost_does_not_write_twice(
        clinic: Clinic, desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection drops as the commit goes through (PostgreSQL: "server closed the connection"):
    the error is transient, ``once`` runs the request again, and the retry answers from its receipt."""
    order_id = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[LineSpec(desk.items["脱毛"])])
    before = _receipts(clinic)
    real = clinic.write
    attempts: list[int] = []
    monkeypatch.setattr("meike.services.ledger.idempotent.time.sleep", lambda _s: None)

    @contextmanager
    def committed_then_lost() -> Iterator[Session]:
        attempts.append(1)
        with real() as s:
            yield s
        if len(attempts) == 1:
            raise StorageError("连接不上数据库服务器", transient=True)

    monkeypatch.setattr(clinic, "write", committed_then_lost)
    paid = cashier.pay(clinic, desk.cashier, order_id, [cash(desk, 50_000)], idempotency_key="lost")
    assert len(attempts) == 2 and paid.replayed
    assert _receipts(clinic) == before + 1


def test_a_transient_failure_before_the_commit_is_retried_and_written_once(
        clinic: Clinic, desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _receipts(clinic)
    real = clinic.write
    attempts: list[int] = []
    monkeypatch.setattr("meike.services.ledger.idempotent.time.sleep", lambda _s: None)

    @contextmanager
    def deadlocked_once() -> Iterator[Session]:
        attempts.append(1)
        with real() as s:
            yield s
            if len(attempts) == 1:
                raise StorageError("数据库正忙", transient=True)  # rolled back: nothing of it is written

    monkeypatch.setattr(clinic, "write", deadlocked_once)
    done = ledger.top_up(clinic, desk.cashier, desk.plain, account="prepaid", tenders=[cash(desk, 10_000)],
                         idempotency_key="busy")
    assert len(attempts) == 2 and not done.replayed
    assert _receipts(clinic) == before + 1
    assert ledger.customer_accounts(clinic, desk.cashier, desk.plain).balances["prepaid"] == 10_000
