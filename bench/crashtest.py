"""Crash safety: a worker doing random money operations is killed at random instants; the books are audited.

``python -m bench.crashtest --kills N [--seed S] [--out bench/reliability.json] [--db DIR]`` (N defaults
to ``CRASHTEST_KILLS`` or 1,000). One fresh clinic database (migrated with alembic, seeded with the
demo dictionaries and accounts) is reused by every round: a worker (``bench.crash_worker``) opens it
through the services and works until SIGKILL lands 50–600 ms after it is ready (some kills land
during its start-up); the harness then reopens the database and audits it (``Audit``). Figures go to
the JSON file; the exit code is non-zero when any failure figure is.

What is counted (each distinct problem once, however many rounds see it):

* ``lost_acknowledged``: an acknowledged request whose document is missing or differs: a receipt
  (by number) with another key or amount, or whose tenders no longer sum to the acknowledged amount;
  an opened order with another total, a cancelled / voided order not in that state, a closed day
  not closed with the counted cash.
* ``half_written``: a document written in part, defined from the models: a receipt whose tenders do
  not sum to its amount; a receipt whose account tenders and account entries do not balance (a
  top-up, a coupon or a balance refund without its entry, a payment from prepaid without the entry
  that takes it out); an order whose lines do not sum to its total; a settled or voided order
  without its settle receipt, or whose payments + arrears ≠ total + adjustments; an unpaid or
  cancelled order with money rows; a void without its receipt, its reversals or its reopened order;
  a course without its order line or "bought" sessions, a course line without its course, a
  deduction without its "used" row, a course use without its order line; department performance
  that does not follow a settled order's net amount; receipt numbers with a gap or a counter that
  disagrees; any row whose foreign key points nowhere.
* ``integrity_failures``: rounds where ``PRAGMA integrity_check`` was not "ok".
* ``invariant_failures``: money created or lost (Σ external tenders ≠ Σ net settled orders + Σ
  account entries − Σ granted coupon value − Σ arrears); a balance the cashier sees (the service)
  that is not the sum of its entries, or one below zero; a coupon or course outside 0..its size;
  a closed day whose stored report differs from the report recomputed now.
* ``duplicate_charges``: a retried request (same idempotency key, replayed by the next worker) that
  wrote a second document instead of returning the first; an order with two settle or void receipts.
* ``replay_failures``: a retried request that had committed but was refused, or claimed a replay of
  nothing.
* ``worker_errors``: a worker that died of something else than the kill (a traceback on its stderr,
  kept in ``worker-stderr.log`` beside the database).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from select import select as wait_readable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.crash_worker import CUSTOMERS, cheap_hasher, log_path
from meike import demo
from meike.db import Clinic, sqlite_url
from meike.db.migrate import upgrade
from meike.models import DayClose
from meike.models.ledger import ASSET_ACCOUNTS
from meike.services import accounts, dayclose, ledger
from meike.services.dayclose import DayReport

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "reliability.json"
DB_NAME = "crashtest.sqlite3"
AHEAD = 2  # workers started ahead of their turn
STARTUP_KILLS = 0.15  # the share of kills that land while the worker opens, logs in and replays
STARTUP_KILL_MS = 150
STARTUP_TIMEOUT = 60.0
FAILURES = ("lost_acknowledged", "half_written", "integrity_failures", "invariant_failures", "duplicate_charges",
            "replay_failures", "worker_errors")
MAX_EXAMPLES = 10
CHUNK = 400
# Receipts whose own account entry is the document (a top-up, a coupon sale, a refund from a balance).
OWN_ENTRY = ("CASE WHEN r.kind IN ('deposit', 'prepaid', 'inpatient', 'coupon', 'discharge') "
             "OR (r.kind = 'refund' AND r.order_id IS NULL) THEN r.amount_fen ELSE 0 END")
ASSETS = "(" + ", ".join(f"'{a}'" for a in ASSET_ACCOUNTS) + ")"


@dataclass
class Findings:
    """What the audits saw: counters of the run and each distinct problem (with a few examples)."""

    kills: int = 0
    kills_during_startup: int = 0  # before the worker said "ready" (opening, logging in, replaying)
    operations_acknowledged: int = 0
    refused: int = 0  # requests the services refused (a validation message, nothing written)
    replays: int = 0
    replays_of_committed: int = 0
    in_flight: set[str] = field(default_factory=set)  # requests a kill interrupted
    in_flight_committed: set[str] = field(default_factory=set)  # … after their commit, before their ack
    issues: dict[str, set[str]] = field(default_factory=lambda: {f: set() for f in FAILURES})
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, category: str, key: str, message: str) -> None:
        if key in self.issues[category]:
            return
        self.issues[category].add(key)
        shown = self.examples.setdefault(category, [])
        if len(shown) < MAX_EXAMPLES:
            shown.append(message)

    def figures(self) -> dict[str, int]:
        return {"kills": self.kills, **{f: len(self.issues[f]) for f in FAILURES},
                "operations_acknowledged": self.operations_acknowledged, "refused": self.refused,
                "kills_in_flight": len(self.in_flight), "in_flight_committed": len(self.in_flight_committed),
                "kills_during_startup": self.kills_during_startup, "replays": self.replays,
                "replays_of_committed": self.replays_of_committed}


class LogReader:
    """Reads the worker's acknowledgement log as it grows; drops the unfinished line a kill leaves."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read_new(self) -> list[dict[str, Any]]:
        with open(self.path, "r+b") as f:
            f.seek(self.offset)
            data = f.read()
            end = data.rfind(b"\n") + 1
            if end < len(data):  # the next worker appends after a whole line
                f.truncate(self.offset + end)
        self.offset += end
        return [json.loads(line) for line in data[:end].splitlines() if line.strip()]


