"""Money and the daily close 日结 take turns on the business day, from any number of workstations.

Every money write (payments, collections, top-ups, coupon sales, refunds, voids, course deductions,
price changes) locks the day's counter row before it decides which day it posts on, and the close
locks the same row before it counts the day. So a payment that is still open when another PC closes
the day is counted by that close, and a payment started while a close is open waits for it and then
posts on the next day. Nothing lands on a day after its close counted it (issue 14/13).

Two real connections (two threads, each its own transaction): the first transaction is held open
just before its commit (a ``before_commit`` hook waits on an Event); the second one is started and
the test waits until it is blocked on a lock (PostgreSQL: ``pg_stat_activity``; SQLite: it is inside
``BEGIN IMMEDIATE``) or has finished; then the first is let go. No sleeps, no timing.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from meike import check
from meike.db import Clinic
from meike.models import OrderLine, Receipt
from meike.services import cashier, dayclose, ledger
from meike.services.cashier import LineSpec, Tender
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture  # noqa: F401 (fixtures)

MONDAY = date(2026, 3, 2)
TUESDAY = date(2026, 3, 3)
PATIENCE = 60.0  # seconds: only a hung test ever waits this long


class Hold:
    """Holds the first commit of one thread open (flushed, locks taken) until ``release`` is set."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, session: Session) -> None:
        if threading.current_thread() is not self.thread:
            return
        self.thread = None  # only the first commit
        session.flush()
        self.reached.set()
        assert self.release.wait(PATIENCE), "the test never let the held transaction go"


@pytest.fixture(name="hold")
def hold_fixture() -> Iterator[Hold]:
    hold = Hold()
    event.listen(Session, "before_commit", hold)
    yield hold
    hold.release.set()
    event.remove(Session, "before_commit", hold)


class Runner(threading.Thread):
    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work, self.result, self.error = work, None, None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as e:  # noqa: BLE001 (handed to the test)
            self.error = e
        finally:
            self.done.set()

    def outcome(self) -> Any:
        assert self.done.wait(PATIENCE), "the second transaction never finished"
        if self.error is not None:
            raise self.error
        return self.result


