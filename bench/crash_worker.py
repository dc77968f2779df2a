"""The crash-test worker: random money operations through the services until the harness kills it.

``python -m bench.crash_worker URL LOG SEED`` imports, prints "loaded" and waits for "go" on stdin (the
harness starts it early, so the imports overlap the previous round), then opens the clinic (an SQLite
file or a PostgreSQL database), compares the audit log with this PC's anchor as the program does before
the login (``audit_guard.check_on_start``; this "PC" is ``MEIKE_CONFIG_DIR``), replays the last request
that was not acknowledged, prints "ready" and works until it is killed. Two workers may work on the
same database at once (two workstations), each with its own log and its own config folder.

Every request is logged before the call (an "intent" line with its idempotency key and arguments)
and acknowledged after the call returns (an "ack" line with the receipt): one fsynced JSON line
each, appended to ``LOG``. An acknowledged request is one the cashier saw succeed.

When the database connection is lost under it (the harness ends its PostgreSQL backend with
``pg_terminate_backend``), the call's outcome is unknown: the worker logs it as "lost" and recovers as
the cashier's retry would, by sending the request again with the same key; a connection lost outside a
call is just reopened. A worker that cannot recover dies; the harness then checks the books as after
a kill.
"""

from __future__ import annotations

import gc
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # a worker process, not the harness importing the helpers below
    gc.disable()  # until imported (``main``): collecting during the imports only slows the start

from argon2 import PasswordHasher  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402

from meike import clock  # noqa: E402
from meike.clinic_setup import wire  # noqa: E402
from meike.db import Clinic  # noqa: E402
from meike.errors import MeikeError  # noqa: E402
from meike.models import (  # noqa: E402
    AccountEntry,
    Customer,
    DayClose,
    Department,
    Item,
    Order,
    OrderAdjustment,
    OrderLine,
    Package,
    PaymentMethod,
    Receipt,
    Staff,
)
from meike.permissions import Actor, Right  # noqa: E402
from meike.services import accounts, audit_guard, cashier, dayclose, ledger  # noqa: E402
from meike.services.cashier import LineSpec, Tender  # noqa: E402

LOG_SUFFIX = ".acks.jsonl"
START = date(2026, 3, 2)  # the first business day of the simulated clinic
CUSTOMERS = 40
CASHIER, SUPERVISOR, PASSWORD = "sy", "gl", "123"
TAIL_BYTES = 64 * 1024
# Weights of the operations; a "sale" opens an order and mostly pays it at once.
OPS = {"sale": 30, "pay_new": 6, "collect": 8, "top_up": 10, "refund_balance": 4, "sell_coupon": 3,
       "refund_line": 5, "refund_package": 3, "reprice": 3, "void": 5, "cancel": 2, "close_day": 3,
       "business_date": 1}
KEYED = {"pay", "top_up", "refund_balance", "sell_coupon", "refund_line", "refund_package", "reprice", "void"}