def chunks(items: list[Any], n: int = CHUNK) -> list[list[Any]]:
    return [items[i:i + n] for i in range(0, len(items), n)]


class Audit:
    """Reopens the database after each kill and checks it; ``full`` re-checks everything at the end."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.log = LogReader(log_path(db))
        self.findings = Findings()
        self.acks: list[dict[str, Any]] = []
        self.open_intent: dict[str, Any] | None = None
        self.days_checked: set[date] = set()
        self.rounds = 0

    def after_kill(self) -> None:
        """The audit of a round: everything, but only the new acknowledgements and closed days."""
        self.rounds += 1
        self.check(self.read_log(), every_day=False)

    def full(self) -> Findings:
        """Every acknowledgement, closed day and course again (a new ``Audit`` reads the whole log)."""
        self.read_log()
        self.check(self.acks, every_day=True)
        return self.findings

    def read_log(self) -> list[dict[str, Any]]:
        new: list[dict[str, Any]] = []
        for record in self.log.read_new():
            kind = record["t"]
            if kind == "intent":
                self.open_intent = record
            elif kind in ("ack", "refused"):
                if self.open_intent is not None and record["id"] == self.open_intent["id"]:
                    self.open_intent = None
                if kind == "ack":
                    self.findings.operations_acknowledged += 1
                    new.append(record)
                else:
                    self.findings.refused += 1
            elif kind == "replay":
                self.replayed(record)
        self.acks.extend(new)
        return new

    def replayed(self, r: dict[str, Any]) -> None:
        """The next worker sent the interrupted request again with the same key."""
        f = self.findings
        f.replays += 1
        before = r["before"]
        f.replays_of_committed += before is not None
        what = f"{r['op']} {r['key']}"
        if r.get("refused") is not None:
            if before is not None:
                f.add("replay_failures", r["key"], f"{what}: committed as {before}, refused on retry: {r['refused']}")
        elif before is not None and (r["receipt_no"] != before or r["replayed"] is False):
            f.add("duplicate_charges", r["key"], f"{what}: committed as {before}, the retry gave {r['receipt_no']} "
                  f"(replayed={r['replayed']})")
        elif before is None and r["replayed"]:
            f.add("replay_failures", r["key"], f"{what}: nothing committed, yet the retry says replayed")

    def check(self, acks: list[dict[str, Any]], *, every_day: bool) -> None:
        clinic = Clinic.open(sqlite_url(self.db))
        try:
            with clinic.read() as s:
                self.interrupted(s)
                self.integrity(s)
                self.acknowledged(s, acks)
                self.documents(s)
                self.invariants(s, every_day=every_day)
        finally:
            clinic.dispose()

    @staticmethod
    def rows(s: Session, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        return list(s.connection().exec_driver_sql(sql, tuple(params)).all())

    def interrupted(self, s: Session) -> None:
        """The request the kill interrupted, if any: did it commit before the worker could acknowledge it?"""
        intent = self.open_intent
        if intent is None:
            return
        self.findings.in_flight.add(intent["id"])
        if intent["key"] and self.rows(s, "SELECT 1 FROM receipts WHERE idempotency_key = ?", (intent["key"],)):
            self.findings.in_flight_committed.add(intent["id"])

    def integrity(self, s: Session) -> None:
        result = [r[0] for r in self.rows(s, "PRAGMA integrity_check")]
        if result != ["ok"]:
            self.findings.add("integrity_failures", f"round {self.rounds}",
                              f"round {self.rounds}: integrity_check says {'; '.join(result[:3])}")
        for table, rowid, parent, _fk in self.rows(s, "PRAGMA foreign_key_check"):
            self.findings.add("half_written", f"fk {table} {rowid}", f"{table} row {rowid} points at a missing {parent}")

    # --- every acknowledged request is there --------------------------------------------------------

    def acknowledged(self, s: Session, acks: list[dict[str, Any]]) -> None:
        lost = self.findings.add
        with_receipt = [a for a in acks if "receipt_no" in a]
        for part in chunks(with_receipt):
            marks = ",".join("?" * len(part))
            found = {row[0]: row for row in self.rows(s, (
                "SELECT r.receipt_no, r.id, r.idempotency_key, r.amount_fen, r.order_id, "
                "(SELECT COALESCE(SUM(p.amount_fen), 0) FROM payments p WHERE p.receipt_id = r.id) "
                f"FROM receipts r WHERE r.receipt_no IN ({marks})"), [a["receipt_no"] for a in part])}
            for a in part:
                row = found.get(a["receipt_no"])
                what = f"{a['op']} {a['receipt_no']} ({a['amount_fen']} fen)"
                if row is None:
                    lost("lost_acknowledged", a["id"], f"{what}: the receipt is missing")
                    continue
                _no, receipt_id, key, amount, order_id, tendered = row
                if key != a["key"] or a.get("receipt_id", receipt_id) != receipt_id:
                    lost("lost_acknowledged", a["id"], f"{what}: the number belongs to another request ({key})")
                elif amount != a["amount_fen"] or tendered != amount:
                    lost("lost_acknowledged", a["id"], f"{what}: the receipt says {amount}, its tenders {tendered}")
                elif "order_id" in a and order_id != a["order_id"]:
                    lost("lost_acknowledged", a["id"], f"{what}: on order {order_id}, not {a['order_id']}")
        orders = [a for a in acks if a["op"] in ("open_order", "cancel", "void")]
        for part in chunks(orders):
            ids = [a["order_id"] for a in part]
            marks = ",".join("?" * len(ids))
            found = {row[0]: row for row in self.rows(s, (
                "SELECT o.id, o.total_fen, o.status, (SELECT COUNT(*) FROM orders n WHERE n.source_order_id = o.id) "
                f"FROM orders o WHERE o.id IN ({marks})"), ids)}
            for a in part:
                row = found.get(a["order_id"])
                what = f"{a['op']} of order {a['order_id']}"
                if row is None:
                    lost("lost_acknowledged", a["id"], f"{what}: the order is missing")
                elif a["op"] == "open_order" and row[1] != a["total_fen"]:
                    lost("lost_acknowledged", a["id"], f"{what}: total {row[1]}, acknowledged {a['total_fen']}")
                elif a["op"] == "cancel" and row[2] != "cancelled":
                    lost("lost_acknowledged", a["id"], f"{what}: the order is {row[2]}")
                elif a["op"] == "void" and (row[2] != "voided" or not row[3]):
                    lost("lost_acknowledged", a["id"], f"{what}: the order is {row[2]}, reopened {row[3]} times")
        closes = {a["day"]: a for a in acks if a["op"] == "close_day"}
        if closes:
            found = {d.isoformat(): (e, c) for d, e, c in s.execute(
                select(DayClose.business_date, DayClose.expected_cash_fen, DayClose.counted_cash_fen)
                .where(DayClose.business_date.in_([date.fromisoformat(d) for d in closes])))}
            for day, a in closes.items():
                if found.get(day) != (a["expected_cash_fen"], a["counted_cash_fen"]):
                    lost("lost_acknowledged", a["id"], f"close of {day}: found {found.get(day)}")

    # --- no document written in part ----------------------------------------------------------------

    def documents(self, s: Session) -> None:
        half = self.findings.add
        for no, amount, tendered in self.rows(s, (
                "SELECT r.receipt_no, r.amount_fen, COALESCE(p.s, 0) FROM receipts r LEFT JOIN "
                "(SELECT receipt_id, SUM(amount_fen) s FROM payments GROUP BY receipt_id) p ON p.receipt_id = r.id "
                "WHERE r.amount_fen != COALESCE(p.s, 0)")):
            half("half_written", f"tenders {no}", f"receipt {no} moves {amount} but its tenders sum to {tendered}")
        for no, kind, own, tendered, posted in self.rows(s, (
                f"SELECT r.receipt_no, r.kind, {OWN_ENTRY}, COALESCE(p.s, 0), COALESCE(e.s, 0) FROM receipts r "
                "LEFT JOIN (SELECT receipt_id, SUM(amount_fen) s FROM payments WHERE account IS NOT NULL "
                "GROUP BY receipt_id) p ON p.receipt_id = r.id "
                f"LEFT JOIN (SELECT receipt_id, SUM(amount_fen) s FROM account_entries WHERE account IN {ASSETS} "
                "AND NOT is_grant GROUP BY receipt_id) e ON e.receipt_id = r.id "
                f"WHERE COALESCE(p.s, 0) + COALESCE(e.s, 0) != {OWN_ENTRY}")):
            half("half_written", f"entries {no}", f"{kind} receipt {no}: account tenders {tendered} and account "
                 f"entries {posted} do not make {own}")
        for no, kind, amount, posted in self.rows(s, (
                "SELECT r.receipt_no, r.kind, r.amount_fen, (SELECT COALESCE(SUM(e.amount_fen), 0) FROM account_entries e "
                "WHERE e.receipt_id = r.id AND e.account = r.kind) p FROM receipts r "
                "WHERE r.kind IN ('deposit', 'prepaid', 'inpatient') AND r.amount_fen != p")):
            half("half_written", f"top-up {no}", f"{kind} receipt {no} of {amount} posted {posted} to the account")
        for coupon_id, face, posted in self.rows(s, (
                "SELECT c.id, c.face_value_fen, (SELECT COALESCE(SUM(e.amount_fen), 0) FROM account_entries e "
                "WHERE e.coupon_id = c.id AND e.receipt_id = c.receipt_id) p FROM coupons c "
                "WHERE c.face_value_fen != p OR c.price_fen != (SELECT amount_fen FROM receipts WHERE id = c.receipt_id)")):
            half("half_written", f"coupon {coupon_id}", f"coupon {coupon_id} of {face} was credited {posted}")
        for order_id, total, lines in self.rows(s, (
                "SELECT o.id, o.total_fen, COALESCE(l.s, -1) FROM orders o LEFT JOIN "
                "(SELECT order_id, SUM(amount_fen) s FROM order_lines GROUP BY order_id) l ON l.order_id = o.id "
                "WHERE o.total_fen != COALESCE(l.s, -1)")):
            half("half_written", f"lines {order_id}", f"order {order_id}: total {total}, lines {lines}")
        self.orders(s)
        self.courses(s)
        self.numbering(s)

    def orders(self, s: Session) -> None:
        half = self.findings.add
        for order_id, status in self.rows(s, (
                "SELECT o.id, o.status FROM orders o LEFT JOIN receipts r ON r.receipt_no = o.receipt_no "
                "AND r.order_id = o.id AND r.kind = 'settle' AND r.business_date = o.business_date "
                "WHERE o.status IN ('settled', 'voided') AND r.id IS NULL")):
            half("half_written", f"settle {order_id}", f"{status} order {order_id} has no settle receipt")
        for order_id, status in self.rows(s, (
                "SELECT o.id, o.status FROM orders o WHERE o.status NOT IN ('settled', 'voided') AND ("
                "EXISTS (SELECT 1 FROM receipts r WHERE r.order_id = o.id) OR "
                "EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id) OR "
                "EXISTS (SELECT 1 FROM account_entries e WHERE e.order_id = o.id) OR "
                "EXISTS (SELECT 1 FROM performance_entries e WHERE e.order_id = o.id))")):
            half("half_written", f"unpaid {order_id}", f"{status} order {order_id} has money rows")
        for order_id, kind, n in self.rows(s, (
                "SELECT order_id, kind, COUNT(*) FROM receipts WHERE kind IN ('settle', 'void') "
                "AND order_id IS NOT NULL GROUP BY order_id, kind HAVING COUNT(*) > 1")):
            self.findings.add("duplicate_charges", f"{kind} {order_id}", f"order {order_id} has {n} {kind} receipts")
        money = self.rows(s, (
            "SELECT o.id, o.status, o.total_fen + COALESCE(j.s, 0), COALESCE(p.s, 0), COALESCE(a.s, 0), "
            "COALESCE(e.s, 0), COALESCE(d.s, 0) FROM orders o "
            "LEFT JOIN (SELECT order_id, SUM(amount_fen) s FROM order_adjustments GROUP BY order_id) j "
            "ON j.order_id = o.id "
            "LEFT JOIN (SELECT order_id, SUM(amount_fen) s FROM payments WHERE order_id IS NOT NULL "
            "GROUP BY order_id) p ON p.order_id = o.id "
            "LEFT JOIN (SELECT order_id, SUM(amount_fen) s FROM account_entries WHERE account = 'arrears' "
            "AND order_id IS NOT NULL GROUP BY order_id) a ON a.order_id = o.id "
            "LEFT JOIN (SELECT order_id, SUM(amount_fen) s FROM account_entries WHERE order_id IS NOT NULL "
            "GROUP BY order_id) e ON e.order_id = o.id "
            "LEFT JOIN (SELECT order_id, SUM(amount_fen) s FROM performance_entries WHERE role = 'department' "
            "AND order_id IS NOT NULL GROUP BY order_id) d ON d.order_id = o.id "
            "WHERE o.status IN ('settled', 'voided')"))
        for order_id, status, net, paid, arrears, entries, department in money:
            if status == "settled" and paid + arrears != net:
                half("half_written", f"paid {order_id}", f"order {order_id}: net {net}, paid {paid} + owed {arrears}")
            if status == "settled" and department != net:
                half("half_written", f"performance {order_id}", f"order {order_id}: net {net}, department {department}")
            if status == "voided" and (paid or entries or department):
                half("half_written", f"void {order_id}", f"voided order {order_id} still holds payments {paid}, "
                     f"entries {entries}, department performance {department}")
            if status == "settled" and arrears < 0:
                self.findings.add("invariant_failures", f"arrears {order_id}", f"order {order_id} owes {arrears}")
        for order_id, voids, valid, reopened in self.rows(s, (
                "SELECT o.id, (SELECT COUNT(*) FROM receipts r WHERE r.order_id = o.id AND r.kind = 'void'), "
                "(SELECT COUNT(*) FROM receipts r WHERE r.order_id = o.id AND r.kind != 'void' AND r.status = 'valid'), "
                "(SELECT COUNT(*) FROM orders n WHERE n.source_order_id = o.id) FROM orders o WHERE o.status = 'voided'")):
            if voids != 1 or valid or reopened != 1:
                half("half_written", f"voided {order_id}", f"voided order {order_id}: {voids} void receipts, "
                     f"{valid} receipts still valid, reopened {reopened} times")
        for no, status in self.rows(s, (
                "SELECT r.receipt_no, o.status FROM receipts r JOIN orders o ON o.id = r.order_id "
                "WHERE r.kind = 'void' AND o.status != 'voided'")):
            half("half_written", f"void receipt {no}", f"void receipt {no} on a {status} order")

    def courses(self, s: Session) -> None:
        half = self.findings.add
        for package_id, why in self.rows(s, (
                "SELECT p.id, CASE WHEN l.id IS NULL THEN 'no order line' WHEN l.package_sessions = 0 "
                "THEN 'a line that sells no course' WHEN o.status NOT IN ('settled', 'voided') THEN 'an unpaid order' "
                "ELSE 'another number of sessions' END FROM packages p "
                "LEFT JOIN order_lines l ON l.id = p.order_line_id LEFT JOIN orders o ON o.id = l.order_id "
                "WHERE l.id IS NULL OR l.package_sessions = 0 OR o.status NOT IN ('settled', 'voided') "
                "OR p.sessions != l.package_sessions * l.quantity")):
            half("half_written", f"course {package_id}", f"course {package_id}: {why}")
        for (package_id,) in self.rows(s, (
                "SELECT p.id FROM packages p WHERE (SELECT COUNT(*) FROM package_uses u WHERE u.package_id = p.id "
                "AND u.kind = 'bought' AND u.sessions = p.sessions) != 1")):
            half("half_written", f"bought {package_id}", f"course {package_id} has no (or two) bought sessions")
        for (line_id,) in self.rows(s, (
                "SELECT l.id FROM order_lines l JOIN orders o ON o.id = l.order_id "
                "WHERE o.status IN ('settled', 'voided') AND l.package_sessions > 0 "
                "AND NOT EXISTS (SELECT 1 FROM packages p WHERE p.order_line_id = l.id)")):
            half("half_written", f"course line {line_id}", f"line {line_id} sold a course that does not exist")
        for line_id, status, quantity, used, restored in self.rows(s, (
                "SELECT l.id, o.status, l.quantity, "
                "(SELECT COALESCE(SUM(u.sessions), 0) FROM package_uses u WHERE u.order_line_id = l.id AND u.kind = 'used'), "
                "(SELECT COALESCE(SUM(u.sessions), 0) FROM package_uses u WHERE u.order_line_id = l.id "
                "AND u.kind = 'restored') FROM order_lines l JOIN orders o ON o.id = l.order_id "
                "WHERE o.status IN ('settled', 'voided') AND l.package_id IS NOT NULL")):
            if used != -quantity or restored != (quantity if status == "voided" else 0):
                half("half_written", f"deduction {line_id}", f"{status} line {line_id} of {quantity} sessions: "
                     f"used {used}, restored {restored}")
        for (use_id,) in self.rows(s, (
                "SELECT u.id FROM package_uses u LEFT JOIN order_lines l ON l.id = u.order_line_id WHERE l.id IS NULL")):
            half("half_written", f"use {use_id}", f"course use {use_id} without its order line")

    def numbering(self, s: Session) -> None:
        counters = dict(self.rows(s, "SELECT business_date, last_no FROM receipt_counters"))
        for day, n, first, last in self.rows(s, (
                "SELECT business_date, COUNT(*), MIN(receipt_no), MAX(receipt_no) FROM receipts GROUP BY business_date")):
            stem = "R" + day.replace("-", "")
            if (counters.get(day), first, last) != (n, f"{stem}-0001", f"{stem}-{n:04d}"):
                self.findings.add("half_written", f"numbers {day}", f"{day}: {n} receipts {first}..{last}, "
                                  f"counter at {counters.get(day)}")

    # --- the books balance --------------------------------------------------------------------------

    def invariants(self, s: Session, *, every_day: bool) -> None:
        bad = self.findings.add
        external, totals, adjustments, assets, grants, arrears = self.rows(s, (
            "SELECT (SELECT COALESCE(SUM(amount_fen), 0) FROM payments WHERE account IS NULL), "
            "(SELECT COALESCE(SUM(total_fen), 0) FROM orders WHERE status = 'settled'), "
            "(SELECT COALESCE(SUM(j.amount_fen), 0) FROM order_adjustments j JOIN orders o ON o.id = j.order_id "
            "WHERE o.status = 'settled'), "
            f"(SELECT COALESCE(SUM(amount_fen), 0) FROM account_entries WHERE account IN {ASSETS}), "
            "(SELECT COALESCE(SUM(amount_fen), 0) FROM account_entries WHERE is_grant), "
            "(SELECT COALESCE(SUM(amount_fen), 0) FROM account_entries WHERE account = 'arrears')"))[0]
        if external != totals + adjustments + assets - grants - arrears:
            bad("invariant_failures", "money", f"external money {external} ≠ settled {totals} + adjustments "
                f"{adjustments} + accounts {assets} − grants {grants} − arrears {arrears}")
        sums: dict[int, dict[str, int]] = {}
        for customer_id, account, total in self.rows(s, (
                "SELECT customer_id, account, SUM(amount_fen) FROM account_entries GROUP BY customer_id, account")):
            sums.setdefault(customer_id, {})[account] = total
        for customer_id, by_account in sums.items():
            seen = ledger.balances(s, customer_id)  # what the cashier is shown
            for account, total in by_account.items():
                if seen.get(account) != total or (account in ASSET_ACCOUNTS and total < 0):
                    bad("invariant_failures", f"balance {customer_id} {account}", f"customer {customer_id} "
                        f"{account}: entries sum to {total}, the service shows {seen.get(account)}")
        for coupon_id, face, left in self.rows(s, (
                "SELECT c.id, c.face_value_fen, COALESCE(SUM(e.amount_fen), 0) FROM coupons c "
                "LEFT JOIN account_entries e ON e.coupon_id = c.id GROUP BY c.id HAVING COALESCE(SUM(e.amount_fen), 0) "
                "NOT BETWEEN 0 AND c.face_value_fen")):
            bad("invariant_failures", f"coupon {coupon_id}", f"coupon {coupon_id} of {face} holds {left}")
        for package_id, sessions, left in self.rows(s, (
                "SELECT p.id, p.sessions, COALESCE(SUM(u.sessions), 0) FROM packages p "
                "LEFT JOIN package_uses u ON u.package_id = p.id GROUP BY p.id "
                "HAVING COALESCE(SUM(u.sessions), 0) NOT BETWEEN 0 AND p.sessions")):
            bad("invariant_failures", f"course {package_id}", f"course {package_id} of {sessions} has {left} left")
        # What the cashier is shown of a course (the newest ones; all of them at the end) is the sum of its uses.
        courses = "SELECT id FROM packages" + ("" if every_day else " ORDER BY id DESC LIMIT 20")
        for package_id, total in self.rows(s, (
                "SELECT p.id, COALESCE(SUM(u.sessions), 0) FROM packages p LEFT JOIN package_uses u "
                f"ON u.package_id = p.id WHERE p.id IN ({courses}) GROUP BY p.id")):
            if ledger.package_remaining(s, package_id) != total:
                bad("invariant_failures", f"course left {package_id}", f"course {package_id}: uses sum to {total}, "
                    f"the service shows {ledger.package_remaining(s, package_id)}")
        closed = s.execute(select(DayClose.business_date, DayClose.summary).order_by(DayClose.business_date)).all()
        for day, summary in closed if every_day else [c for c in closed if c[0] not in self.days_checked]:
            if DayReport.from_json(summary) != dayclose.report_in(s, day):
                bad("invariant_failures", f"day {day}", f"the closed day {day} no longer adds up to its report")
            self.days_checked.add(day)


def create_clinic(folder: Path) -> Path:
    """A fresh clinic as the program makes one (alembic to head), with the demo dictionaries and accounts."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DB_NAME
    for leftover in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")), log_path(path)):
        leftover.unlink(missing_ok=True)
    clinic = Clinic.open(sqlite_url(path))
    upgrade(clinic)
    real, accounts.hasher = accounts.hasher, cheap_hasher()  # the workers log in at every start
    try:
        demo.build(clinic, customers=CUSTOMERS, activity=False)
    finally:
        accounts.hasher = real
        clinic.dispose()
    log_path(path).touch()
    return path


