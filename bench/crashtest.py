"""Crash safety: workers doing random money operations are killed at random instants; the books are audited.

``python -m bench.crashtest --kills N [--seed S] [--out bench/reliability.json] [--db DIR] [--database URL]``
(N defaults to ``CRASHTEST_KILLS`` or 1,000; URL to ``MEIKE_TEST_DATABASE_URL``). The kills are shared
between three phases, each on a fresh clinic database (migrated with alembic, seeded with the demo
dictionaries and accounts) that all its rounds reuse:

* ``sqlite``: one worker (``bench.crash_worker``) at a time on an SQLite file;
* ``sqlite-pair``: two workers at once on one SQLite file (two workstations), each killed at its own instant;
* ``postgresql`` (when a server URL is given; otherwise skipped, with a line saying so): one or two
  workers at once on a database made for the run (``CREATE DATABASE meike_crash_…``, dropped after a
  clean run); in some rounds the harness also ends the worker's server backends
  (``pg_terminate_backend``, found in ``pg_stat_activity`` by the worker's ``application_name``) before
  it kills the worker: the worker must recover (send the lost request again with its key) or die.

A worker works until SIGKILL lands 50–600 ms after it is ready (some kills land during its start-up).
After every round the harness reopens the database and audits it: ``meike.check.run_check`` (what
``main.py --check`` runs: integrity, the ledger's invariants, closed days, receipts against the audit
log, the audit chain and the anchors of every workstation) plus what only the harness can know (its
acknowledgement logs) or what ``run_check`` does not look at (``Audit``). Figures go to the JSON file
(totals, ``concurrent_runs``: rounds with two workers at once, ``pg_kills``, ``pg_terminations``: workers
whose backends were ended, ``pg_recoveries``, and each phase's own figures under ``phases``); the exit
code is non-zero when any failure figure is.

What is counted (each distinct problem once, however many rounds see it):

* ``lost_acknowledged``: an acknowledged request whose document is missing or differs: a receipt
  (by number) with another key or amount, or whose tenders no longer sum to the acknowledged amount;
  an opened order with another total, a cancelled / voided order not in that state, a closed day
  not closed with the counted cash.
* ``half_written``: a document written in part: what ``run_check`` finds of the kind (a receipt whose
  tenders do not sum to its amount, receipt numbers with a gap or a counter that disagrees, an account
  entry without its coupon or order, a settled order without its settle receipt, a row whose foreign
  key points nowhere), and what the harness adds: a top-up not posted to its own account; an order
  whose lines do not sum to its total; an unpaid or cancelled order with receipts, entries or
  performance; department performance that does not follow a settled order's net amount; a void
  without its receipt or its reopened order, a void receipt on an order that is not voided; a course
  without its order line, a course line without its course, a deduction without its "used" row.
* ``integrity_failures``: ``PRAGMA integrity_check`` was not "ok" (SQLite).
* ``invariant_failures``: what ``run_check`` finds of the books not adding up (a receipt that does not
  balance, a balance below zero, an overpaid order, a course outside 0..its sessions, value granted
  where only a coupon sale may grant it, a closed day whose stored report differs from the report
  recomputed now, negative department performance, reminder tallies), and what the harness adds: a
  balance the cashier is shown (the service) that is not the sum of its entries, a coupon holding
  more than its face value.
* ``audit_chain_failures``: the audit log's hash chain broken, its end not matching the anchor a
  workstation keeps (each worker's config folder is a PC of its own), a receipt or closed day without
  the audit row its transaction wrote (``run_check``'s audit part), or a worker that found the log
  not matching its anchor when it started (``audit_guard.check_on_start``).
* ``duplicate_charges``: a retried request (same idempotency key, replayed by the next worker or after
  a lost connection) that wrote a second document instead of returning the first; an order with two
  settle or void receipts.
* ``replay_failures``: a retried request that had committed but was refused, or claimed a replay of
  nothing.
* ``worker_errors``: a worker that died of something else than the kill (a traceback on its stderr,
  kept in ``worker-stderr.log`` beside the database), except one whose server backend the harness had
  just ended and that died of the lost connection (counted in ``pg_worker_deaths``).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from select import select as wait_readable
from typing import IO, Any

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from bench.crash_worker import CUSTOMERS, cheap_hasher, log_path
from meike import demo
from meike.check import run_check
from meike.clinic_setup import upgrade
from meike.db import Clinic, sqlite_url
from meike.models import DayClose
from meike.models.ledger import ASSET_ACCOUNTS
from meike.services import accounts, audit_guard, ledger

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "reliability.json"
DB_NAME = "crashtest.sqlite3"
STARTUP_KILLS = 0.15  # the share of kills that land while the worker opens, logs in and replays
STARTUP_KILL_MS = 150
STARTUP_TIMEOUT = 60.0
TERMINATE = 0.4  # PostgreSQL: the share of workers whose server backends are ended before their kill
RECOVER_MS = (0, 300)  # … and how long after that (beyond its planned kill) the kill lands
# How the kills are shared between the phases (with and without a PostgreSQL server).
SHARES = {"sqlite": 0.35, "sqlite-pair": 0.35, "postgresql": 0.30}
SHARES_NO_PG = {"sqlite": 0.5, "sqlite-pair": 0.5}
FAILURES = ("lost_acknowledged", "half_written", "integrity_failures", "invariant_failures", "audit_chain_failures",
            "duplicate_charges", "replay_failures", "worker_errors")
MAX_EXAMPLES = 10
CHUNK = 400
# run_check's findings by kind (meike.check.TITLES); the rest are invariant failures.
CHECK_CATEGORY = {
    "integrity": "integrity_failures",
    "foreign_key": "half_written", "receipt_tenders": "half_written", "receipt_numbers": "half_written",
    "receipt_counter": "half_written", "entry": "half_written", "order_receipt": "half_written",
    "audit_chain": "audit_chain_failures", "receipt_audit": "audit_chain_failures",
    "day_close_audit": "audit_chain_failures",
}
LOST_CONNECTION = ("OperationalError", "AdminShutdown", "terminating connection", "server closed the connection",
                   "connection is closed", "consuming input failed", "StorageError")


@dataclass
class Findings:
    """What the audits of one phase saw: counters of the run and each distinct problem (with a few examples)."""

    kills: int = 0
    kills_during_startup: int = 0  # before the worker said "ready" (opening, logging in, replaying)
    concurrent_runs: int = 0  # rounds with two workers on the database at once
    operations_acknowledged: int = 0
    refused: int = 0  # requests the services refused (a validation message, nothing written)
    replays: int = 0
    replays_of_committed: int = 0
    lost_calls: int = 0  # calls whose connection the harness ended (PostgreSQL)
    recoveries: int = 0  # … after which the worker went on working
    lost_committed: int = 0  # … that had committed all the same (the retry returned the first receipt)
    pg_terminations: int = 0  # workers whose backends were ended
    pg_backends_terminated: int = 0
    pg_worker_deaths: int = 0  # workers that died of a lost connection (allowed)
    audits: int = 0
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
                "replays_of_committed": self.replays_of_committed, "concurrent_runs": self.concurrent_runs,
                "audits": self.audits, "pg_terminations": self.pg_terminations,
                "pg_backends_terminated": self.pg_backends_terminated, "lost_calls": self.lost_calls,
                "lost_committed": self.lost_committed, "recoveries": self.recoveries, "pg_worker_deaths": self.pg_worker_deaths}


class LogReader:
    """Reads a worker's acknowledgement log as it grows; drops the unfinished line a kill leaves."""

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