class Waiting:
    """Whether a thread is waiting for a lock: PostgreSQL reports it; SQLite's waiters announce BEGIN IMMEDIATE."""

    def __init__(self, clinic: Clinic) -> None:
        self.clinic = clinic
        self.entered = threading.Event()
        self.thread: threading.Thread | None = None
        if clinic.engine.dialect.name == "sqlite":
            event.listen(clinic.engine, "before_cursor_execute", self._statement)

    def _statement(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if threading.current_thread() is self.thread and statement.startswith("BEGIN IMMEDIATE"):
            self.entered.set()

    def __call__(self) -> bool:
        if self.clinic.engine.dialect.name == "sqlite":
            return self.entered.is_set()
        with self.clinic.engine.connect() as conn:
            return bool(conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'").scalar())


def blocked_or_done(runner: Runner, waiting: Waiting) -> bool:
    """True when the second transaction waits for a lock; False when it finished without waiting."""
    deadline = threading.Event()
    timer = threading.Timer(PATIENCE, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            if waiting():
                return True
            if runner.done.wait(0.01):
                return waiting()
        raise AssertionError("the second transaction neither waited nor finished")
    finally:
        timer.cancel()


# --- every money write, prepared on Monday -------------------------------------------------------------


@dataclass
class Books:
    clinic: Clinic
    desk: Desk

    def cash(self, amount: int) -> Tender:
        return Tender(self.desk.methods["现金"], amount)

    def order(self, customer: int, *lines: LineSpec) -> int:
        return cashier.open_order(self.clinic, self.desk.cashier, customer_id=customer, lines=list(lines))

    def line(self, order_id: int) -> int:
        with self.clinic.read() as s:
            found = s.scalar(select(OrderLine.id).where(OrderLine.order_id == order_id).order_by(OrderLine.id))
        assert found is not None
        return found


def _granting(boss: Any) -> dict[str, Any]:
    """A free coupon needs the supervisor where the service asks for one (issue 14/11)."""
    return {"supervisor": boss} if "supervisor" in inspect.signature(ledger.sell_coupon).parameters else {}


def _money_calls(b: Books) -> dict[str, Callable[[], Any]]:
    """Each money operation, its preparation done now: name → the call that posts it."""
    d, c, sy, boss = b.desk, b.clinic, b.desk.cashier, b.desk.boss
    item = LineSpec(d.items["脱毛"], 1, 50_000)
    ledger.top_up(c, sy, d.plain, account="prepaid", tenders=[b.cash(200_000)], idempotency_key="prep-prepaid")
    ledger.top_up(c, sy, d.plain, account="inpatient", tenders=[b.cash(100_000)], idempotency_key="prep-in",
                  inpatient_no="Z1")
    new = b.order(d.plain, item)
    empty = b.order(d.plain, item)
    owing = b.order(d.plain, item)
    cashier.pay(c, sy, owing, [b.cash(10_000)], idempotency_key="prep-owing", allow_arrears=True)
    settled = b.order(d.plain, LineSpec(d.items["脱毛"], 1, 50_000), LineSpec(d.items["水光针"], 1, 100_000))
    cashier.pay(c, sy, settled, [b.cash(150_000)], idempotency_key="prep-settled")
    cheaper = b.order(d.plain, item)
    cashier.pay(c, sy, cheaper, [b.cash(50_000)], idempotency_key="prep-cheaper")
    voidable = b.order(d.plain, item)
    cashier.pay(c, sy, voidable, [b.cash(50_000)], idempotency_key="prep-void")
    course = b.order(d.plain, LineSpec(d.items["脱毛"], 1, 200_000, package_sessions=4))
    cashier.pay(c, sy, course, [b.cash(200_000)], idempotency_key="prep-course")
    package = ledger.customer_accounts(c, sy, d.plain).packages[0].id
    deduction = b.order(d.plain, LineSpec(d.items["脱毛"], package_id=package))
    with c.read() as s:
        lines = dict(s.execute(select(OrderLine.item_name, OrderLine.id).where(OrderLine.order_id == settled)).all())
    return {
        "deposit": lambda: ledger.top_up(c, sy, d.member, account="deposit", tenders=[b.cash(30_000)],
                                         idempotency_key="k"),
        "prepaid": lambda: ledger.top_up(c, sy, d.member, account="prepaid", tenders=[b.cash(30_000)],
                                         idempotency_key="k"),
        "coupon sold": lambda: ledger.sell_coupon(c, sy, d.member, name="券", face_value_fen=30_000,
                                                  valid_until=TUESDAY, tenders=[b.cash(30_000)], idempotency_key="k"),
        "coupon given": lambda: ledger.sell_coupon(c, sy, d.member, name="券", face_value_fen=30_000,
                                                   valid_until=TUESDAY, tenders=[], idempotency_key="k",
                                                   **_granting(boss)),
        "balance refund": lambda: ledger.refund_balance(c, sy, d.plain, account="prepaid", tenders=[b.cash(5_000)],
                                                        idempotency_key="k", supervisor=boss, reason="退"),
        "discharge": lambda: ledger.refund_balance(c, sy, d.plain, account="inpatient", tenders=[b.cash(5_000)],
                                                   idempotency_key="k", supervisor=boss, reason="出院"),
        "settle": lambda: cashier.pay(c, sy, new, [b.cash(50_000)], idempotency_key="k"),
        "settle on arrears": lambda: cashier.pay(c, sy, empty, [], idempotency_key="k", allow_arrears=True),
        "collect": lambda: cashier.pay(c, sy, owing, [b.cash(40_000)], idempotency_key="k"),
        "course deduction": lambda: cashier.pay(c, sy, deduction, [], idempotency_key="k"),
        "void": lambda: cashier.void(c, sy, voidable, reason="录错", supervisor=boss, reverse_performance=True,
                                     idempotency_key="k"),
        "line refund": lambda: cashier.refund_line(c, sy, lines["水光针"], amount_fen=10_000, tenders=[b.cash(10_000)],
                                                   reason="退", supervisor=boss, reverse_performance=True,
                                                   idempotency_key="k"),
        "course refund": lambda: cashier.refund_package(c, sy, package, sessions=1, tenders=[b.cash(50_000)],
                                                        reason="退", supervisor=boss, reverse_performance=True,
                                                        idempotency_key="k"),
        "reprice up": lambda: cashier.reprice_line(c, sy, lines["脱毛"], unit_price_fen=60_000, reason="加",
                                                   supervisor=None, tenders=[b.cash(10_000)], idempotency_key="k"),
        "reprice down": lambda: cashier.reprice_line(c, sy, b.line(cheaper), unit_price_fen=40_000, reason="减",
                                                     supervisor=boss, tenders=[b.cash(10_000)], idempotency_key="k"),
    }


CALLS = ["deposit", "prepaid", "coupon sold", "coupon given", "balance refund", "discharge", "settle",
         "settle on arrears", "collect", "course deduction", "void", "line refund", "course refund", "reprice up",
         "reprice down"]


@dataclass(frozen=True)
class Posted:
    business_date: date
    receipt_no: str


def _receipt_of_key(clinic: Clinic) -> Posted:
    with clinic.read() as s:
        row = s.execute(select(Receipt.business_date, Receipt.receipt_no).where(Receipt.idempotency_key == "k")).one()
    return Posted(*row)


def _close(clinic: Clinic, desk: Desk) -> Callable[[], dayclose.DayReport]:
    def close() -> dayclose.DayReport:
        cash = dayclose.day_report(clinic, desk.cashier, MONDAY).expected_cash_fen
        return dayclose.close_day(clinic, desk.cashier, counted_cash_fen=cash, note="两台电脑同时", day=MONDAY)
    return close


def _books_agree(clinic: Clinic) -> None:
    report = check.run_check(clinic)
    assert report.ok, report.render()


@pytest.mark.parametrize("what", CALLS)
def test_a_payment_still_open_is_counted_by_the_close_that_waits_for_it(
        clinic: Clinic, desk: Desk, frozen: list[datetime], hold: Hold, what: str) -> None:
    call = _money_calls(Books(clinic, desk))[what]
    payment = Runner(call)
    hold.thread = payment
    payment.start()
    assert hold.reached.wait(PATIENCE)
    waiting = Waiting(clinic)
    closing = Runner(_close(clinic, desk))
    waiting.thread = closing
    closing.start()
    waited = blocked_or_done(closing, waiting)
    hold.release.set()
    payment.outcome()
    report = closing.outcome()
    assert waited, "the close counted the day while a payment on it was still open"
    receipt = _receipt_of_key(clinic)
    assert receipt.business_date == MONDAY
    assert report.last_receipt_no == receipt.receipt_no  # the close counted it
    _books_agree(clinic)


@pytest.mark.parametrize("what", CALLS)
def test_a_payment_started_during_the_close_waits_and_posts_on_the_next_day(
        clinic: Clinic, desk: Desk, frozen: list[datetime], hold: Hold, what: str) -> None:
    call = _money_calls(Books(clinic, desk))[what]
    closing = Runner(_close(clinic, desk))
    hold.thread = closing
    closing.start()
    assert hold.reached.wait(PATIENCE)
    waiting = Waiting(clinic)
    payment = Runner(call)
    waiting.thread = payment
    payment.start()
    waited = blocked_or_done(payment, waiting)
    hold.release.set()
    report = closing.outcome()
    payment.outcome()
    assert waited, "a payment wrote on the day while its close was open"
    receipt = _receipt_of_key(clinic)
    assert receipt.business_date == TUESDAY, f"{receipt.receipt_no} posted on the closed day"
    assert receipt.receipt_no.startswith("R20260303-")
    assert report.business_date == MONDAY
    _books_agree(clinic)


def test_every_money_write_on_sqlite_holds_the_write_lock_from_its_first_statement(
        clinic: Clinic, desk: Desk, frozen: list[datetime]) -> None:
    """SQLite serialises writers: each money transaction begins IMMEDIATE (the database's write lock is
    taken before anything is read), so the close and a payment can never interleave."""
    if clinic.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's BEGIN IMMEDIATE")
    calls = _money_calls(Books(clinic, desk))
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(clinic.engine, "before_cursor_execute", seen)
    try:
        for n, what in enumerate(CALLS):
            statements.clear()
            calls[what]()
            with clinic.write() as s:  # the next call's key (through the ORM: bulk UPDATEs of money are refused)
                for receipt in s.scalars(select(Receipt).where(Receipt.idempotency_key == "k")):
                    receipt.idempotency_key = f"k{n}"
            writes = [i for i, sql in enumerate(statements) if sql.startswith("INSERT INTO receipts")]
            assert writes, what
            begins = [sql for sql in statements[:writes[0]] if sql.startswith("BEGIN")]
            assert begins and begins[-1] == "BEGIN IMMEDIATE", what
        statements.clear()
        _close(clinic, desk)()
        begins = [sql for sql in statements if sql.startswith("BEGIN")]
        assert begins[-1] == "BEGIN IMMEDIATE"
    finally:
        event.remove(clinic.engine, "before_cursor_execute", seen)


def test_the_day_after_a_close_still_takes_payments_when_the_close_came_first(
        clinic: Clinic, desk: Desk, frozen: list[datetime]) -> None:
    """Sequential baseline of the race above: closed Monday, the next payment is Tuesday's first receipt."""
    b = Books(clinic, desk)
    ledger.top_up(clinic, desk.cashier, desk.member, account="prepaid", tenders=[b.cash(10_000)],
                  idempotency_key="a")
    _close(clinic, desk)()
    result = ledger.top_up(clinic, desk.cashier, desk.member, account="prepaid", tenders=[b.cash(10_000)],
                           idempotency_key="b")
    assert result.receipt_no == "R20260303-0001"
    _books_agree(clinic)