def cheap_hasher() -> PasswordHasher:
    """The test suite's argon2 parameters: logins at start-up cost nothing (the harness seeds with them)."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def log_path(folder: Path, lane: int) -> Path:
    """The acknowledgement log of one workstation (lane) of a run."""
    return folder / f"lane{lane}{LOG_SUFFIX}"


def connection_lost(exc: BaseException) -> bool:
    """The database connection died under the call: SQLAlchemy saw a disconnect (directly or as the cause
    of the StorageError the clinic's write transaction raised for it), or the driver's own error came
    through as it is (``meike.db.prepared`` reads on DBAPI connections of its own)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if type(seen).__module__.startswith("psycopg") and any(
                c.__name__ == "OperationalError" for c in type(seen).__mro__):
            return True
        seen = seen.__cause__
    return False


class Lost(Exception):
    """A call whose connection was lost: committed or not, nobody knows until it is sent again."""


class AckLog:
    """Append-only JSON lines, each written with one ``write`` and fsynced before the worker goes on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode())
        os.fsync(self.fd)

    def pending(self) -> dict[str, Any] | None:
        """The last intent with neither an ack nor a refusal after it (the call the kill interrupted)."""
        with open(self.path, "rb") as f:
            start = max(0, f.seek(0, os.SEEK_END) - TAIL_BYTES)
            f.seek(start)
            lines = f.read().split(b"\n")[:-1]  # the last piece is empty or an unfinished line
        last: dict[str, Any] | None = None
        for raw in lines[1:] if start else lines:  # from the middle of the file, the first line is cut
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if record.get("t") == "intent":
                last = record
            elif last is not None and record.get("id") == last["id"] and record.get("t") in ("ack", "refused"):
                last = None
        return last


class SimClock:
    """The clinic's clock in the simulation: the simulated business day at the real time of day."""

    def __init__(self, today: date) -> None:
        self.today = today

    def now(self) -> datetime:
        return datetime.combine(self.today, datetime.now().time().replace(microsecond=0))


@dataclass
class Desk:
    cashier: Actor
    boss: Actor
    customers: list[int]
    items: dict[int, tuple[int, int]]  # id → (price, minimum)
    external: list[int]  # payment methods that are not customer accounts
    account_methods: dict[str, int]  # prepaid / deposit / coupon / inpatient → method
    staff: list[int]
    departments: list[int]


def tenders_of(rows: list[list[int | None]]) -> list[Tender]:
    return [Tender(m, a, c) for m, a, c in rows]  # type: ignore[arg-type]


def _receipt(result: Any) -> dict[str, Any]:
    if isinstance(result, cashier.VoidResult):
        return {"receipt_no": result.receipt_no, "amount_fen": -result.refunded_fen,
                "reopened_order_id": result.reopened_order_id, "replayed": None}
    paid = result.paid_fen if isinstance(result, cashier.PayResult) else result.amount_fen
    return {"receipt_id": result.receipt_id, "receipt_no": result.receipt_no, "amount_fen": paid,
            "replayed": result.replayed}


class Worker:
    """One cashier at the desk: picks a random operation from what the books hold, calls it, logs it."""

    def __init__(self, clinic: Clinic, log: AckLog, rng: random.Random, sim: SimClock, desk: Desk) -> None:
        self.clinic, self.log, self.rng, self.sim, self.d = clinic, log, rng, sim, desk
        self.recoveries = 0

    # --- calling a service: intent, call, acknowledgement ------------------------------------------

    def execute(self, op: str, a: dict[str, Any], key: str) -> dict[str, Any]:
        """Call the service of ``op`` with the logged arguments; returns what the acknowledgement records."""
        c, d = self.clinic, self.d
        if op == "open_order":
            lines = [LineSpec(li["item"], li["qty"], li.get("price"), li.get("doctor"),
                              li.get("sessions", 0), li.get("package_id")) for li in a["lines"]]
            order_id = cashier.open_order(c, d.cashier, customer_id=a["customer"], lines=lines,
                                          supervisor=d.boss, consultant_id=a.get("consultant"))
            with c.read() as s:
                return {"order_id": order_id, "total_fen": s.scalar(select(Order.total_fen).where(Order.id == order_id))}
        if op == "pay":
            return _receipt(cashier.pay(c, d.cashier, a["order_id"], tenders_of(a["tenders"]), idempotency_key=key,
                                        allow_arrears=a["arrears"]))
        if op == "top_up":
            return _receipt(ledger.top_up(c, d.cashier, a["customer"], account=a["account"],
                                          tenders=tenders_of(a["tenders"]), idempotency_key=key,
                                          staff_id=a.get("staff"), department_id=a.get("department"),
                                          inpatient_no=a.get("inpatient_no", "")))
        if op == "refund_balance":
            return _receipt(ledger.refund_balance(c, d.cashier, a["customer"], account=a["account"],
                                                  tenders=tenders_of(a["tenders"]), idempotency_key=key,
                                                  supervisor=d.boss, reason="顾客要求退款"))
        if op == "sell_coupon":
            return _receipt(ledger.sell_coupon(c, d.cashier, a["customer"], name="代金券", face_value_fen=a["face"],
                                               valid_until=date.fromisoformat(a["valid_until"]),
                                               tenders=tenders_of(a["tenders"]), idempotency_key=key,
                                               supervisor=d.boss))  # below its face value: a gift
        if op == "refund_line":
            return _receipt(cashier.refund_line(c, d.cashier, a["line_id"], amount_fen=a["amount"],
                                                tenders=tenders_of(a["tenders"]), reason="效果不满意",
                                                supervisor=d.boss, reverse_performance=a["reverse"],
                                                idempotency_key=key))
        if op == "refund_package":
            return _receipt(cashier.refund_package(c, d.cashier, a["package_id"], sessions=a["sessions"],
                                                   tenders=tenders_of(a["tenders"]), reason="疗程不做了",
                                                   supervisor=d.boss, reverse_performance=a["reverse"],
                                                   idempotency_key=key))
        if op == "reprice":
            return _receipt(cashier.reprice_line(c, d.cashier, a["line_id"], unit_price_fen=a["unit"], reason="改价",
                                                 supervisor=d.boss, tenders=tenders_of(a["tenders"]),
                                                 idempotency_key=key))
        if op == "void":
            return _receipt(cashier.void(c, d.cashier, a["order_id"], reason="付款方式选错", supervisor=d.boss,
                                         reverse_performance=a["reverse"], idempotency_key=key))
        if op == "cancel":
            cashier.cancel(c, d.cashier, a["order_id"], reason="顾客不做了")
            return {}
        if op == "close_day":
            report = dayclose.close_day(c, d.cashier, counted_cash_fen=a["counted"], note=a["note"],
                                        day=date.fromisoformat(a["day"]))
            return {"expected_cash_fen": report.expected_cash_fen, "receipts": report.receipts}
        if op == "business_date":
            dayclose.set_business_date(c, d.cashier, date.fromisoformat(a["day"]), supervisor=d.boss)
            return {}
        raise ValueError(op)

    def call(self, op: str, args: dict[str, Any]) -> dict[str, Any] | None:
        """Log the intent, call the service, acknowledge what it returned (None: refused)."""
        ident = uuid.uuid4().hex
        key = f"crash-{ident}" if op in KEYED else ""
        self.log.write({"t": "intent", "id": ident, "op": op, "key": key, "args": args})
        try:
            ack = self.execute(op, args, key)
        except Exception as e:  # noqa: BLE001 (a driver error may come unwrapped)
            if connection_lost(e):
                self.log.write({"t": "lost", "id": ident, "op": op, "error": type(e).__name__})
                raise Lost(op) from e
            if not isinstance(e, MeikeError):
                raise
            self.log.write({"t": "refused", "id": ident, "op": op, "error": str(e)})
            return None
        self.log.write({"t": "ack", "id": ident, "op": op, "key": key, **self.ack_context(op, args), **ack})
        return ack

    @staticmethod
    def ack_context(op: str, args: dict[str, Any]) -> dict[str, Any]:
        out = {k: args[k] for k in ("order_id", "customer", "day") if k in args}
        if op == "close_day":
            out["counted_cash_fen"] = args["counted"]
        return out

    def replay_pending(self) -> None:
        """Send the interrupted request again with its key: it must give the receipt it wrote, if it did."""
        intent = self.log.pending()
        if intent is None or not intent["key"]:
            return
        key, op = intent["key"], intent["op"]
        with self.clinic.read() as s:
            before = s.scalar(select(Receipt.receipt_no).where(Receipt.idempotency_key == key))
        record = {"t": "replay", "id": intent["id"], "op": op, "key": key, "before": before}
        try:
            ack = self.execute(op, intent["args"], key)
        except MeikeError as e:
            if connection_lost(e):  # still unknown: ``recover`` sends it again
                raise
            self.log.write({"t": "refused", "id": intent["id"], "op": op, "error": str(e)})
            self.log.write({**record, "refused": str(e)})
            return
        self.log.write({"t": "ack", "id": intent["id"], "op": op, "key": key,
                        **self.ack_context(op, intent["args"]), **ack})
        self.log.write({**record, "receipt_no": ack["receipt_no"], "replayed": ack["replayed"]})

    # --- what the desk holds -----------------------------------------------------------------------

    def tenders(self, customer: int, amount: int, *, accounts: bool = True) -> list[list[int | None]]:
        """A split payment of ``amount``: some from the customer's accounts, the rest in one to three methods."""
        out: list[list[int | None]] = []
        left = amount
        if accounts and left > 0:
            summary = ledger.customer_accounts(self.clinic, self.d.cashier, customer)
            for kind in ("prepaid", "deposit", "inpatient"):
                have = summary.balances.get(kind, 0)
                if left > 0 and have > 0 and self.rng.random() < 0.5:
                    take = min(left, self.rng.randint(1, have))
                    out.append([self.d.account_methods[kind], take, None])
                    left -= take
            usable = [cp for cp in summary.coupons if cp.remaining_fen > 0 and cp.valid_until >= self.sim.today]
            if left > 0 and usable and self.rng.random() < 0.4:
                coupon = self.rng.choice(usable)
                take = min(left, coupon.remaining_fen)
                out.append([self.d.account_methods["coupon"], take, coupon.id])
                left -= take
        while left > 0:
            take = left if len(out) >= 2 or self.rng.random() < 0.5 else self.rng.randint(1, left)
            out.append([self.rng.choice(self.d.external), take, None])
            left -= take
        return out

    def payout(self, amount: int) -> list[list[int | None]]:
        """How a refund goes out: cash, WeChat, card, or into the customer's prepaid balance."""
        if amount <= 0:
            return []
        methods = [*self.d.external[:3], self.d.account_methods["prepaid"]]
        first = amount if self.rng.random() < 0.7 else self.rng.randint(1, amount)
        rows = [[self.rng.choice(methods), first, None]]
        if amount > first:
            rows.append([self.rng.choice(methods), amount - first, None])
        return rows

    def recent(self, q: Any, n: int = 40) -> list[Any]:
        with self.clinic.read() as s:
            return list(s.execute(q.limit(n)).all())

    def settled_line(self) -> tuple[int, int, int, int, int] | None:
        """A recent settled plain line with something left: (line, order, quantity, net, owed on the order)."""
        rows = self.recent(select(OrderLine.id).join(Order, Order.id == OrderLine.order_id)
                           .where(Order.status == "settled", OrderLine.package_sessions == 0,
                                  OrderLine.package_id.is_(None), OrderLine.amount_fen > 0)
                           .order_by(OrderLine.id.desc()), 20)
        if not rows:
            return None
        with self.clinic.read() as s:
            line = s.get(OrderLine, self.rng.choice(rows)[0])
            assert line is not None
            net = cashier.line_net(s, line)
            return (line.id, line.order_id, line.quantity, net, cashier.order_arrears(s, line.order_id)) \
                if net > 0 else None

    # --- the operations ----------------------------------------------------------------------------

    def op_sale(self) -> None:
        customer = self.rng.choice(self.d.customers)
        held = {p.id: (p.item_id, p.remaining) for p in
                ledger.customer_accounts(self.clinic, self.d.cashier, customer).packages if p.remaining > 0}
        lines: list[dict[str, Any]] = []
        for _ in range(self.rng.choice((1, 1, 2, 3))):
            r = self.rng.random()
            item = self.rng.choice(list(self.d.items))
            price, minimum = self.d.items[item]
            doctor = self.rng.choice([None, *self.d.staff[:3]])
            if held and r < 0.3:
                package_id = self.rng.choice(list(held))
                item_id, left = held.pop(package_id)
                lines.append({"item": item_id, "qty": self.rng.randint(1, min(2, left)), "package_id": package_id,
                              "doctor": doctor})
            elif r < 0.45:
                lines.append({"item": item, "qty": 1, "sessions": self.rng.choice((3, 5, 10)), "doctor": doctor})
            elif r < 0.6:
                unit = self.rng.randint(minimum // 100 - 50, price // 100) * 100  # sometimes below the minimum
                lines.append({"item": item, "qty": self.rng.choice((1, 1, 2)), "price": max(0, unit), "doctor": doctor})
            else:
                lines.append({"item": item, "qty": self.rng.choice((1, 1, 2)), "doctor": doctor})
        order = self.call("open_order", {"customer": customer, "lines": lines,
                                         "consultant": self.rng.choice([None, *self.d.staff])})
        if order is not None and self.rng.random() < 0.85:
            self.pay(order["order_id"], customer, order["total_fen"])

    def pay(self, order_id: int, customer: int, total: int) -> None:
        short = self.rng.random() < 0.25
        paying = self.rng.randint(0, total) if short and total else total
        self.call("pay", {"order_id": order_id, "tenders": self.tenders(customer, paying), "arrears": short})

    def op_pay_new(self) -> None:
        rows = self.recent(select(Order.id, Order.customer_id, Order.total_fen).where(Order.status == "new")
                           .order_by(Order.id.desc()))
        if rows:
            order_id, customer, total = self.rng.choice(rows)
            self.pay(order_id, customer, total)

    def op_collect(self) -> None:
        with self.clinic.read() as s:
            newest = s.scalar(select(func.max(Order.id))) or 0
        owing = self.recent(select(AccountEntry.order_id, AccountEntry.customer_id, func.sum(AccountEntry.amount_fen))
                            .where(AccountEntry.account == "arrears", AccountEntry.order_id > newest - 400)
                            .group_by(AccountEntry.order_id, AccountEntry.customer_id)
                            .having(func.sum(AccountEntry.amount_fen) > 0))
        if owing:
            order_id, customer, owed = self.rng.choice(owing)
            amount = owed if self.rng.random() < 0.5 else self.rng.randint(1, owed)
            self.call("pay", {"order_id": order_id, "tenders": self.tenders(customer, amount), "arrears": False})

    def op_top_up(self) -> None:
        customer = self.rng.choice(self.d.customers)
        account = self.rng.choice(("deposit", "prepaid", "prepaid", "inpatient"))
        args: dict[str, Any] = {"customer": customer, "account": account,
                                "tenders": self.tenders(customer, self.rng.randint(1, 300) * 1_000, accounts=False)}
        if account != "prepaid":
            args["department"] = self.rng.choice(self.d.departments)
        if account == "deposit":
            args["staff"] = self.rng.choice(self.d.staff)
        if account == "inpatient":
            args["inpatient_no"] = f"ZY{customer:05d}"
        self.call("top_up", args)

    def op_refund_balance(self) -> None:
        customer = self.rng.choice(self.d.customers)
        balances = ledger.customer_accounts(self.clinic, self.d.cashier, customer).balances
        held = [a for a in ("deposit", "prepaid", "inpatient") if balances.get(a, 0) > 0]
        if held:
            account = self.rng.choice(held)
            have = balances[account]
            amount = have if self.rng.random() < 0.4 else self.rng.randint(1, have)
            self.call("refund_balance", {"customer": customer, "account": account,
                                         "tenders": self.tenders(customer, amount, accounts=False)})

    def op_sell_coupon(self) -> None:
        customer = self.rng.choice(self.d.customers)
        face = self.rng.randint(1, 20) * 5_000
        price = self.rng.choice((0, face // 2, face))
        self.call("sell_coupon", {"customer": customer, "face": face,
                                  "valid_until": (self.sim.today + timedelta(days=30)).isoformat(),
                                  "tenders": self.tenders(customer, price, accounts=False)})

    def op_refund_line(self) -> None:
        line = self.settled_line()
        if line is not None:
            line_id, _order, _q, net, owed = line
            amount = net if self.rng.random() < 0.4 else self.rng.randint(1, net)
            self.call("refund_line", {"line_id": line_id, "amount": amount, "reverse": self.rng.random() < 0.5,
                                      "tenders": self.payout(amount - min(owed, amount))})

    def op_refund_package(self) -> None:
        rows = self.recent(select(Package.id, Package.sessions, Package.value_fen, OrderLine.order_id)
                           .join(OrderLine, OrderLine.id == Package.order_line_id)
                           .join(Order, Order.id == OrderLine.order_id).where(Order.status == "settled")
                           .order_by(Package.id.desc()), 20)
        if not rows:
            return
        package_id, total, value, order_id = self.rng.choice(rows)
        with self.clinic.read() as s:
            remaining, owed = ledger.package_remaining(s, package_id), cashier.order_arrears(s, order_id)
        if remaining > 0:
            sessions = self.rng.randint(1, remaining)
            amount = cashier.refund_value(value, total, remaining, sessions)
            self.call("refund_package", {"package_id": package_id, "sessions": sessions,
                                         "reverse": self.rng.random() < 0.5,
                                         "tenders": self.payout(amount - min(owed, amount))})

    def op_reprice(self) -> None:
        line = self.settled_line()
        if line is None:
            return
        line_id, order_id, quantity, net, owed = line
        unit = max(0, net // quantity + self.rng.choice((-1, 1)) * self.rng.randint(1, 50) * 1_000)
        diff = unit * quantity - net
        if diff > 0:
            with self.clinic.read() as s:
                customer = s.scalar(select(Order.customer_id).where(Order.id == order_id))
            assert customer is not None
            tenders = self.tenders(customer, self.rng.choice((0, diff, self.rng.randint(1, diff))))
        else:
            tenders = self.payout(-diff - min(owed, -diff))
        self.call("reprice", {"line_id": line_id, "unit": unit, "tenders": tenders})

    def op_void(self) -> None:
        adjusted = select(OrderAdjustment.order_id)
        rows = self.recent(select(Order.id).where(Order.status == "settled", Order.id.not_in(adjusted))
                           .order_by(Order.id.desc()), 20)
        if rows:
            self.call("void", {"order_id": self.rng.choice(rows)[0], "reverse": self.rng.random() < 0.5})

    def op_cancel(self) -> None:
        rows = self.recent(select(Order.id).where(Order.status == "new").order_by(Order.id.desc()), 10)
        if rows:
            self.call("cancel", {"order_id": self.rng.choice(rows)[0]})

    def op_close_day(self) -> None:
        """日结 of the open business day (moving the clock to it), then on to the next morning."""
        day = dayclose.business_day(self.clinic, self.d.cashier).business_date
        self.sim.today = max(self.sim.today, day)
        expected = dayclose.day_report(self.clinic, self.d.cashier, day).expected_cash_fen
        counted, note = expected, ""
        if expected < 0 or self.rng.random() < 0.2:  # paid out more cash than taken, or a difference found
            counted, note = max(0, expected + self.rng.choice((-100, 100))), "差额已查明"
        if self.call("close_day", {"day": day.isoformat(), "counted": counted, "note": note}) is not None:
            self.sim.today = max(self.sim.today, day + timedelta(days=1))

    def op_business_date(self) -> None:
        """【日期】: the supervisor posts on tomorrow, or back on today."""
        day = self.sim.today + timedelta(days=self.rng.choice((1, 1, 0)))
        self.call("business_date", {"day": day.isoformat()})

    def recover(self) -> None:
        """After a lost connection: the next call opens a new one (SQLAlchemy dropped the pool's); the
        request that was in flight is sent again with its key, as the cashier's retry does. A connection
        lost again while recovering is tried a few times more; then the worker gives up (dies)."""
        self.recoveries += 1
        for attempt in range(5):
            try:
                self.replay_pending()
                self.log.write({"t": "recovered", "attempts": attempt + 1})
                return
            except Exception as e:  # noqa: BLE001 (a driver error may come unwrapped)
                if not connection_lost(e) or attempt == 4:
                    raise
                time.sleep(0.02 * (attempt + 1))

    def catch_up(self) -> None:
        """Another workstation may have closed the day this one was on: its clock moves on with the clinic."""
        self.sim.today = max(self.sim.today, simulated_today(self.clinic))

    def run(self) -> None:
        names = list(OPS)
        weights = list(OPS.values())
        ops: dict[str, Callable[[], None]] = {name: getattr(self, f"op_{name}") for name in names}
        while True:
            try:
                self.catch_up()
                ops[self.rng.choices(names, weights)[0]]()
            except Lost:
                self.recover()
            except Exception as e:  # noqa: BLE001 lost while it looked for something to do: nothing in flight
                if not connection_lost(e):
                    raise
                self.recover()


def load_desk(clinic: Clinic) -> Desk:
    """Log in as the cashier, have the supervisor confirm, read the price list and the customers."""
    cashier_actor = accounts.authenticate(clinic, CASHIER, PASSWORD)
    boss = accounts.verify_supervisor(clinic, SUPERVISOR, PASSWORD, Right.REFUND)
    with clinic.read() as s:
        methods = s.execute(select(PaymentMethod.id, PaymentMethod.kind).where(PaymentMethod.is_active)
                            .order_by(PaymentMethod.id)).all()
        return Desk(
            cashier_actor, boss,
            list(s.scalars(select(Customer.id).order_by(Customer.id).limit(CUSTOMERS))),
            {i: (p, m) for i, p, m in s.execute(select(Item.id, Item.price_fen, Item.min_price_fen)
                                                .where(Item.is_active))},
            [m for m, kind in methods if kind in ("cash", "wechat", "card", "alipay", "instalment")],
            {kind: m for m, kind in methods if kind in ("prepaid", "deposit", "coupon", "inpatient")},
            list(s.scalars(select(Staff.id).order_by(Staff.id))),
            list(s.scalars(select(Department.id).order_by(Department.id))),
        )


def simulated_today(clinic: Clinic) -> date:
    """The day after the last closed one: the clinic's clock only moves forward, across restarts too."""
    with clinic.read() as s:
        last = s.scalar(select(func.max(DayClose.business_date)))
    return max(START, last + timedelta(days=1)) if last else START


def main(argv: list[str]) -> int:
    url, log, seed = argv[0], AckLog(Path(argv[1])), int(argv[2])
    gc.freeze()
    gc.enable()
    print("loaded", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 0
    accounts.hasher = cheap_hasher()
    wire()  # as the program does: the receipt-number mark, the backups the audit check compares
    clinic = Clinic.open(url)
    problems = audit_guard.check_on_start(clinic)  # before the login, as the program does
    if problems:
        log.write({"t": "start_check", "problems": problems})
    sim = SimClock(simulated_today(clinic))
    clock.now = sim.now
    worker = Worker(clinic, log, random.Random(seed), sim, load_desk(clinic))
    worker.replay_pending()
    print("ready", flush=True)
    worker.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
