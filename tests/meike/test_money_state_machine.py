"""The cashier's books under random sequences of every money operation (a hypothesis state machine).

Each run gets a fresh clinic (a copy of a migrated template with the test desk) and a shadow model of
what the books must say: external money taken, each customer's account balances, each coupon, each
course's remaining sessions, each order's status and arrears. Every call is first judged by the
model (should it go through?); a call the model expects to be refused must be refused and change
nothing, one it expects to go through must do so and move exactly what the model says. After every
step the invariants of the design are checked against the database by the one library ``--check`` and
the crash harness use (``meike.check.books`` and ``check.shown``: money neither created nor lost, balances
≥ 0, receipt numbers R{YYYYMMDD}-0001..n per business day with each receipt's tenders summing to it,
closed days' stored reports equal to the recomputed ones, orders, courses, department performance =
net amount, receipts against the audit log, the balances the cashier is shown), and the model's figures
against it:

* external money taken, every balance (customer × account, coupon) and course remaining equal the model;
* the days closed are the model's;
* department performance of an order equals the model's net amount; after a void it is 0, staff roles
  are 0 too when the void reversed performance and keep their credit otherwise.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from meike import check, clock
from meike.db import Clinic, sqlite_url
from meike.errors import MeikeError
from meike.models import (
    AccountEntry,
    Coupon,
    DayClose,
    Order,
    OrderLine,
    Package,
    Payment,
    PerformanceEntry,
    Receipt,
)
from meike.models.ledger import ASSET_ACCOUNTS
from meike.services import bizday, cashier, dayclose, dictionaries, ledger
from meike.services.cashier import LineSpec, Tender
from meike.services.dictionaries import Kind
from meike.services.performance import percent_of
from tests.conftest import make_user
from tests.meike.conftest_money import START, Desk, build_desk, snapshot

EXTERNAL = ("现金", "微信", "银行卡")
ACCOUNT_METHODS = {"预存": "prepaid", "定金": "deposit", "券": "coupon", "住院押金": "inpatient"}
TOP_UP_ACCOUNTS = ("deposit", "prepaid", "inpatient")
ITEMS = {"双眼皮": (880_000, 600_000), "水光针": (128_000, 88_000), "脱毛": (50_000, 30_000)}
STAFF_ROLES = ("consultant", "doctor", "developer")
# 项目业绩比例: 脱毛 credits its consultant half and its doctor 30% of the amount, its developer nothing.
SHARES = {"脱毛": {"consultant": 50, "doctor": 30, "developer": 0}}


def share_of(item: str, role: str, amount: int) -> int:
    return percent_of(amount, SHARES.get(item, {}).get(role, 100))
OUTCOMES: Counter[tuple[str, str]] = Counter()  # (rule, done / refused) over the run: MONEY_STATS=1 prints it


@dataclass
class LineM:
    id: int
    item: str
    quantity: int
    amount: int
    net: int
    sessions: int = 0  # > 0: sells a course of this many sessions per unit
    package_id: int | None = None  # paid with a session of this course


@dataclass
class OrderM:
    customer: int
    lines: list[LineM]
    status: str = "new"
    arrears: int = 0
    adjusted: bool = False
    tenders: list[tuple[str | None, int | None, int]] = field(default_factory=list)  # account, coupon, amount

    @property
    def total(self) -> int:
        return sum(li.amount for li in self.lines)


@dataclass
class CouponM:
    customer: int
    remaining: int
    valid_until: date


@dataclass
class PackageM:
    customer: int
    item: str
    sessions: int
    value: int
    remaining: int
    line_id: int
    order_id: int


@dataclass
class Call:
    """A money call that went through: calling it again (same key) must replay its receipt."""

    name: str
    again: Callable[[], Any]
    receipt_no: str
    kind: str
    customer: int


def member_price(list_price: int, minimum: int, permille: int) -> int:
    return list_price if permille >= 1000 else max(minimum, (list_price * permille + 500) // 1000)


def refund_value(value: int, total: int, left: int, sessions: int) -> int:
    return value * left // total - value * (left - sessions) // total


class MoneyMachine(RuleBasedStateMachine):
    template: ClassVar[Path]
    desk: ClassVar[Desk]

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="meike-money-"))
        shutil.copy(self.template, self.dir / "clinic.sqlite3")
        self.clinic = Clinic.open(sqlite_url(self.dir / "clinic.sqlite3"))
        self.now = START
        self._real_now = clock.now
        clock.now = lambda: self.now
        d = self.desk
        self.d = d
        self.customers = [d.member, d.plain, d.vip]
        self.permille = {d.member: 900, d.plain: 1000, d.vip: 600}
        self.keys = itertools.count(1)
        # The model.
        self.external = 0
        self.balance: dict[tuple[int, str], int] = {(c, a): 0 for c in self.customers for a in TOP_UP_ACCOUNTS}
        self.coupons: dict[int, CouponM] = {}
        self.packages: dict[int, PackageM] = {}
        self.orders: dict[int, OrderM] = {}
        self.closed: set[date] = set()
        self.chosen: date | None = None  # a supervisor's business date
        self.calls: list[Call] = []
        self.voided: dict[int, tuple[bool, dict[str, int]]] = {}  # order → (reversed?, staff credit before)

    def teardown(self) -> None:
        try:
            self.the_books_add_up()
        finally:
            clock.now = self._real_now
            self.clinic.dispose()
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------------------

    def key(self) -> str:
        return f"key-{next(self.keys)}"

    def open_day(self) -> date:
        day = self.chosen or self.now.date()
        while day in self.closed:
            day += timedelta(days=1)
        return day

    def attempt(self, expect_ok: bool, why: str, call: Callable[[], Any]) -> Any:
        """Run a service call the model judged; a refusal must leave every table as it was."""
        before = snapshot(self.clinic)
        name = call.__qualname__.split(".")[1]  # the rule: MoneyMachine.<rule>.<locals>.call
        try:
            result = call()
        except MeikeError as e:
            OUTCOMES[name, "refused"] += 1
            assert not expect_ok, f"refused but the model expected it to go through ({why}): {e!r}"
            assert snapshot(self.clinic) == before, f"a refused call changed the books: {e!r}"
            return None
        OUTCOMES[name, "done"] += 1
        assert expect_ok, f"went through but the model expected a refusal: {why}"
        return result

    def tenders_ok(self, customer: int, tenders: list[Tender], *, sign: int = 1, external_only: bool = False) -> bool:
        """What ``ledger.write_receipt`` accepts."""
        if not tenders:
            return False
        wanted: dict[tuple[str, int | None], int] = {}
        for t in tenders:
            if t.amount_fen <= 0:
                return False
            account = self.account_of(t.payment_method_id)
            if account is not None and external_only:
                return False
            if account == "coupon":
                coupon = self.coupons.get(t.coupon_id or 0)
                if coupon is None or coupon.customer != customer:
                    return False
                if sign > 0 and coupon.valid_until < self.open_day():
                    return False
            if account is not None and sign > 0:
                k = (account, t.coupon_id if account == "coupon" else None)
                wanted[k] = wanted.get(k, 0) + t.amount_fen
        for (account, coupon_id), amount in wanted.items():
            have = self.coupons[coupon_id].remaining if coupon_id is not None else self.balance[(customer, account)]
            if amount > have:
                return False
        return True

    def account_of(self, method_id: int | None) -> str | None:
        name = next(n for n, i in self.d.methods.items() if i == method_id)
        return ACCOUNT_METHODS.get(name)

    def apply_tenders(self, customer: int, tenders: list[Tender], sign: int = 1,
                      order: OrderM | None = None) -> None:
        for t in tenders:
            account = self.account_of(t.payment_method_id)
            if account is None:
                self.external += sign * t.amount_fen
            elif account == "coupon":
                self.coupons[t.coupon_id or 0].remaining -= sign * t.amount_fen
            else:
                self.balance[(customer, account)] -= sign * t.amount_fen
            if order is not None:
                order.tenders.append((account, t.coupon_id if account == "coupon" else None, sign * t.amount_fen))

    def draw_tenders(self, data: st.DataObject, customer: int, due: int) -> list[Tender]:
        """A split payment of about ``due``: external methods and the customer's accounts (sometimes too much)."""
        sources = data.draw(st.lists(st.sampled_from([*EXTERNAL, *ACCOUNT_METHODS]), min_size=1, max_size=3,
                                     unique=True), label="sources")
        greedy = data.draw(st.integers(0, 5), label="overdraw") == 0  # ask accounts for more than they hold
        tenders: list[Tender] = []
        left = due
        for i, name in enumerate(sources):
            last = i == len(sources) - 1
            amount = left if last else data.draw(st.integers(0, max(0, left)), label=f"{name} amount")
            coupon_id = None
            account = ACCOUNT_METHODS.get(name)
            if account == "coupon":
                held = [cid for cid, c in self.coupons.items() if c.customer == customer]
                others = [cid for cid, c in self.coupons.items() if c.customer != customer]
                pool = others if greedy or not held else held  # sometimes another customer's coupon
                if not pool:
                    continue
                coupon_id = data.draw(st.sampled_from(sorted(pool)), label="coupon")
                if not greedy:
                    amount = min(amount, self.coupons[coupon_id].remaining)
            elif account is not None and not greedy:
                amount = min(amount, self.balance[(customer, account)])
            if amount <= 0:
                continue
            tenders.append(Tender(self.d.methods[name], amount, coupon_id))
            left -= amount
        if left > 0 and data.draw(st.integers(0, 3), label="fill with cash") > 0:
            tenders.append(Tender(self.d.methods[data.draw(st.sampled_from(EXTERNAL), label="filler")], left))
        return tenders

    def with_status(self, status: str) -> list[int]:
        return sorted(o for o, m in self.orders.items() if m.status == status)

    def owing(self) -> list[int]:
        return sorted(o for o, m in self.orders.items() if m.status == "settled" and m.arrears > 0)

    def remember(self, name: str, again: Callable[[], Any], receipt_no: str, kind: str, customer: int) -> None:
        self.calls.append(Call(name, again, receipt_no, kind, customer))

    def supervisor(self, data: st.DataObject) -> tuple[Any, bool]:
        """Usually the boss; sometimes nobody or the plain cashier (refused)."""
        who = data.draw(st.sampled_from(["boss"] * 6 + ["none", "cashier"]), label="supervisor")
        return {"boss": self.d.boss, "none": None, "cashier": self.d.cashier}[who], who == "boss"

    # --- accounts ------------------------------------------------------------------------------

    @rule(data=st.data(), what=st.sampled_from(["top_up"] * 4 + ["sell_coupon"] * 3 + ["refund_balance"] * 3))
    def accounts(self, data: st.DataObject, what: str) -> None:
        """定金 / 预存 / 住院押金, 购券 (sold or free), 退款 from a balance and 出院退款."""
        getattr(self, what)(data)

    def top_up(self, data: st.DataObject) -> None:
        account = data.draw(st.sampled_from(TOP_UP_ACCOUNTS), label="account")
        amount = data.draw(st.integers(1, 60), label="amount") * 5_000
        method = data.draw(st.sampled_from([*EXTERNAL, *EXTERNAL, "预存"]), label="method")
        customer = data.draw(st.sampled_from(self.customers), label="customer")
        tenders = [Tender(self.d.methods[method], amount)]
        staff = self.d.staff["钱推介"] if account == "deposit" else None
        department = self.d.departments["美容外科"] if account != "prepaid" else None
        key = self.key()

        def call() -> ledger.ReceiptResult:
            return ledger.top_up(self.clinic, self.d.cashier, customer, account=account, tenders=tenders,
                                 idempotency_key=key, staff_id=staff, department_id=department,
                                 inpatient_no="ZY001" if account == "inpatient" else "")

        result = self.attempt(method in EXTERNAL, f"top up {account} by {method}", call)
        if result is not None:
            assert result.amount_fen == amount and not result.replayed
            self.apply_tenders(customer, tenders)
            self.balance[(customer, account)] += amount
            self.remember("top_up", call, result.receipt_no, account, customer)

    def sell_coupon(self, data: st.DataObject) -> None:
        face = data.draw(st.integers(1, 20), label="face") * 10_000
        paid = data.draw(st.sampled_from(["free", "part", "full", "full", "over"]), label="paid")
        days = data.draw(st.integers(0, 3), label="valid days")
        customer = data.draw(st.sampled_from(self.customers), label="customer")
        price = {"free": 0, "part": face // 2, "full": face, "over": face + 100}[paid]
        tenders = [Tender(self.d.methods["微信"], price)] if price else []
        valid_until = self.now.date() + timedelta(days=days)
        key = self.key()

        def call() -> ledger.ReceiptResult:
            return ledger.sell_coupon(self.clinic, self.d.cashier, customer, name="代金券", face_value_fen=face,
                                      valid_until=valid_until, tenders=tenders, idempotency_key=key,
                                      supervisor=self.d.boss if price < face else None)  # a gift: confirmed

        result = self.attempt(paid != "over", "coupon sold above its face value", call)
        if result is not None:
            assert result.amount_fen == price
            with self.clinic.read() as s:
                coupon = s.execute(select(Coupon.id, Coupon.face_value_fen, Coupon.price_fen)
                                   .where(Coupon.receipt_id == result.receipt_id)).one()
            assert (coupon.face_value_fen, coupon.price_fen) == (face, price)
            self.coupons[coupon.id] = CouponM(customer, face, valid_until)
            self.external += price
            self.remember("sell_coupon", call, result.receipt_no, "coupon", customer)

    def refund_balance(self, data: st.DataObject) -> None:
        account = data.draw(st.sampled_from(TOP_UP_ACCOUNTS), label="account")
        how = data.draw(st.sampled_from(["all", "part", "part", "over"]), label="how much")
        method = data.draw(st.sampled_from([*EXTERNAL, *EXTERNAL, "预存"]), label="method")
        holders = [c for c in self.customers if self.balance[(c, account)] > 0]
        customer = data.draw(st.sampled_from(holders or self.customers), label="customer")
        have = self.balance[(customer, account)]
        amount = {"all": have, "part": have // 2, "over": have + 1}[how]
        if amount <= 0:
            amount = 100
        tenders = [Tender(self.d.methods[method], amount)]
        boss, boss_ok = self.supervisor(data)
        key = self.key()

        def call() -> ledger.ReceiptResult:
            return ledger.refund_balance(self.clinic, self.d.cashier, customer, account=account, tenders=tenders,
                                         idempotency_key=key, supervisor=boss, reason="顾客要求退款")

        ok = boss_ok and amount <= have and method in EXTERNAL
        result = self.attempt(ok, f"refund {amount} of {have} {account} by {method}", call)
        if result is not None:
            assert result.amount_fen == -amount
            self.external -= amount
            self.balance[(customer, account)] -= amount
            kind = "discharge" if account == "inpatient" else "refund"
            self.remember("refund_balance", call, result.receipt_no, kind, customer)

    # --- orders --------------------------------------------------------------------------------

    @rule(data=st.data(), n=st.integers(1, 3))
    def open_order(self, data: st.DataObject, n: int) -> None:
        customer = data.draw(st.sampled_from(self.customers), label="customer")
        permille = self.permille[customer]
        specs: list[LineSpec] = []
        expected: list[LineM] = []
        wanted: dict[int, int] = {}
        approve = False
        for _ in range(n):
            held = [p for p, m in self.packages.items() if m.customer == customer and m.remaining > 0]
            kinds = ["member", "price", "course", "cheap"] + (["deduct", "deduct"] if held else [])
            kind = data.draw(st.sampled_from(kinds), label="line kind")
            quantity = data.draw(st.integers(1, 2), label="quantity")
            doctor = data.draw(st.sampled_from([None, self.d.staff["李医生"]]), label="doctor")
            if kind == "deduct":
                package_id = data.draw(st.sampled_from(held), label="package")
                item = self.packages[package_id].item
                specs.append(LineSpec(self.d.items[item], quantity, None, doctor, package_id=package_id))
                expected.append(LineM(0, item, quantity, 0, 0, package_id=package_id))
                wanted[package_id] = wanted.get(package_id, 0) + quantity
                continue
            item = data.draw(st.sampled_from(sorted(ITEMS)), label="item")
            price, minimum = ITEMS[item]
            sessions = data.draw(st.sampled_from([2, 3, 5]), label="sessions") if kind == "course" else 0
            k = max(1, sessions)
            if kind == "price":
                unit = data.draw(st.integers(minimum // 100, price // 100), label="price") * 100
            elif kind == "cheap":  # below the minimum: a supervisor approves it
                unit = minimum - 10_000
                approve = True
            elif kind == "course" and data.draw(st.booleans(), label="course price"):
                unit = data.draw(st.integers(minimum * k // 100, price * k // 100), label="course price") * 100
            else:
                unit = member_price(price * k, minimum * k, permille)
                specs.append(LineSpec(self.d.items[item], quantity, None, doctor, package_sessions=sessions))
                expected.append(LineM(0, item, quantity, unit * quantity, unit * quantity, sessions))
                continue
            specs.append(LineSpec(self.d.items[item], quantity, unit, doctor, package_sessions=sessions))
            expected.append(LineM(0, item, quantity, unit * quantity, unit * quantity, sessions))
        supervisor = self.d.boss if approve and data.draw(st.booleans(), label="approved") else None
        ok = all(q <= self.packages[p].remaining for p, q in wanted.items()) and (supervisor is not None
                                                                                  or not approve)
        consultant = data.draw(st.sampled_from([None, self.d.staff["王咨询"]]), label="consultant")

        def call() -> int:
            return cashier.open_order(self.clinic, self.d.cashier, customer_id=customer, lines=specs,
                                      supervisor=supervisor, consultant_id=consultant)

        order_id = self.attempt(ok, f"open {specs} approved={supervisor is not None}", call)
        if order_id is None:
            return
        with self.clinic.read() as s:
            lines = s.execute(select(OrderLine.id, OrderLine.amount_fen, OrderLine.package_sessions, OrderLine.package_id)
                              .where(OrderLine.order_id == order_id).order_by(OrderLine.id)).all()
            total = s.scalar(select(Order.total_fen).where(Order.id == order_id))
        assert [tuple(li[1:]) for li in lines] == [(e.amount, e.sessions, e.package_id) for e in expected]
        for line, e in zip(lines, expected, strict=True):
            e.id = line.id
        self.orders[order_id] = OrderM(customer, expected)
        assert total == self.orders[order_id].total
        if data.draw(st.integers(0, 2), label="pay now") > 0:
            self._pay(data, order_id, data.draw(st.booleans(), label="arrears"))

    @precondition(lambda self: self.with_status("new"))
    @rule(data=st.data(), arrears=st.booleans())
    def pay_new_order(self, data: st.DataObject, arrears: bool) -> None:
        """结单 with split tenders, sometimes short (arrears, when allowed) or over the total."""
        self._pay(data, data.draw(st.sampled_from(self.with_status("new")), label="order"), arrears)

    def _pay(self, data: st.DataObject, order_id: int, arrears: bool) -> None:
        order = self.orders[order_id]
        due = order.total + data.draw(st.sampled_from([0, 0, 0, -10_000, 100]), label="off by")
        tenders = self.draw_tenders(data, order.customer, max(0, due)) if due > 0 else []
        paying = sum(t.amount_fen for t in tenders)
        uses: dict[int, int] = {}
        for li in order.lines:
            if li.package_id is not None:
                uses[li.package_id] = uses.get(li.package_id, 0) + li.quantity
        ok = (paying <= order.total and (paying == order.total or arrears)
              and (self.tenders_ok(order.customer, tenders) if tenders else True)
              and all(self.packages[p].remaining >= q for p, q in uses.items()))
        key = self.key()

        def call() -> cashier.PayResult:
            return cashier.pay(self.clinic, self.d.cashier, order_id, tenders, idempotency_key=key,
                               allow_arrears=arrears)

        result = self.attempt(ok, f"settle {order.total} with {tenders} arrears={arrears}", call)
        if result is None:
            return
        assert (result.paid_fen, result.arrears_fen) == (paying, order.total - paying)
        self.apply_tenders(order.customer, tenders, order=order)
        order.status, order.arrears = "settled", order.total - paying
        for package_id, used in uses.items():
            self.packages[package_id].remaining -= used
        with self.clinic.read() as s:
            for li in order.lines:
                if li.sessions:
                    package = s.execute(select(Package.id, Package.sessions, Package.value_fen)
                                        .where(Package.order_line_id == li.id)).one()
                    assert (package.sessions, package.value_fen) == (li.sessions * li.quantity, li.amount)
                    self.packages[package.id] = PackageM(order.customer, li.item, package.sessions, li.amount,
                                                         package.sessions, li.id, order_id)
        self.remember("pay", call, result.receipt_no, "settle", order.customer)

    @precondition(lambda self: self.owing())
    @rule(data=st.data())
    def collect_arrears(self, data: st.DataObject) -> None:
        """分次支付: pay some or all of what an order still owes (sometimes more: refused)."""
        order_id = data.draw(st.sampled_from(self.owing()), label="order")
        order = self.orders[order_id]
        due = data.draw(st.sampled_from([order.arrears, max(1, order.arrears // 2), order.arrears + 1]), label="due")
        tenders = self.draw_tenders(data, order.customer, due)
        paying = sum(t.amount_fen for t in tenders)
        ok = 0 < paying <= order.arrears and self.tenders_ok(order.customer, tenders)
        key = self.key()

        def call() -> cashier.PayResult:
            return cashier.pay(self.clinic, self.d.cashier, order_id, tenders, idempotency_key=key)

        result = self.attempt(ok, f"collect {tenders} of {order.arrears}", call)
        if result is None:
            return
        assert (result.paid_fen, result.arrears_fen) == (paying, order.arrears - paying)
        self.apply_tenders(order.customer, tenders, order=order)
        order.arrears -= paying
        self.remember("collect", call, result.receipt_no, "collect", order.customer)

    @precondition(lambda self: self.with_status("new"))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(self.with_status("new")), label="order")
        self.attempt(True, "cancel", lambda: cashier.cancel(self.clinic, self.d.cashier, order_id, reason="顾客不做了"))
        self.orders[order_id].status = "cancelled"

    @precondition(lambda self: len(self.with_status("new")) > 1)
    @rule(data=st.data())
    def merge(self, data: st.DataObject) -> None:
        """Several unpaid orders of one customer become one bill (the others are cancelled)."""
        new = self.with_status("new")
        groups = [[o for o in new if self.orders[o].customer == c] for c in self.customers]
        pool = self.pick(data, [g for g in groups if len(g) > 1], [new], "same customer")
        chosen = data.draw(st.lists(st.sampled_from(pool), min_size=2, max_size=3, unique=True), label="orders")
        ok = len({self.orders[o].customer for o in chosen}) == 1
        merged = self.attempt(ok, f"merge {chosen}", lambda: cashier.merge_orders(self.clinic, self.d.cashier, chosen))
        if merged is None:
            return
        with self.clinic.read() as s:
            ids = list(s.scalars(select(OrderLine.id).where(OrderLine.order_id == merged).order_by(OrderLine.id)))
        old = [li for o in sorted(chosen) for li in self.orders[o].lines]
        assert len(ids) == len(old)
        self.orders[merged] = OrderM(self.orders[chosen[0]].customer, [
            LineM(i, li.item, li.quantity, li.amount, li.amount, li.sessions, li.package_id)
            for i, li in zip(ids, old, strict=True)])
        for o in chosen:
            self.orders[o].status = "cancelled"

    # --- refunds, price changes, voids ------------------------------------------------------------

    def _payout(self, data: st.DataObject, order: OrderM, amount: int) -> tuple[list[Tender], str, int, bool]:
        """How a refund of ``amount`` goes out: arrears first, then cash / WeChat / into prepaid."""
        from_arrears = min(order.arrears, amount)
        payout = amount - from_arrears
        to = data.draw(st.sampled_from(["现金", "微信", "预存", "定金"]), label="refund to")
        wrong = data.draw(st.sampled_from([False, False, False, True]), label="wrong payout")
        out = payout + 100 if wrong else payout
        return ([Tender(self.d.methods[to], out)] if out > 0 else []), to, from_arrears, not wrong

    def _apply_refund(self, order: OrderM, line: LineM, amount: int, to: str, from_arrears: int) -> None:
        payout = amount - from_arrears
        order.arrears -= from_arrears
        order.adjusted = True
        line.net -= amount
        if to in ACCOUNT_METHODS:
            self.balance[(order.customer, ACCOUNT_METHODS[to])] += payout
        else:
            self.external -= payout

    def settled_lines(self) -> list[tuple[int, int]]:
        return [(o, i) for o in self.with_status("settled") for i in range(len(self.orders[o].lines))]

    def plain_lines(self) -> list[tuple[int, int]]:
        """Settled lines that can be refunded or repriced: not a course, not paid by one, something left."""
        return [(o, i) for o, i in self.settled_lines()
                if (li := self.orders[o].lines[i]).net > 0 and not li.sessions and li.package_id is None]

    @staticmethod
    def pick(data: st.DataObject, likely: list[Any], every: list[Any], label: str) -> Any:
        """Mostly one of ``likely`` (calls that should go through), sometimes any of ``every``."""
        if likely and data.draw(st.integers(0, 4), label=f"{label}: likely") > 0:
            return data.draw(st.sampled_from(likely), label=label)
        return data.draw(st.sampled_from(every), label=label)

    @precondition(lambda self: self.with_status("settled"))
    @rule(data=st.data(), reverse=st.booleans(), how=st.sampled_from(["all", "part", "over"]))
    def refund_line(self, data: st.DataObject, reverse: bool, how: str) -> None:
        """项目退款 of part or all of a settled line, with or without reversing the staff's performance."""
        order_id, index = self.pick(data, self.plain_lines(), self.settled_lines(), "line")
        order = self.orders[order_id]
        line = order.lines[index]
        amount = {"all": line.net, "part": max(1, line.net // 3), "over": line.net + 1}[how]
        tenders, to, from_arrears, payout_ok = self._payout(data, order, amount)
        boss, boss_ok = self.supervisor(data)
        ok = boss_ok and payout_ok and not line.sessions and 0 < amount <= line.net
        key = self.key()

        def call() -> cashier.PayResult:
            return cashier.refund_line(self.clinic, self.d.cashier, line.id, amount_fen=amount, tenders=tenders,
                                       reason="效果不满意", supervisor=boss, reverse_performance=reverse,
                                       idempotency_key=key)

        before = self.staff_credit(order_id, line.id)
        result = self.attempt(ok, f"refund {amount} of line net {line.net} ({line})", call)
        if result is None:
            return
        self._apply_refund(order, line, amount, to, from_arrears)
        after = self.staff_credit(order_id, line.id)
        for role in STAFF_ROLES:  # the department's sales always follow the money
            if reverse:
                assert after[role] == before[role] - min(before[role], share_of(line.item, role, amount)), (
                    role, before, after)
            else:
                assert after[role] == before[role], f"{role} lost credit though the cashier chose not to reverse it"
        assert after["department"] == before["department"] - amount
        self.remember("refund_line", call, result.receipt_no, "refund", order.customer)

    @precondition(lambda self: any(p.remaining for p in self.packages.values()))
    @rule(data=st.data(), reverse=st.booleans())
    def refund_package(self, data: st.DataObject, reverse: bool) -> None:
        """疗程退款 of unused sessions at the price the course was sold for."""
        package_id = data.draw(st.sampled_from(sorted(p for p, m in self.packages.items() if m.remaining)),
                               label="package")
        package = self.packages[package_id]
        sessions = data.draw(st.integers(1, package.remaining + 1), label="sessions")
        order = self.orders[package.order_id]
        line = next(li for li in order.lines if li.id == package.line_id)
        ok_sessions = sessions <= package.remaining
        amount = refund_value(package.value, package.sessions, package.remaining, sessions) if ok_sessions else 1
        tenders, to, from_arrears, payout_ok = self._payout(data, order, amount)
        boss, boss_ok = self.supervisor(data)
        ok = boss_ok and ok_sessions and payout_ok and order.status == "settled"
        key = self.key()

        def call() -> cashier.PayResult:
            return cashier.refund_package(self.clinic, self.d.cashier, package_id, sessions=sessions, tenders=tenders,
                                          reason="疗程不做了", supervisor=boss, reverse_performance=reverse,
                                          idempotency_key=key)

        result = self.attempt(ok, f"refund {sessions} sessions of {package}", call)
        if result is None:
            return
        assert amount <= line.net
        self._apply_refund(order, line, amount, to, from_arrears)
        package.remaining -= sessions
        self.remember("refund_package", call, result.receipt_no, "refund", order.customer)

    @precondition(lambda self: self.with_status("settled"))
    @rule(data=st.data(), to=st.sampled_from(["up", "down", "same", "below"]), reverse=st.booleans())
    def reprice(self, data: st.DataObject, to: str, reverse: bool) -> None:
        """多退少补: a settled line's price goes up (collect now or owe) or down (refund the difference)."""
        order_id, index = self.pick(data, self.plain_lines(), self.settled_lines(), "line")
        order = self.orders[order_id]
        line = order.lines[index]
        price, minimum = ITEMS[line.item]
        unit = {"up": line.net // line.quantity + 10_000, "down": max(minimum, line.net // line.quantity - 10_000),
                "same": line.net // line.quantity, "below": minimum - 100}[to]
        diff = unit * line.quantity - line.net
        boss, boss_ok = self.supervisor(data)
        fixed = line.sessions > 0 or line.package_id is not None
        if diff > 0:
            due = data.draw(st.sampled_from([0, diff, diff // 2, diff + 1]), label="paying")
            tenders = self.draw_tenders(data, order.customer, due) if due else []
            paying = sum(t.amount_fen for t in tenders)
            ok = (not fixed and paying <= diff and (boss_ok or unit >= minimum)
                  and (not tenders or self.tenders_ok(order.customer, tenders)))
            from_arrears, payout_ok, dest = 0, True, "现金"
        else:
            tenders, dest, from_arrears, payout_ok = self._payout(data, order, -diff)
            paying = 0
            ok = not fixed and diff < 0 and payout_ok and boss_ok
        key = self.key()

        def call() -> cashier.PayResult:
            return cashier.reprice_line(self.clinic, self.d.cashier, line.id, unit_price_fen=unit, reason="改价",
                                        supervisor=boss, tenders=tenders, idempotency_key=key,
                                        reverse_performance=reverse)

        before = self.staff_credit(order_id, line.id)
        result = self.attempt(ok, f"reprice {line} to {unit} ({diff:+}) paying {paying}", call)
        if result is None:
            return
        after = self.staff_credit(order_id, line.id)
        assert after["department"] == before["department"] + diff
        if diff < 0:  # a price cut is a refund of the difference: the staff's credit goes only when asked
            for role in STAFF_ROLES:
                taken = min(before[role], share_of(line.item, role, -diff)) if reverse else 0
                assert after[role] == before[role] - taken, (role, reverse, before, after)
        if diff > 0:
            order.arrears += diff - paying
            order.adjusted = True
            line.net += diff
            self.apply_tenders(order.customer, tenders)
            assert result.arrears_fen == order.arrears
        else:
            self._apply_refund(order, line, -diff, dest, from_arrears)
        self.remember("reprice", call, result.receipt_no, "refund" if diff < 0 else "collect", order.customer)

    def staff_credit(self, order_id: int, line_id: int | None = None) -> dict[str, int]:
        """Performance credited per role for an order (or one of its lines)."""
        q = select(PerformanceEntry.role, func.sum(PerformanceEntry.amount_fen)).where(
            PerformanceEntry.order_id == order_id).group_by(PerformanceEntry.role)
        if line_id is not None:
            q = q.where(PerformanceEntry.order_line_id == line_id)
        with self.clinic.read() as s:
            rows = dict(s.execute(q).all())
        return {role: int(rows.get(role) or 0) for role in (*STAFF_ROLES, "department")}

    @precondition(lambda self: self.with_status("settled"))
    @rule(data=st.data(), reverse=st.booleans())
    def void(self, data: st.DataObject, reverse: bool) -> None:
        """退单: everything the order moved goes back; it comes back as a new unpaid order."""
        voidable = [o for o in self.with_status("settled") if not self.orders[o].adjusted and all(
            p.remaining == p.sessions for p in self.packages.values() if p.order_id == o)]
        order_id = self.pick(data, voidable, self.with_status("settled"), "order")
        order = self.orders[order_id]
        boss, boss_ok = self.supervisor(data)
        sold = [p for p in self.packages.values() if p.order_id == order_id]
        ok = boss_ok and not order.adjusted and all(p.remaining == p.sessions for p in sold)
        key = self.key()

        def call() -> cashier.VoidResult:
            return cashier.void(self.clinic, self.d.cashier, order_id, reason="付款方式选错", supervisor=boss,
                                reverse_performance=reverse, idempotency_key=key)

        before = self.staff_credit(order_id)
        result = self.attempt(ok, f"void {order}", call)
        if result is None:
            return
        paid = sum(a for _acc, _c, a in order.tenders)
        assert result.refunded_fen == paid
        for account, coupon_id, amount in order.tenders:
            if account is None:
                self.external -= amount
            elif account == "coupon":
                self.coupons[coupon_id or 0].remaining += amount
            else:
                self.balance[(order.customer, account)] += amount
        for li in order.lines:
            if li.package_id is not None:
                self.packages[li.package_id].remaining += li.quantity
        for p in sold:
            p.remaining = 0
        order.status, order.arrears = "voided", 0
        self.voided[order_id] = (reverse, before)
        reopened = result.reopened_order_id
        with self.clinic.read() as s:
            assert s.execute(select(Order.status, Order.source_order_id).where(Order.id == reopened)).one() == (
                "new", order_id)
            new_lines = s.execute(select(OrderLine.id, OrderLine.item_id, OrderLine.quantity, OrderLine.amount_fen,
                                         OrderLine.package_sessions, OrderLine.package_id)
                                  .where(OrderLine.order_id == reopened).order_by(OrderLine.id)).all()
            receipts = set(s.scalars(select(Receipt.status).where(Receipt.order_id == order_id, Receipt.kind != "void")))
        assert receipts == {"voided"}
        assert [tuple(li[1:]) for li in new_lines] == [
            (self.d.items[li.item], li.quantity, li.amount, li.sessions, li.package_id) for li in order.lines]
        self.orders[reopened] = OrderM(order.customer, [
            LineM(n.id, li.item, li.quantity, li.amount, li.amount, li.sessions, li.package_id)
            for n, li in zip(new_lines, order.lines, strict=True)])
        self.remember("void", call, result.receipt_no, "void", order.customer)

    # --- business days ---------------------------------------------------------------------------

    @rule(data=st.data(), what=st.sampled_from(["close_day"] * 3 + ["time_passes", "set_business_date",
                                                                     "tamper_with_a_closed_day"]))
    def day(self, data: st.DataObject, what: str) -> None:
        """日结, the clock moving on, 【日期】 and an attempt to change a closed day."""
        getattr(self, what)(data)

    def close_day(self, data: st.DataObject) -> None:
        """日结 of the open business day (after moving the clock to it), then on to the next morning."""
        off = data.draw(st.sampled_from([0, 0, 0, 100, -100]), label="counted off by")
        note = data.draw(st.booleans(), label="note")
        day = self.open_day()
        if day > self.now.date():
            self.now = datetime.combine(day, START.time())
        with self.clinic.read() as s:
            expected = dayclose.report_in(s, day).expected_cash_fen
        counted = expected + off
        ok = 0 <= counted and (counted == expected or note)
        result = self.attempt(ok, f"close {day} counted {counted} of {expected}", lambda: dayclose.close_day(
            self.clinic, self.d.cashier, counted_cash_fen=counted, note="差额已查明" if note else ""))
        if result is None:
            if counted < 0:  # a day that paid out more cash than it took: count 0 and explain
                dayclose.close_day(self.clinic, self.d.cashier, counted_cash_fen=0, note="退现金多于收现金")
            else:
                return
        self.closed.add(day)
        if self.chosen == day:
            self.chosen = None
        if day >= self.now.date():
            self.now = datetime.combine(day + timedelta(days=1), START.time())
        assert self.open_day() == self.business_date()

    def business_date(self) -> date:
        with self.clinic.read() as s:
            return bizday.open_business_date(s)

    def time_passes(self, data: st.DataObject) -> None:
        self.now += timedelta(hours=data.draw(st.integers(1, 30), label="hours"))

    def set_business_date(self, data: st.DataObject) -> None:
        """【日期】: a supervisor picks the business date; never a closed day."""
        when = data.draw(st.sampled_from(["tomorrow", "yesterday", "today", "closed"]), label="when")
        today = self.now.date()
        if when == "closed" and not self.closed:
            when = "today"
        day = {"tomorrow": today + timedelta(days=1), "yesterday": today - timedelta(days=1), "today": today,
               "closed": max(self.closed) if self.closed else today}[when]
        boss, boss_ok = self.supervisor(data)
        ok = boss_ok and day not in self.closed
        self.attempt(ok, f"business date {day}", lambda: dayclose.set_business_date(
            self.clinic, self.d.cashier, day, supervisor=boss))
        if ok:
            self.chosen = None if day == today else day
        assert self.open_day() == self.business_date()

    def tamper_with_a_closed_day(self, data: st.DataObject) -> None:
        """Whatever code tries to change a closed day's rows directly is refused by the flush guard."""
        if not self.closed:
            return
        how = data.draw(st.sampled_from(["edit", "delete", "add", "redate"]), label="how")
        day = data.draw(st.sampled_from(sorted(self.closed)), label="day")
        before = snapshot(self.clinic)
        try:
            with self.clinic.write() as s:
                receipt = s.scalar(select(Receipt).where(Receipt.business_date == day).limit(1))
                payment = s.scalar(select(Payment).where(Payment.business_date == day).limit(1))
                if payment is None or receipt is None:
                    return
                if how == "edit":
                    payment.amount_fen += 100
                elif how == "delete":
                    s.delete(payment)
                elif how == "redate":
                    payment.business_date = self.open_day()
                else:
                    s.add(Payment(receipt_id=receipt.id, order_id=None, payment_method_id=self.d.methods["现金"],
                                  account=None, amount_fen=100, business_date=day,
                                  received_by_id=self.d.cashier.user_id, created_at=self.now))
                s.flush()
            raise AssertionError(f"{how} of a payment of the closed day {day} went through")
        except bizday.DayClosed:
            pass
        assert snapshot(self.clinic) == before

    # --- replays -----------------------------------------------------------------------------------

    @precondition(lambda self: self.calls)
    @rule(data=st.data(), what=st.sampled_from(["replay", "replay", "reuse_a_key"]))
    def again(self, data: st.DataObject, what: str) -> None:
        """A double click, a retry, a crash replay; a key sent again with another request."""
        getattr(self, what)(data)

    def replay(self, data: st.DataObject) -> None:
        """A double click / retry / crash replay of an earlier call: the same receipt, nothing moves."""
        call = data.draw(st.sampled_from(self.calls), label="call")
        before = snapshot(self.clinic)
        result = call.again()
        assert snapshot(self.clinic) == before, f"replaying {call.name} moved money"
        assert result.receipt_no == call.receipt_no
        assert result.replayed if hasattr(result, "replayed") else True

    def reuse_a_key(self, data: st.DataObject) -> None:
        """An old key sent with a prepaid top-up: the same thing again replays, anything else is refused."""
        call = data.draw(st.sampled_from(self.calls), label="call")
        key = self.calls.index(call)
        customer = data.draw(st.sampled_from(self.customers), label="customer")
        with self.clinic.read() as s:
            old_key, rid = s.execute(select(Receipt.idempotency_key, Receipt.id)
                                     .where(Receipt.receipt_no == call.receipt_no)).one()
            tenders = s.execute(select(Payment.payment_method_id, Payment.amount_fen)
                                .where(Payment.receipt_id == rid)).tuples().all()
        assert old_key is not None
        # the same request again (kind, customer and tenders) replays; another amount is refused too
        same = (call.kind == "prepaid" and call.customer == customer
                and tenders == [(self.d.methods["现金"], 777)])
        result = self.attempt(same, f"reuse key #{key} of {call.name}", lambda: ledger.top_up(
            self.clinic, self.d.cashier, customer, account="prepaid", tenders=[Tender(self.d.methods["现金"], 777)],
            idempotency_key=old_key))
        if result is not None:
            assert result.replayed and result.receipt_no == call.receipt_no

    # --- invariants --------------------------------------------------------------------------------

    @invariant()
    def the_books_add_up(self) -> None:
        """The invariants of the design, from the one library ``--check`` and the crash harness run
        (``meike.check``): money neither created nor lost, balances ≥ 0, receipt numbers without gaps and
        tenders summing to each receipt, closed days' stored reports equal to the recomputed ones (every
        day, every figure), orders, courses, performance, receipts against the audit log, and what the
        cashier is shown."""
        with self.clinic.read() as s:
            report = check.books(s)
            check.shown(s, report, packages=list(self.packages))
            external = s.scalar(select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(Payment.account.is_(None)))
        assert report.ok, report.render()
        assert external == self.external

    @invariant()
    def balances_match_the_model(self) -> None:
        with self.clinic.read() as s:
            sums = {(c, a): int(v) for c, a, v in s.execute(
                select(AccountEntry.customer_id, AccountEntry.account, func.sum(AccountEntry.amount_fen))
                .group_by(AccountEntry.customer_id, AccountEntry.account))}
            coupons = {c: int(v) for c, v in s.execute(
                select(AccountEntry.coupon_id, func.sum(AccountEntry.amount_fen))
                .where(AccountEntry.coupon_id.is_not(None)).group_by(AccountEntry.coupon_id))}
            arrears = {o: int(v) for o, v in s.execute(
                select(AccountEntry.order_id, func.sum(AccountEntry.amount_fen))
                .where(AccountEntry.account == "arrears").group_by(AccountEntry.order_id)) if v}
            left = {p: ledger.package_remaining(s, p) for p in self.packages}
            statuses = dict(s.execute(select(Order.id, Order.status)).all())
            # What the cashier sees for one customer (in turn) says the same.
            customer = self.customers[len(self.calls) % len(self.customers)]
            summary = ledger.summary_in(s, customer)
        for (customer_id, account), have in self.balance.items():
            assert sums.get((customer_id, account), 0) == have >= 0, (customer_id, account)
        assert coupons == {cid: c.remaining for cid, c in self.coupons.items()}
        assert all(v >= 0 for v in coupons.values())
        assert left == {pid: p.remaining for pid, p in self.packages.items()}
        assert all(v >= 0 for v in left.values())
        assert arrears == {o: m.arrears for o, m in self.orders.items() if m.arrears}
        assert all(v > 0 for v in arrears.values())
        assert statuses == {o: m.status for o, m in self.orders.items()}
        assert summary.balances == {a: sums.get((customer, a), 0) for a in (*ASSET_ACCOUNTS, "arrears")}
        assert {c.id: c.remaining_fen for c in summary.coupons} == {
            cid: c.remaining for cid, c in self.coupons.items() if c.customer == customer}
        assert {p.id: p.remaining for p in summary.packages} == {
            pid: p.remaining for pid, p in self.packages.items() if p.customer == customer}

    @invariant()
    def closed_days_are_the_model_s(self) -> None:
        """The days closed are the model's (their reports never change: ``the_books_add_up``)."""
        with self.clinic.read() as s:
            assert set(s.scalars(select(DayClose.business_date))) == self.closed
        assert self.open_day() not in self.closed

    @invariant()
    def performance_follows_the_orders(self) -> None:
        with self.clinic.read() as s:
            rows = s.execute(select(PerformanceEntry.order_id, PerformanceEntry.role, func.sum(PerformanceEntry.amount_fen))
                             .where(PerformanceEntry.order_id.is_not(None))
                             .group_by(PerformanceEntry.order_id, PerformanceEntry.role)).tuples()
            credit: dict[int, dict[str, int]] = {}
            for order_id, role, amount in rows:
                credit.setdefault(order_id, {})[role] = int(amount)
        for order_id, order in self.orders.items():
            got = credit.get(order_id, {})
            assert all(v >= 0 for v in got.values()), got
            if order.status == "settled":
                assert got.get("department", 0) == sum(li.net for li in order.lines), (order_id, got)
            elif order.status == "voided":
                reverse, before = self.voided[order_id]
                assert got.get("department", 0) == 0
                for role in STAFF_ROLES:
                    assert got.get(role, 0) == (0 if reverse else before[role]), (order_id, role, got, before)
            else:
                assert not got


def test_money_state_machine(_template_db: Path, tmp_path: Path) -> None:
    """About 90 s of CPU (the library's checks after every step). MONEY_EXAMPLES / MONEY_STEPS run it longer, MONEY_NO_SHRINK=1 reports the first
    failure unshrunk (shrinking a long failing run can take minutes), MONEY_STATS=1 prints how often
    each rule went through or was refused."""
    template = tmp_path / "desk.sqlite3"
    shutil.copy(_template_db, template)
    clinic = Clinic.open(sqlite_url(template))
    real_now = clock.now
    clock.now = lambda: START
    try:
        MoneyMachine.desk = build_desk(clinic)
        pricing = make_user(clinic, MoneyMachine.desk.admin, "pricing")
        for item, shares in SHARES.items():
            item_id = MoneyMachine.desk.items[item]
            entry = dictionaries.get_entry(clinic, pricing, Kind.ITEM, item_id)
            dictionaries.update_entry(clinic, pricing, Kind.ITEM, item_id, dict(
                entry.fields, name=entry.name, **{f"share_{role}_pct": pct for role, pct in shares.items()}))
    finally:
        clock.now = real_now
        clinic.dispose()
    MoneyMachine.template = template
    OUTCOMES.clear()
    run_state_machine_as_test(MoneyMachine, settings=settings(
        max_examples=int(os.environ.get("MONEY_EXAMPLES", 40)),
        stateful_step_count=int(os.environ.get("MONEY_STEPS", 40)),
        deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        **({"phases": [Phase.generate], "report_multiple_bugs": False} if os.environ.get("MONEY_NO_SHRINK") else {})))
    if os.environ.get("MONEY_STATS"):
        print(*sorted(OUTCOMES.items()), sep="\n")