def engine_of(db: Path) -> str:
    clinic = Clinic.open(sqlite_url(db))
    try:
        with clinic.engine.connect() as conn:
            version = conn.exec_driver_sql("SELECT sqlite_version()").scalar()
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                conn.exec_driver_sql("PRAGMA synchronous").scalar() or 0)
        return f"SQLite {version} ({journal}, synchronous={sync})"
    finally:
        clinic.dispose()


class Child:
    """A worker started ahead of its turn: it imports, says "loaded", waits for "go", then says "ready"."""

    def __init__(self, db: Path, seed: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.crash_worker", str(db), str(seed)], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.ready = False

    def say(self, word: bytes, timeout: float) -> bool:
        """Wait for the worker to print ``word`` (False: it died or said something else)."""
        assert self.proc.stdout is not None
        readable, _w, _x = wait_readable([self.proc.stdout], [], [], timeout)
        return bool(readable) and self.proc.stdout.readline().strip() == word

    def go(self) -> bool:
        assert self.proc.stdin is not None
        if not self.say(b"loaded", STARTUP_TIMEOUT):
            return False
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()
        return True

    def wait_ready(self) -> bool:
        self.ready = self.say(b"ready", STARTUP_TIMEOUT)
        return self.ready

    def kill(self) -> tuple[int, bool, str]:
        """SIGKILL; the exit status, whether the worker had got past its start-up, what it wrote to stderr."""
        with suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        code = self.proc.wait()
        assert self.proc.stdout is not None and self.proc.stdin is not None and self.proc.stderr is not None
        ready = self.ready or b"ready" in self.proc.stdout.read()
        errors = self.proc.stderr.read().decode(errors="replace")
        with suppress(BrokenPipeError):
            self.proc.stdin.close()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code, ready, errors


def run(db: Path, kills: int, *, seed: int, min_ms: int, max_ms: int, progress: bool = False) -> Findings:
    """``kills`` rounds of start, work, SIGKILL, audit on the database at ``db``; then a full audit.

    A kill lands ``min_ms``–``max_ms`` after the worker is ready; one in ``STARTUP_KILLS`` lands during
    its start-up instead (opening the database, logging in, replaying the interrupted request).
    """
    rng = random.Random(seed)
    audit = Audit(db)
    findings = audit.findings
    waiting: deque[Child] = deque()  # started ahead: they import on the other core while one works
    with open(db.with_name("worker-stderr.log"), "a", encoding="utf-8") as stderr:
        try:
            for n in range(kills):
                while len(waiting) < min(AHEAD, kills - n):
                    waiting.append(Child(db, rng.getrandbits(31)))
                child = waiting.popleft()
                if child.go():
                    if rng.random() < STARTUP_KILLS:
                        time.sleep(rng.uniform(0, STARTUP_KILL_MS) / 1000)
                    elif child.wait_ready():
                        time.sleep(rng.uniform(min_ms, max_ms) / 1000)
                code, ready, errors = child.kill()
                findings.kills += 1
                findings.kills_during_startup += not ready
                if errors:
                    stderr.write(f"--- round {n}\n{errors}")
                if code != -signal.SIGKILL or "Traceback" in errors:
                    last = errors.strip().splitlines()[-1] if errors.strip() else f"exit status {code}"
                    findings.add("worker_errors", f"round {n}", f"round {n}: {last} (see {stderr.name})")
                audit.after_kill()
                if progress and (n + 1) % 50 == 0:
                    print(f"  {n + 1} kills, {findings.operations_acknowledged} operations acknowledged, "
                          f"{sum(findings.figures()[f] for f in FAILURES)} failures", flush=True)
        finally:
            for child in waiting:
                child.kill()
    audit.full()
    return findings


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.crashtest", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=int(os.environ.get("CRASHTEST_KILLS", 1000)))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--db", type=Path, help="folder for the database (default: a new local temp folder)")
    parser.add_argument("--min-ms", type=int, default=50, help="earliest kill after the worker is ready")
    parser.add_argument("--max-ms", type=int, default=600, help="latest kill after the worker is ready")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder even when all is well")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    t0 = time.perf_counter()
    folder = args.db or Path(tempfile.mkdtemp(prefix="meike-crashtest-"))
    db = create_clinic(folder)
    findings = run(db, args.kills, seed=args.seed, min_ms=args.min_ms, max_ms=args.max_ms, progress=argv is None)
    figures = findings.figures()
    report: dict[str, Any] = {
        **figures,
        "seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF,
                             resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime")), 1),
        "seed": args.seed,
        "database_engine": engine_of(db),
        "database_mb": round(sum(p.stat().st_size for p in folder.glob(DB_NAME + "*")) / 2**20, 1),
        "problems": findings.examples,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    failed = sum(figures[f] for f in FAILURES) > 0 or figures["kills"] != args.kills
    print(f"{figures['kills']} kills in {report['seconds']} s, {figures['operations_acknowledged']} operations "
          f"acknowledged ({figures['kills_in_flight']} kills during a call, {figures['in_flight_committed']} "
          f"after its commit; {figures['replays']} replays); " + ", ".join(f"{f} {figures[f]}" for f in FAILURES))
    for category, messages in findings.examples.items():
        for message in messages[:3]:
            print(f"  {category}: {message}")
    if failed or args.db or args.keep:
        print(f"database kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"figures in {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
