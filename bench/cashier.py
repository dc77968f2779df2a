"""Cashier speed on a synthetic year: 5,000,000 order lines (cached in bench/cache/).

Figures (added to bench/results.json): ``daily_close_ms`` (close one business day of 2,000 orders),
``revenue_month_ms`` (store revenue for one month by department and method), ``settle_order_ms``
(p95 of settling a two-line order split across two methods, through the service layer).

The year is written with plain INSERTs in the shape the services write (receipt, tenders,
performance per line), then the services are timed on it.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from bench import synth
from meike import clock, demo
from meike.clinic_setup import upgrade
from meike.db import Clinic, sqlite_url
from meike.services import accounts, cashier, dayclose
from meike.services.ledger import Tender

RESULTS = Path(__file__).resolve().parent / "results.json"
VERSION = 3
CLOSE_DAYS = 5  # the last days of the year have exactly ORDERS_ON_CLOSE_DAY orders each
ORDERS_ON_CLOSE_DAY = 2_000


def build(lines: int, *, seed: int = 11) -> Path:
    synth.CACHE.mkdir(parents=True, exist_ok=True)
    path = synth.CACHE / f"cashier-v{VERSION}-{lines}.sqlite3"
    if path.exists():
        return path
    tmp = path.with_suffix(".partial")
    for leftover in synth.CACHE.glob(tmp.name + "*"):
        leftover.unlink()
    started = time.perf_counter()
    clinic = Clinic.open(sqlite_url(tmp))
    upgrade(clinic)
    demo.build(clinic, customers=3_000, activity=False)
    clinic.dispose()
    raw = sqlite3.connect(tmp)
    raw.execute("PRAGMA journal_mode=OFF")
    raw.execute("PRAGMA synchronous=OFF")
    customers = [r[0] for r in raw.execute("SELECT id FROM customers")]
    items = raw.execute("SELECT id, name, price_fen, department_id FROM items").fetchall()
    methods = [r[0] for r in raw.execute("SELECT id FROM payment_methods WHERE kind IN "
                                         "('cash','card','wechat','alipay')")]
    staff = [r[0] for r in raw.execute("SELECT id FROM staff")]
    cashiers = [r[0] for r in raw.execute("SELECT id FROM users WHERE is_admin = 0")]
    rng = random.Random(seed)
    today = clock.now().date()
    days = [today - timedelta(days=n) for n in range(365, 0, -1)]
    # 2.4 lines per order on average (1, 2, 2, 3 or 4); the close days have exactly 2,000 orders.
    per_day_orders = (lines / 2.4 - CLOSE_DAYS * ORDERS_ON_CLOSE_DAY) / (len(days) - CLOSE_DAYS)
    order_id = receipt_id = line_id = 0
    written = 0
    for di, day in enumerate(days):
        normal_days_left = len(days) - CLOSE_DAYS - di
        if normal_days_left > 0:  # aim at the target from what is written so far
            per_day_orders = ((lines - written) / 2.4 - CLOSE_DAYS * ORDERS_ON_CLOSE_DAY) / normal_days_left
        n_orders = ORDERS_ON_CLOSE_DAY if normal_days_left <= 0 else round(per_day_orders * rng.uniform(0.7, 1.3))
        orders, order_lines, receipts, payments, perf = [], [], [], [], []
        for serial in range(1, n_orders + 1):
            order_id += 1
            receipt_id += 1
            at = datetime.combine(day, datetime.min.time()) + timedelta(minutes=540 + rng.randrange(600))
            customer = rng.choice(customers)
            consultant = rng.choice(staff)
            total = 0
            for _ in range(rng.choice((1, 2, 2, 3, 4))):
                line_id += 1
                item_id, name, price, dept = rng.choice(items)
                quantity = 1
                order_lines.append((line_id, order_id, item_id, name, quantity, price, price, price, None, 0, None))
                total += price
                perf.append((order_id, line_id, receipt_id, "consultant", consultant, None, price, day))
                perf.append((order_id, line_id, receipt_id, "department", None, dept, price, day))
                written += 1
            number = f"R{day:%Y%m%d}-{serial:04d}"
            orders.append((order_id, customer, None, "settled", total, rng.choice(cashiers), at, at, number, day, "",
                           consultant, None, "", None, "", "", 0))
            receipts.append((receipt_id, number, day, "settle", customer, order_id, total, "valid", orders[-1][5], at,
                             uuid.UUID(int=rng.getrandbits(128)).hex, "", 0))
            first = total if rng.random() < 0.7 else total // 2
            payments.append((receipt_id, order_id, rng.choice(methods), None, first, day, orders[-1][5], at))
            if first != total:
                payments.append((receipt_id, order_id, rng.choice(methods), None, total - first, day, orders[-1][5], at))
        raw.executemany("INSERT INTO orders (id, customer_id, visit_id, status, total_fen, created_by_id, created_at,"
                        " settled_at, receipt_no, business_date, cancel_reason, consultant_id, source_order_id,"
                        " void_reason, voided_at, invoice_no, invoice_title, invoice_fen)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", orders)
        raw.executemany("INSERT INTO order_lines (id, order_id, item_id, item_name, quantity, unit_price_fen,"
                        " amount_fen, list_price_fen, doctor_id, package_sessions, package_id)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?)", order_lines)
        raw.executemany("INSERT INTO receipts (id, receipt_no, business_date, kind, customer_id, order_id, amount_fen,"
                        " status, cashier_id, created_at, idempotency_key, note, reprints)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", receipts)
        raw.executemany("INSERT INTO payments (receipt_id, order_id, payment_method_id, account, amount_fen,"
                        " business_date, received_by_id, created_at) VALUES (?,?,?,?,?,?,?,?)", payments)
        raw.executemany("INSERT INTO performance_entries (order_id, order_line_id, receipt_id, role, staff_id,"
                        " department_id, amount_fen, business_date) VALUES (?,?,?,?,?,?,?,?)", perf)
        raw.execute("INSERT INTO receipt_counters (business_date, last_no) VALUES (?, ?)", (day, n_orders))
        if di % 30 == 0:
            raw.commit()
            print(f"  {day}: {written:,} order lines, {time.perf_counter() - started:.0f} s", flush=True)
    raw.commit()
    raw.execute("ANALYZE")
    raw.close()
    tmp.rename(path)
    print(f"built {path.name}: {written:,} order lines in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=5_000_000)
    args = parser.parse_args(argv)
    pristine = build(args.lines)
    # Closing a day is for good, so each run measures on a fresh copy of the generated year.
    path = pristine.with_name("cashier-work.sqlite3")
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    shutil.copy(pristine, path)
    clinic = Clinic.open(sqlite_url(path))
    synth.migrate_cache(clinic)
    raw = sqlite3.connect(path)
    gl = accounts.authenticate(clinic, "gl", "123")
    today = clock.now().date()
    results: dict[str, object] = {
        "order_lines": raw.execute("SELECT count(*) FROM order_lines").fetchone()[0],
        "orders_per_closed_day": ORDERS_ON_CLOSE_DAY,
    }
    # Close the last days of the year (2,000 orders each), oldest first, as a cashier would.
    close_samples = []
    for n in range(CLOSE_DAYS, 0, -1):
        day = today - timedelta(days=n)
        if raw.execute("SELECT 1 FROM day_closes WHERE business_date = ?", (day.isoformat(),)).fetchone():
            continue
        expected = dayclose.day_report(clinic, gl, day).expected_cash_fen
        t0 = time.perf_counter()
        dayclose.close_day(clinic, gl, day=day, counted_cash_fen=expected)
        close_samples.append((time.perf_counter() - t0) * 1000)
    if close_samples:
        results["daily_close_ms"] = round(max(close_samples), 1)
    month_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    month_end = today.replace(day=1) - timedelta(days=1)
    samples = []
    for _ in range(7):
        t0 = time.perf_counter()
        report = dayclose.revenue(clinic, gl, month_start, month_end)
        samples.append((time.perf_counter() - t0) * 1000)
    results["revenue_month_ms"] = round(statistics.median(samples), 1)
    results["revenue_month_received_fen"] = report.received_fen
    item_ids = [r[0] for r in raw.execute("SELECT id FROM items WHERE is_active = 1 LIMIT 20")]
    methods = [r[0] for r in raw.execute("SELECT id FROM payment_methods WHERE kind IN ('cash', 'wechat')")]
    customers = [r[0] for r in raw.execute("SELECT id FROM customers LIMIT 500")]
    rng = random.Random(3)
    samples = []
    for _ in range(200):
        order = cashier.open_order(clinic, gl, customer_id=rng.choice(customers),
                                   lines=[(rng.choice(item_ids), 1, None), (rng.choice(item_ids), 1, None)])
        total = cashier.get_order(clinic, gl, order).total_fen
        tenders = [Tender(methods[0], total // 2), Tender(methods[1], total - total // 2)]
        t0 = time.perf_counter()
        cashier.pay(clinic, gl, order, tenders, idempotency_key=uuid.uuid4().hex)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    results["settle_order_ms"] = round(samples[int(len(samples) * 0.95) - 1], 2)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing.update(results)
    RESULTS.write_text(json.dumps(existing, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2, ensure_ascii=False))
    raw.close()
    clinic.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