@contextmanager
def as_pc(config: Path) -> Iterator[None]:
    """Read this workstation's settings (its audit anchor): ``MEIKE_CONFIG_DIR`` for the block."""
    before = os.environ.get("MEIKE_CONFIG_DIR")
    os.environ["MEIKE_CONFIG_DIR"] = str(config)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MEIKE_CONFIG_DIR", None)
        else:
            os.environ["MEIKE_CONFIG_DIR"] = before


# --- the databases ---------------------------------------------------------------------------------


class Target:
    """The database of one phase, and the folder beside it (logs, one config folder per workstation)."""

    engine_name = ""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = ""

    def pc(self, lane: int) -> Path:
        return self.folder / f"pc-{lane}"

    def log(self, lane: int) -> Path:
        return log_path(self.folder, lane)

    def create(self) -> None:
        """A fresh clinic as the program makes one (alembic to head), with the demo dictionaries and accounts."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for lane in (0, 1):
            self.log(lane).unlink(missing_ok=True)
            shutil.rmtree(self.pc(lane), ignore_errors=True)
        self.url = self.make_database()
        with as_pc(self.pc(0)):  # the clinic is begun on workstation 0: its anchor is kept there
            clinic = Clinic.open(self.url)
            upgrade(clinic)
            real, accounts.hasher = accounts.hasher, cheap_hasher()  # the workers log in at every start
            try:
                demo.build(clinic, customers=CUSTOMERS, activity=False)
            finally:
                accounts.hasher = real
                clinic.dispose()
        for lane in (0, 1):
            self.log(lane).touch()

    def make_database(self) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def size_mb(self) -> float:
        raise NotImplementedError

    def terminate(self, application_name: str) -> int:
        return 0

    def close(self, *, keep: bool) -> str:
        """Drop what the phase made unless it is kept; where it is when kept."""
        if not keep:
            shutil.rmtree(self.folder, ignore_errors=True)
        return str(self.folder)


class SqliteTarget(Target):
    engine_name = "sqlite"

    def make_database(self) -> str:
        path = self.folder / DB_NAME
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return sqlite_url(path)

    def describe(self) -> str:
        clinic = Clinic.open(self.url)
        try:
            with clinic.engine.connect() as conn:
                version = conn.exec_driver_sql("SELECT sqlite_version()").scalar()
                journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                    conn.exec_driver_sql("PRAGMA synchronous").scalar() or 0)
            return f"SQLite {version} ({journal}, synchronous={sync})"
        finally:
            clinic.dispose()

    def size_mb(self) -> float:
        return round(sum(p.stat().st_size for p in self.folder.glob(DB_NAME + "*")) / 2**20, 1)


class PgTarget(Target):
    """A database made on the server for the run (``meike_crash_<pid>_<random>``), dropped after a clean run."""

    engine_name = "postgresql"

    def __init__(self, folder: Path, server_url: str) -> None:
        super().__init__(folder)
        self.server = make_url(server_url)
        self.name = f"meike_crash_{os.getpid()}_{secrets.token_hex(3)}"
        self.admin: Engine = create_engine(self.server, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def make_database(self) -> str:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        return self.server.set(database=self.name).render_as_string(hide_password=False)

    def terminate(self, application_name: str) -> int:
        """End the server backends of one worker (its connections); how many were ended."""
        with self.admin.connect() as conn:
            return sum(bool(ok) for (ok,) in conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                (self.name, application_name)))

    def describe(self) -> str:
        with self.admin.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            fsync = conn.exec_driver_sql("SHOW fsync").scalar()
            sync = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
        return f"PostgreSQL {version} (fsync={fsync}, synchronous_commit={sync})"

    def size_mb(self) -> float:
        with self.admin.connect() as conn:
            size = conn.exec_driver_sql("SELECT pg_database_size(%s)", (self.name,)).scalar() or 0
        return round(size / 2**20, 1)

    def close(self, *, keep: bool) -> str:
        where = f"database {self.name} on {self.server.render_as_string(hide_password=True)}"
        if not keep:
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()
        super().close(keep=keep)
        return where


# --- the audit -------------------------------------------------------------------------------------


class Audit:
    """Reopens the database after each round and checks it; ``full`` re-checks every acknowledgement at the end."""

    def __init__(self, target: Target, lanes: int) -> None:
        self.target = target
        self.lanes = lanes
        self.logs = {lane: LogReader(target.log(lane)) for lane in range(lanes)}
        self.findings = Findings()
        self.acks: list[dict[str, Any]] = []
        self.open_intent: dict[int, dict[str, Any] | None] = dict.fromkeys(range(lanes))
        self.lost: set[str] = set()  # requests whose connection was lost under them
        self.rounds = 0

    def after_kill(self) -> None:
        """The audit of a round: the whole database, the new acknowledgements."""
        self.rounds += 1
        self.check(self.read_logs())

    def full(self) -> Findings:
        """Every acknowledgement again."""
        self.read_logs()
        self.check(self.acks)
        return self.findings

    def read_logs(self) -> list[dict[str, Any]]:
        new: list[dict[str, Any]] = []
        for lane, log in self.logs.items():
            for record in log.read_new():
                kind = record["t"]
                if kind == "intent":
                    self.open_intent[lane] = record
                elif kind in ("ack", "refused", "lost"):
                    intent = self.open_intent[lane]
                    if intent is not None and record["id"] == intent["id"]:
                        self.open_intent[lane] = None
                    if kind == "ack":
                        self.findings.operations_acknowledged += 1
                        new.append(record)
                    elif kind == "refused":
                        self.findings.refused += 1
                    else:
                        self.findings.lost_calls += 1
                        self.lost.add(record["id"])
                elif kind == "replay":
                    self.replayed(record)
                elif kind == "recovered":
                    self.findings.recoveries += 1
                elif kind == "start_check":
                    for problem in record["problems"]:
                        self.findings.add("audit_chain_failures", f"start {problem}",
                                          f"lane {lane}: on start the audit log did not match the anchor: {problem}")
        self.acks.extend(new)
        return new

    def replayed(self, r: dict[str, Any]) -> None:
        """A worker sent an interrupted request again with the same key."""
        f = self.findings
        f.replays += 1
        before = r["before"]
        f.replays_of_committed += before is not None
        f.lost_committed += before is not None and r["id"] in self.lost
        what = f"{r['op']} {r['key']}"
        if r.get("refused") is not None:
            if before is not None:
                f.add("replay_failures", r["key"], f"{what}: committed as {before}, refused on retry: {r['refused']}")
        elif before is not None and (r["receipt_no"] != before or r["replayed"] is False):
            f.add("duplicate_charges", r["key"], f"{what}: committed as {before}, the retry gave {r['receipt_no']} "
                  f"(replayed={r['replayed']})")
        elif before is None and r["replayed"]:
            f.add("replay_failures", r["key"], f"{what}: nothing committed, yet the retry says replayed")

    def check(self, acks: list[dict[str, Any]]) -> None:
        self.findings.audits += 1
        with as_pc(self.target.pc(0)):
            clinic = Clinic.open(self.target.url)
        try:
            with as_pc(self.target.pc(0)):
                self.checked(run_check(clinic).findings)
            with clinic.read() as s:
                for lane in range(1, self.lanes):  # the other workstations' anchors
                    with as_pc(self.target.pc(lane)):
                        for problem in audit_guard.outside_problems(clinic, s, all_backups=True):
                            self.findings.add("audit_chain_failures", f"anchor {lane} {problem}",
                                              f"workstation {lane}: {problem}")
                self.interrupted(s)
                self.acknowledged(s, acks)
                self.documents(s)
                self.balances(s)
        finally:
            clinic.dispose()

    def checked(self, findings: list[Any]) -> None:
        """``run_check``'s findings, each under its kind and what it is about (the text before "：")."""
        for finding in findings:
            category = CHECK_CATEGORY.get(finding.code, "invariant_failures")
            self.findings.add(category, f"{finding.code} {finding.detail.split('：')[0]}",
                              f"{finding.title}: {finding.detail}")

    @staticmethod
    def rows(s: Session, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        conn = s.connection()
        if conn.dialect.name != "sqlite":
            sql = sql.replace("?", "%s")
        return list(conn.exec_driver_sql(sql, tuple(params)).all())

    def interrupted(self, s: Session) -> None:
        """The requests the kills interrupted: did they commit before the worker could acknowledge them?"""
        for intent in self.open_intent.values():
            if intent is None:
                continue
            self.findings.in_flight.add(intent["id"])
            if intent["key"] and self.rows(s, "SELECT 1 FROM receipts WHERE idempotency_key = ?", (intent["key"],)):
                self.findings.in_flight_committed.add(intent["id"])

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

    # --- no document written in part (what run_check does not look at) -------------------------------

    def documents(self, s: Session) -> None:
        half = self.findings.add
        for no, kind, amount, posted in self.rows(s, (
                "SELECT r.receipt_no, r.kind, r.amount_fen, (SELECT COALESCE(SUM(e.amount_fen), 0) FROM account_entries e "
                "WHERE e.receipt_id = r.id AND e.account = r.kind) p FROM receipts r "
                "WHERE r.kind IN ('deposit', 'prepaid', 'inpatient') AND r.amount_fen != "
                "(SELECT COALESCE(SUM(e.amount_fen), 0) FROM account_entries e "
                "WHERE e.receipt_id = r.id AND e.account = r.kind)")):
            half("half_written", f"top-up {no}", f"{kind} receipt {no} of {amount} posted {posted} to the account")
        for order_id, total, lines in self.rows(s, (
                "SELECT o.id, o.total_fen, COALESCE(l.s, -1) FROM orders o LEFT JOIN "
                "(SELECT order_id, SUM(amount_fen) s FROM order_lines GROUP BY order_id) l ON l.order_id = o.id "
                "WHERE o.total_fen != COALESCE(l.s, -1)")):
            half("half_written", f"lines {order_id}", f"order {order_id}: total {total}, lines {lines}")
        self.orders(s)
        self.courses(s)

    def orders(self, s: Session) -> None:
        half = self.findings.add
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
        for order_id, net, department in self.rows(s, (
                "SELECT o.id, o.total_fen + COALESCE(j.s, 0), COALESCE(d.s, 0) FROM orders o "
                "LEFT JOIN (SELECT order_id, SUM(amount_fen) s FROM order_adjustments GROUP BY order_id) j "
                "ON j.order_id = o.id "
                "LEFT JOIN (SELECT order_id, SUM(amount_fen) s FROM performance_entries WHERE role = 'department' "
                "AND order_id IS NOT NULL GROUP BY order_id) d ON d.order_id = o.id "
                "WHERE o.status = 'settled' AND o.total_fen + COALESCE(j.s, 0) != COALESCE(d.s, 0)")):
            half("half_written", f"performance {order_id}", f"order {order_id}: net {net}, department {department}")
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

    # --- what the cashier is shown (run_check reads the rows, not the services) ---------------------------

    def balances(self, s: Session) -> None:
        bad = self.findings.add
        sums: dict[int, dict[str, int]] = {}
        for customer_id, account, total in self.rows(s, (
                "SELECT customer_id, account, SUM(amount_fen) FROM account_entries GROUP BY customer_id, account")):
            sums.setdefault(customer_id, {})[account] = int(total)
        for customer_id, by_account in sums.items():
            seen = ledger.balances(s, customer_id)  # what the cashier is shown
            for account, total in by_account.items():
                if seen.get(account) != total or (account in ASSET_ACCOUNTS and total < 0):
                    bad("invariant_failures", f"balance {customer_id} {account}", f"customer {customer_id} "
                        f"{account}: entries sum to {total}, the service shows {seen.get(account)}")
        for coupon_id, face, left in self.rows(s, (
                "SELECT c.id, c.face_value_fen, COALESCE(SUM(e.amount_fen), 0) FROM coupons c "
                "LEFT JOIN account_entries e ON e.coupon_id = c.id GROUP BY c.id, c.face_value_fen "
                "HAVING COALESCE(SUM(e.amount_fen), 0) > c.face_value_fen")):
            bad("invariant_failures", f"coupon {coupon_id}", f"coupon {coupon_id} of {face} holds {left}")
        for package_id, total in self.rows(s, (
                "SELECT p.id, COALESCE(SUM(u.sessions), 0) FROM packages p LEFT JOIN package_uses u "
                "ON u.package_id = p.id WHERE p.id IN (SELECT id FROM packages ORDER BY id DESC LIMIT 20) "
                "GROUP BY p.id")):
            shown = ledger.package_remaining(s, package_id)
            if shown != total:
                bad("invariant_failures", f"course left {package_id}", f"course {package_id}: uses sum to {total}, "
                    f"the service shows {shown}")


# --- the workers -----------------------------------------------------------------------------------


class Child:
    """A worker started ahead of its turn: it imports, says "loaded", waits for "go", then says "ready"."""

    def __init__(self, target: Target, lane: int, seed: int, name: str) -> None:
        self.lane, self.name = lane, name
        pc = target.pc(lane)
        env = {**os.environ, "MEIKE_CONFIG_DIR": str(pc), "MEIKE_DATA_DIR": str(pc / "data"), "PGAPPNAME": name}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.crash_worker", target.url, str(target.log(lane)), str(seed)], cwd=ROOT,
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.ready = False
        self.kill_at: float | None = None  # when it is to be killed (None: when it is ready, after ``delay``)
        self.delay = 0.0
        self.terminate_at: float | None = None  # PostgreSQL: when its backends are to be ended
        self.terminate_after: float | None = None  # … after it is ready
        self.terminated = False

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def go(self) -> bool:
        """Wait for the worker to have imported, then let it open the clinic (False: it died)."""
        assert self.proc.stdin is not None
        readable, _w, _x = wait_readable([self.stdout], [], [], STARTUP_TIMEOUT)
        if not readable or self.stdout.readline().strip() != b"loaded":
            return False
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()
        return True

    def kill(self) -> tuple[int, bool, str]:
        """SIGKILL; the exit status, whether the worker had got past its start-up, what it wrote to stderr."""
        with suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        code = self.proc.wait()
        assert self.proc.stdin is not None and self.proc.stderr is not None
        ready = self.ready or b"ready" in self.stdout.read()
        errors = self.proc.stderr.read().decode(errors="replace")
        with suppress(BrokenPipeError):
            self.proc.stdin.close()
        self.stdout.close()
        self.proc.stderr.close()
        return code, ready, errors


@dataclass
class Phase:
    name: str
    engine: str  # "sqlite" / "postgresql"
    kills: int
    pairs: float  # the share of rounds with two workers at once


PHASES = {"sqlite": ("sqlite", 0.0), "sqlite-pair": ("sqlite", 1.0), "postgresql": ("postgresql", 0.5)}


def plan(kills: int, pg: bool) -> list[Phase]:
    """The phases and their kills (the PostgreSQL share goes to SQLite when there is no server)."""
    shares = SHARES if pg else SHARES_NO_PG
    out: list[Phase] = []
    left = kills
    for i, (name, share) in enumerate(shares.items()):
        n = left if i == len(shares) - 1 else round(kills * share)
        left -= n
        engine, pairs = PHASES[name]
        out.append(Phase(name, engine, n, pairs))
    return out


class Runner:
    """The rounds of one phase: start, work, (end backends,) SIGKILL, audit."""

    def __init__(self, target: Target, phase: Phase, *, seed: int, min_ms: int, max_ms: int, stderr: IO[str],
                 progress: bool) -> None:
        self.target, self.phase = target, phase
        self.rng = random.Random(seed)
        self.min_ms, self.max_ms = min_ms, max_ms
        self.stderr, self.progress = stderr, progress
        self.audit = Audit(target, 2 if phase.pairs else 1)
        self.findings = self.audit.findings
        self.started = 0

    def rounds(self) -> list[list[int]]:
        """Which lanes (workstations) work in each round, until the phase's kills are spent."""
        out: list[list[int]] = []
        left = self.phase.kills
        while left > 0:
            lanes = [0, 1] if left >= 2 and self.rng.random() < self.phase.pairs else [self.rng.choice((0, 1))
                                                                                      if self.phase.pairs else 0]
            out.append(lanes)
            left -= len(lanes)
        return out

    def spawn(self, lane: int) -> Child:
        self.started += 1
        return Child(self.target, lane, self.rng.getrandbits(31), f"meike-crash-{self.phase.name}-{self.started}")

    def run(self) -> Findings:
        rounds = self.rounds()
        waiting: list[list[Child]] = []  # the next rounds' workers, started ahead: they import while one works
        try:
            for n in range(len(rounds)):
                while len(waiting) < min(2, len(rounds) - n):
                    waiting.append([self.spawn(lane) for lane in rounds[n + len(waiting)]])
                children = waiting.pop(0)
                if len(children) > 1:
                    self.findings.concurrent_runs += 1
                self.play(n, children)
                self.audit.after_kill()
                if self.progress and (n + 1) % 25 == 0:
                    f = self.findings
                    print(f"  {self.phase.name}: {f.kills} kills, {f.operations_acknowledged} operations acknowledged, "
                          f"{sum(f.figures()[k] for k in FAILURES)} failures", flush=True)
        finally:
            for children in waiting:
                for child in children:
                    child.kill()
        return self.audit.full()

    def play(self, n: int, children: list[Child]) -> None:
        """Let the round's workers go, end backends and kill each at its instant (events in time order)."""
        rng, now = self.rng, time.monotonic
        for child in children:
            if not child.go():
                child.kill_at = now()
            elif rng.random() < STARTUP_KILLS:
                child.kill_at = now() + rng.uniform(0, STARTUP_KILL_MS) / 1000
            else:
                child.delay = rng.uniform(self.min_ms, self.max_ms) / 1000
                if self.target.engine_name == "postgresql" and rng.random() < TERMINATE:
                    child.terminate_after = rng.uniform(0, child.delay)
                    child.delay += rng.uniform(*RECOVER_MS) / 1000
        begun = now()
        alive = list(children)
        while alive:
            t = now()
            for child in list(alive):
                if child.terminate_at is not None and child.terminate_at <= t:
                    child.terminate_at = None
                    child.terminated = True
                    self.findings.pg_terminations += 1
                    self.findings.pg_backends_terminated += self.target.terminate(child.name)
                if child.kill_at is not None and child.kill_at <= t:
                    alive.remove(child)
                    self.killed(n, child)
            if not alive:
                break
            starting = [c for c in alive if c.kill_at is None]
            due = [x for c in alive for x in (c.kill_at, c.terminate_at) if x is not None]
            timeout = max(0.0, min(due) - now()) if due else max(0.0, begun + STARTUP_TIMEOUT - now())
            if not starting:
                time.sleep(timeout)
                continue
            readable, _w, _x = wait_readable([c.stdout for c in starting], [], [], timeout)
            for child in starting:
                if child.stdout in readable:
                    child.ready = child.stdout.readline().strip() == b"ready"
                    at = now()
                    child.kill_at = at + child.delay if child.ready else at  # not ready: it died, or said something else
                    if child.ready and child.terminate_after is not None:
                        child.terminate_at = at + child.terminate_after
                elif now() - begun > STARTUP_TIMEOUT:
                    child.kill_at = now()

    def killed(self, n: int, child: Child) -> None:
        code, ready, errors = child.kill()
        f = self.findings
        f.kills += 1
        f.kills_during_startup += not ready
        if errors:
            self.stderr.write(f"--- {self.phase.name} round {n} ({child.name}{', backends ended' * child.terminated})\n"
                              f"{errors}")
        if code == -signal.SIGKILL and "Traceback" not in errors:
            return
        last = errors.strip().splitlines()[-1] if errors.strip() else f"exit status {code}"
        if child.terminated and any(word in last for word in LOST_CONNECTION):
            f.pg_worker_deaths += 1  # allowed: its connection was ended under it; the books must still check clean
            return
        f.add("worker_errors", f"round {n} {child.name}", f"{self.phase.name} round {n}: {last} (see {self.stderr.name})")


# --- the run ---------------------------------------------------------------------------------------


def total(figures: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for one in figures:
        for k, v in one.items():
            out[k] = out.get(k, 0) + v
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.crashtest", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=int(os.environ.get("CRASHTEST_KILLS", 1000)))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--db", type=Path, help="folder for the databases and logs (default: a new local temp folder)")
    parser.add_argument("--database", default=os.environ.get("MEIKE_TEST_DATABASE_URL", ""),
                        help="a PostgreSQL server URL for the postgresql phase (default: MEIKE_TEST_DATABASE_URL); "
                             "a database is made on it for the run; without one the phase is skipped")
    parser.add_argument("--phases", default="", help="only these phases (comma-separated: sqlite,sqlite-pair,postgresql)")
    parser.add_argument("--min-ms", type=int, default=50, help="earliest kill after the worker is ready")
    parser.add_argument("--max-ms", type=int, default=600, help="latest kill after the worker is ready")
    parser.add_argument("--keep", action="store_true", help="keep the databases even when all is well")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    t0 = time.perf_counter()
    folder = args.db or Path(tempfile.mkdtemp(prefix="meike-crashtest-"))
    folder.mkdir(parents=True, exist_ok=True)
    # The harness's own settings (and any a service would write) stay in the run's folder, never the user's.
    os.environ["MEIKE_DATA_DIR"] = str(folder / "harness-data")
    os.environ["MEIKE_CONFIG_DIR"] = str(folder / "harness-config")
    phases = plan(args.kills, bool(args.database))
    if args.phases:
        wanted = set(args.phases.split(","))
        phases = [p for p in phases if p.name in wanted]
    if not args.database:
        print("postgresql phase skipped: no server URL (set MEIKE_TEST_DATABASE_URL or pass --database)", flush=True)
    results: dict[str, dict[str, Any]] = {}
    examples: dict[str, list[str]] = {}
    engines: dict[str, str] = {}
    sizes: dict[str, float] = {}
    failed = False
    kept: list[str] = []
    progress = argv is None
    with open(folder / "worker-stderr.log", "a", encoding="utf-8") as stderr:
        for i, phase in enumerate(phases):
            started = time.perf_counter()
            where = folder / phase.name
            target: Target = PgTarget(where, args.database) if phase.engine == "postgresql" else SqliteTarget(where)
            target.create()
            print(f"{phase.name}: {phase.kills} kills on {target.describe()}"
                  f"{' (rounds of one or two workers)' if 0 < phase.pairs < 1 else ''}"
                  f"{' (two workers at once)' if phase.pairs == 1 else ''}", flush=True)
            runner = Runner(target, phase, seed=args.seed * 1000 + i, min_ms=args.min_ms, max_ms=args.max_ms,
                            stderr=stderr, progress=progress)
            try:
                findings = runner.run()
            except BaseException:  # the harness itself failed (or was interrupted): keep what it worked on
                print(f"{phase.name}: the harness stopped; kept: {target.close(keep=True)}", flush=True)
                raise
            figures = findings.figures()
            engines[phase.engine] = target.describe()
            sizes[phase.name] = target.size_mb()
            results[phase.name] = {**figures, "seconds": round(time.perf_counter() - started, 1),
                                   "database_mb": sizes[phase.name]}
            for category, messages in findings.examples.items():
                examples.setdefault(category, []).extend(f"[{phase.name}] {m}" for m in messages)
            bad = sum(figures[f] for f in FAILURES) > 0 or figures["kills"] != phase.kills
            failed |= bad
            keep = bad or args.keep or (args.db is not None and phase.engine == "sqlite")
            place = target.close(keep=keep)
            if keep:
                kept.append(place)
            print(f"  {figures['kills']} kills ({figures['concurrent_runs']} rounds of two workers) in "
                  f"{results[phase.name]['seconds']} s, {figures['operations_acknowledged']} operations acknowledged, "
                  f"{figures['audits']} audits; " + ", ".join(f"{f} {figures[f]}" for f in FAILURES), flush=True)
    figures = total([{k: v for k, v in r.items() if isinstance(v, int)} for r in results.values()])
    pg = results.get("postgresql", {})
    report: dict[str, Any] = {
        **{k: figures.get(k, 0) for k in ("kills", *FAILURES, "operations_acknowledged", "refused", "kills_in_flight",
                                          "in_flight_committed", "kills_during_startup", "replays",
                                          "replays_of_committed")},
        "concurrent_runs": figures.get("concurrent_runs", 0),
        "pg_kills": pg.get("kills", 0),
        "pg_terminations": pg.get("pg_terminations", 0),
        "pg_backends_terminated": pg.get("pg_backends_terminated", 0),
        "pg_lost_calls": pg.get("lost_calls", 0),
        "pg_lost_committed": pg.get("lost_committed", 0),
        "pg_recoveries": pg.get("recoveries", 0),
        "pg_worker_deaths": pg.get("pg_worker_deaths", 0),
        "audits": figures.get("audits", 0),
        "seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF,
                             resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime")), 1),
        "cores": os.cpu_count(),
        "seed": args.seed,
        "database_engine": engines.get("sqlite", ""),
        "postgresql_engine": engines.get("postgresql", "skipped: no server URL"),
        "database_mb": max((v for k, v in sizes.items() if k.startswith("sqlite")), default=0.0),
        "phases": results,
        "problems": examples,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    failed |= report["kills"] != args.kills and not args.phases
    print(f"{report['kills']} kills in {report['seconds']} s ({report['concurrent_runs']} rounds of two workers, "
          f"{report['pg_kills']} kills on PostgreSQL, {report['pg_terminations']} with their backends ended first), "
          f"{report['operations_acknowledged']} operations acknowledged ({report['kills_in_flight']} kills during a "
          f"call, {report['in_flight_committed']} after its commit; {report['replays']} replays); "
          + ", ".join(f"{f} {report[f]}" for f in FAILURES))
    for category, messages in examples.items():
        for message in messages[:3]:
            print(f"  {category}: {message}")
    if kept:
        print("kept: " + "; ".join(kept) + f" (worker stderr in {folder / 'worker-stderr.log'})")
    elif args.db is None:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"figures in {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
