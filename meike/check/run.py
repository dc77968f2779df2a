"""``run_check``: every check, in order, on one database."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from meike import clock
from meike.check import accounts, closes, documents, orders, receipts, reminders, trail
from meike.check.common import scalar
from meike.check.report import CheckReport
from meike.db import Clinic
from meike.db.migrate import current_revision, head_revision
from meike.models import (
    AccountEntry,
    Coupon,
    Customer,
    DayClose,
    Order,
    Package,
    Payment,
    Receipt,
)
from meike.services import audit

# The checks of the books, in order: each reads one session and adds what it finds to the report.
BOOKS: tuple[Callable[[Session, CheckReport], None], ...] = (
    receipts.receipts, receipts.money_total, receipts.receipt_numbers, accounts.balances, receipts.grants, orders.orders,
    documents.documents, orders.packages, documents.courses, closes.day_closes, trail.audit_cross_check,
    orders.performance, reminders.reminder_scope, reminders.reminder_tallies)


def books(s: Session, report: CheckReport | None = None) -> CheckReport:
    """Every check of the books on an open session (no SQLite file checks, no audit chain): what the crash
    harness and the money state machine test run after each step."""
    report = report or CheckReport("", clock.now())
    for check in BOOKS:
        check(s, report)
    return report


def run_check(clinic: Clinic) -> CheckReport:
    """Check the whole database; read-only. Takes seconds to minutes on a large database."""
    report = CheckReport(clinic.url, clock.now())
    if clinic.engine.dialect.name == "sqlite":
        report.sqlite = True
        _sqlite_checks(clinic, report)
        if "integrity" in report.codes():
            return report  # reading a damaged file further may raise or mislead
    revision, head = current_revision(clinic), head_revision()
    if revision != head:  # the models would read columns that are not there (yet)
        report.add("revision", [f"数据库版本为 {revision or '（空数据库）'}，本程序为 {head}：请先正常启动一次程序完成升级，再检查账目"])
        return report
    with clinic.read() as s:
        _count(s, report)
        books(s, report)
    chain = audit.verify_chain(clinic)
    report.counts["审计日志"] = chain.checked
    report.add("audit_chain", chain.problems)
    return report


def _count(s: Session, report: CheckReport) -> None:
    def n(model: type) -> int:
        return scalar(s, select(func.count()).select_from(model))

    accounts = select(AccountEntry.customer_id, AccountEntry.account).distinct().subquery()
    report.counts.update({
        "顾客": n(Customer),
        "客户账户": scalar(s, select(func.count()).select_from(accounts)),
        "账户流水": n(AccountEntry),
        "券": n(Coupon),
        "收据": n(Receipt),
        "支付明细": n(Payment),
        "业务单": n(Order),
        "疗程": n(Package),
        "日结": n(DayClose),
    })



# --- SQLite only (the adapter part of this package) ------------------------------------------------


def _sqlite_checks(clinic: Clinic, report: CheckReport) -> None:
    try:
        with clinic.engine.connect() as conn:
            rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check")]
            if rows != ["ok"]:
                report.add("integrity", rows)
                return
            missing = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    except DBAPIError as e:  # "database disk image is malformed", "file is not a database"
        report.add("integrity", [str(e.orig)])
        return
    report.add("foreign_key", [f"{table} 第 {rowid} 行引用的 {parent} 记录不存在"
                               for table, rowid, parent, _fk in missing])
