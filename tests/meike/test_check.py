"""``main.py --check``: a clinic's books after two worked days pass; each kind of tampering is reported.

The books (Monday 2026-03-02, closed; Tuesday open):

    Mon  张三 预存 ￥1,000 (现金), 定金 ￥500 (微信); 李四 buys a coupon ￥200 for ￥100 (微信)
         李四 双眼皮 + 水光针 ￥10,080: 现金 ￥5,000 + the coupon ￥100, the rest on arrears; pays ￥980
         张三 buys 5 × 水光针 (金卡 ￥5,760): 预存 ￥1,000 + 银行卡 ￥4,760; uses one session
         王五 脱毛 ￥300 (现金), voided by the supervisor
    Tue  李四 水光针 refund ￥280 (from arrears); 双眼皮 repriced to ￥9,000 (+￥200 in cash)
         张三 course refund of one session (现金); 定金 refund ￥200 (现金)

The tampering is done the way a person with a database browser would: plain SQL on the file, past
every service and the closed-day guard.
"""

from __future__ import annotations

import inspect
import re
import sqlite3
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from meike import check
from meike.db import Clinic, sqlite_url
from meike.models import Coupon, DayClose, OrderLine, Package
from meike.services import cashier, dayclose, ledger
from meike.services.cashier import LineSpec, Tender
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture  # noqa: F401 (fixtures)

pytestmark = pytest.mark.sqlite_only  # the SQLite file: backup API, PRAGMAs, raw edits of the file

MONDAY = date(2026, 3, 2)


def _granting(boss: object) -> dict[str, object]:
    """A coupon sold below its face value needs the supervisor where the service asks for one (issue 14/11)."""
    return {"supervisor": boss} if "supervisor" in inspect.signature(ledger.sell_coupon).parameters else {}


def work_two_days(clinic: Clinic, desk: Desk, frozen: list[datetime]) -> None:
    m, sy, boss = desk.methods, desk.cashier, desk.boss
    ledger.top_up(clinic, sy, desk.member, account="prepaid", tenders=[Tender(m["现金"], 100_000)], idempotency_key="1")
    ledger.top_up(clinic, sy, desk.member, account="deposit", tenders=[Tender(m["微信"], 50_000)], idempotency_key="2",
                  staff_id=desk.staff["钱推介"], department_id=desk.departments["美容外科"])
    ledger.sell_coupon(clinic, sy, desk.plain, name="代金券", face_value_fen=20_000, valid_until=MONDAY + timedelta(30),
                       tenders=[Tender(m["微信"], 10_000)], idempotency_key="3", **_granting(boss))
    with clinic.read() as s:
        coupon = s.scalar(select(Coupon.id))
    big = cashier.open_order(clinic, sy, customer_id=desk.plain, consultant_id=desk.staff["王咨询"],
                             lines=[LineSpec(desk.items["双眼皮"], doctor_id=desk.staff["李医生"]),
                                    LineSpec(desk.items["水光针"])])
    cashier.pay(clinic, sy, big, [Tender(m["现金"], 500_000), Tender(m["券"], 10_000, coupon)], idempotency_key="4",
                allow_arrears=True)
    cashier.pay(clinic, sy, big, [Tender(m["现金"], 98_000)], idempotency_key="5")
    course = cashier.open_order(clinic, sy, customer_id=desk.member,
                                lines=[LineSpec(desk.items["水光针"], package_sessions=5)])
    cashier.pay(clinic, sy, course, [Tender(m["预存"], 100_000), Tender(m["银行卡"], 476_000)], idempotency_key="6")
    with clinic.read() as s:
        package = s.scalar(select(Package.id))
    assert package is not None
    session = cashier.open_order(clinic, sy, customer_id=desk.member,
                                 lines=[LineSpec(desk.items["水光针"], package_id=package)])
    cashier.pay(clinic, sy, session, [], idempotency_key="7")
    hair = cashier.open_order(clinic, sy, customer_id=desk.vip, lines=[LineSpec(desk.items["脱毛"])])
    cashier.pay(clinic, sy, hair, [Tender(m["现金"], 30_000)], idempotency_key="8")
    cashier.void(clinic, sy, hair, reason="顾客改期", supervisor=boss, reverse_performance=True, idempotency_key="9")
    cash = dayclose.day_report(clinic, sy).expected_cash_fen
    dayclose.close_day(clinic, sy, counted_cash_fen=cash)

    frozen[0] += timedelta(days=1)
    with clinic.read() as s:
        lines = dict(s.execute(select(OrderLine.item_name, OrderLine.id).where(OrderLine.order_id == big)).tuples().all())
    cashier.refund_line(clinic, sy, lines["水光针"], amount_fen=28_000, tenders=[], reason="少做一次", supervisor=boss,
                        reverse_performance=True, idempotency_key="10")
    cashier.reprice_line(clinic, sy, lines["双眼皮"], unit_price_fen=900_000, reason="加做内眦", supervisor=None,
                         tenders=[Tender(m["现金"], 20_000)], idempotency_key="11")
    value = cashier.package_refund_quote(clinic, sy, package, 1)
    cashier.refund_package(clinic, sy, package, sessions=1, tenders=[Tender(m["现金"], value)], reason="搬家",
                           supervisor=boss, reverse_performance=False, idempotency_key="12")
    ledger.refund_balance(clinic, sy, desk.member, account="deposit", tenders=[Tender(m["现金"], 20_000)],
                          idempotency_key="13", supervisor=boss, reason="不做了")


@pytest.fixture(name="books")
def books_fixture(clinic: Clinic, desk: Desk, frozen: list[datetime]) -> Clinic:
    work_two_days(clinic, desk, frozen)
    return clinic


def tamper(clinic: Clinic, *statements: str) -> None:
    """Plain SQL on the file from another connection (foreign keys off, no services, no guards)."""
    path = clinic.path
    assert path is not None
    clinic.dispose()
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.close()


def test_books_kept_by_the_services_pass(books: Clinic) -> None:
    report = check.run_check(books)
    assert report.ok, report.render()
    assert report.findings == []
    assert report.counts["收据"] == 13  # 9 on Monday (the void's own receipt included), 4 on Tuesday
    assert report.counts["营业日"] == 2
    assert report.counts["日结"] == 1
    assert report.counts["疗程"] == 1
    text = report.render()
    assert "未发现问题" in text
    assert "SQLite 完整性检查：通过；外键检查：通过" in text
    assert "收据 13" in text and "顾客 3" in text


def first_id(table: str, where: str) -> str:
    return f"(SELECT min(id) FROM {table} WHERE {where})"


PREPAID = "account = 'prepaid'"
TUESDAY_IN = "business_date = '2026-03-03' AND amount_fen > 0"
MONDAY_CASH = "business_date = '2026-03-02' AND account IS NULL"


def _drop_receipt_no_uniqueness(clinic: Clinic) -> list[str]:
    """Rebuild ``receipts`` without its UNIQUE (receipt_no), as a botched hand repair would leave it."""
    path = clinic.path
    assert path is not None
    with sqlite3.connect(str(path)) as conn:
        ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'receipts'").fetchone()[0]
        indexes = [r[0] for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'receipts' AND type = 'index' AND sql IS NOT NULL")]
    conn.close()
    ddl, n = re.subn(r",\s*CONSTRAINT uq_receipts_receipt_no UNIQUE \(receipt_no\)", "", ddl)
    assert n == 1
    return ["PRAGMA foreign_keys = OFF", "BEGIN", ddl.replace("CREATE TABLE receipts", "CREATE TABLE receipts_new"),
            "INSERT INTO receipts_new SELECT * FROM receipts", "DROP TABLE receipts",
            "ALTER TABLE receipts_new RENAME TO receipts", *indexes, "COMMIT"]


def _audit_triggers(clinic: Clinic) -> list[str]:
    path = clinic.path
    assert path is not None
    with sqlite3.connect(str(path)) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'")]
    conn.close()
    return names


CORRUPTIONS: dict[str, tuple[Callable[[Clinic], list[str]], set[str], str]] = {
    # what is done → (the SQL, the checks that must report it, a text the report must show)
    "an account entry's amount edited": (lambda c: [
        f"UPDATE account_entries SET amount_fen = amount_fen + 100 WHERE id = "
        f"{first_id('account_entries', PREPAID)}"],
        {"receipt_balance", "day_close"}, "收据 R20260302-0001"),
    "a payment row deleted": (lambda c: [
        f"DELETE FROM payments WHERE id = {first_id('payments', TUESDAY_IN)}"],
        {"receipt_tenders", "receipt_balance", "order_amounts"}, "R20260303-0002"),
    "a receipt number duplicated": (lambda c: [*_drop_receipt_no_uniqueness(c), (
        "INSERT INTO receipts (receipt_no, business_date, kind, customer_id, order_id, amount_fen, status,"
        " cashier_id, created_at, idempotency_key, note, reprints)"
        " SELECT receipt_no, business_date, 'prepaid', customer_id, NULL, 0, status, cashier_id, created_at,"
        " idempotency_key || '-copy', note, reprints FROM receipts WHERE receipt_no = 'R20260303-0001'")],
        {"receipt_numbers", "receipt_counter"}, "收据号重复 R20260303-0001"),
    "a receipt renumbered (gap)": (lambda c: [
        "UPDATE receipts SET receipt_no = 'R20260303-0009' WHERE receipt_no = 'R20260303-0002'"],
        {"receipt_numbers"}, "缺号 R20260303-0002"),
    "a closed day's stored cash edited": (lambda c: [
        "UPDATE day_closes SET expected_cash_fen = expected_cash_fen - 10000"],
        {"day_close"}, "2026-03-02：应有现金记为"),
    "a closed day's payment edited": (lambda c: [
        f"UPDATE payments SET amount_fen = amount_fen + 100 WHERE id = "
        f"{first_id('payments', MONDAY_CASH)}"],
        {"day_close", "receipt_tenders", "receipt_balance"}, "应有现金 日结时 ￥"),
    "a balance driven below zero": (lambda c: [
        "UPDATE account_entries SET amount_fen = -amount_fen WHERE account = 'deposit' AND amount_fen > 0"],
        {"negative_balance"}, "定金余额 -￥"),
    "a coupon overdrawn": (lambda c: [
        f"UPDATE account_entries SET amount_fen = amount_fen - 50000 WHERE id = "
        f"{first_id('account_entries', 'is_grant')}"],
        {"coupon"}, "券 #1“代金券”面值 ￥200.00，余额 -￥400.00"),
    "an order's total lowered": (lambda c: [
        "UPDATE orders SET total_fen = total_fen - 800000 WHERE id = (SELECT min(id) FROM orders)"],
        {"order_amounts", "overpaid", "receipt_balance"}, "已付"),
    "a course session deduction deleted": (lambda c: [
        "DELETE FROM package_uses WHERE kind = 'used'"], {"package"}, "划扣 0 次，已结单的划扣项目为 1 次"),
    "a receipt counter reset": (lambda c: [
        "UPDATE receipt_counters SET last_no = 2 WHERE business_date = '2026-03-03'"],
        {"receipt_counter"}, "收据 4 张，计数器为 2"),
    "a voided order's department performance restored": (lambda c: [
        "DELETE FROM performance_entries WHERE role = 'department' AND amount_fen < 0"
        " AND order_id = (SELECT id FROM orders WHERE status = 'voided')"],
        {"performance"}, "科室业绩 ￥300.00"),
    "an audit entry rewritten past its triggers": (lambda c: [
        *(f"DROP TRIGGER {name}" for name in _audit_triggers(c)),
        "UPDATE audit_log SET after = replace(after, '100000', '1000') WHERE action = 'account.prepaid'"],
        {"audit_chain"}, "（account.prepaid）的内容被改动过"),
    # issue 14/15: what the check used to miss
    "a prepaid entry added as a grant": (lambda c: [
        "INSERT INTO account_entries (customer_id, account, amount_fen, receipt_id, order_id, coupon_id, staff_id,"
        " department_id, inpatient_no, is_grant, business_date, note, created_by_id, created_at)"
        " SELECT customer_id, 'prepaid', 500000, id, NULL, NULL, NULL, NULL, '', 1, business_date, '', cashier_id,"
        " created_at FROM receipts WHERE receipt_no = 'R20260303-0004'"],
        {"grant"}, "（预存 ￥5,000.00，收据 R20260303-0004）记为赠送"),
    "a coupon's grant raised": (lambda c: [
        f"UPDATE account_entries SET amount_fen = amount_fen + 100000 WHERE id = "
        f"{first_id('account_entries', 'is_grant')}"],
        {"grant"}, "券 #1“代金券”面值 ￥200.00、售价 ￥100.00"),
    "a day's last receipt deleted with its counter lowered": (lambda c: [
        *(f"DELETE FROM {table} WHERE receipt_id = (SELECT id FROM receipts WHERE receipt_no = 'R20260303-0004')"
          for table in ("payments", "account_entries", "performance_entries")),
        "DELETE FROM receipts WHERE receipt_no = 'R20260303-0004'",
        "UPDATE receipt_counters SET last_no = 3 WHERE business_date = '2026-03-03'"],
        {"receipt_audit"}, "收据 R20260303-0004：操作日志第"),
    "a receipt written past the program": (lambda c: [
        "INSERT INTO receipts (receipt_no, business_date, kind, customer_id, order_id, amount_fen, status,"
        " cashier_id, created_at, idempotency_key, note, reprints)"
        " SELECT 'R20260303-0005', business_date, 'prepaid', customer_id, NULL, 0, 'valid', cashier_id, created_at,"
        " 'forged', '', 0 FROM receipts WHERE receipt_no = 'R20260303-0004'",
        "UPDATE receipt_counters SET last_no = 5 WHERE business_date = '2026-03-03'"],
        {"receipt_audit"}, "收据 R20260303-0005（prepaid，￥0.00）：操作日志中没有写入它的记录"),
    "a receipt's cashier changed": (lambda c: [
        "UPDATE receipts SET cashier_id = (SELECT id FROM users WHERE username = 'boss')"
        " WHERE receipt_no = 'R20260303-0002'"],
        {"receipt_audit"}, "收据 R20260303-0002：收款人与操作日志第"),
    "a voided receipt made valid again": (lambda c: [
        "UPDATE receipts SET status = 'valid' WHERE status = 'voided'"],
        {"receipt_audit"}, "有效，与操作日志的退单记录不符"),
    "a closed day's tenders moved between methods": (lambda c: [
        "UPDATE payments SET payment_method_id = (SELECT id FROM payment_methods WHERE name = '银行卡')"
        " WHERE business_date = '2026-03-02'"
        " AND payment_method_id = (SELECT id FROM payment_methods WHERE name = '微信')"],
        {"day_close"}, "支付方式 微信 日结时 ￥600.00，现在 ￥0.00"),
    "a closed day's tenders moved between cashiers": (lambda c: [
        "UPDATE payments SET received_by_id = (SELECT id FROM users WHERE username = 'boss')"
        " WHERE id = (SELECT min(id) FROM payments WHERE business_date = '2026-03-02' AND account IS NULL)"],
        {"day_close"}, "收银员 boss 日结时 ￥0.00，现在 ￥1,000.00"),
    "a closed day's sales moved between departments": (lambda c: [
        "UPDATE performance_entries SET department_id = (SELECT id FROM departments WHERE name = '皮肤科')"
        " WHERE role = 'department' AND business_date = '2026-03-02'"
        " AND department_id = (SELECT id FROM departments WHERE name = '美容外科')"],
        {"day_close"}, "科室 美容外科 日结时"),
    "a day close deleted": (lambda c: ["DELETE FROM day_closes"],
                            {"day_close_audit"}, "2026-03-02：操作日志第"),
    # the review of issue 14: what the receipt's seal in its audit row finds (any day, open or closed)
    "a closed day's top-up moved to another customer": (lambda c: [
        "UPDATE receipts SET customer_id = (SELECT id FROM customers WHERE name = '李四')"
        " WHERE receipt_no = 'R20260302-0001'",
        "UPDATE account_entries SET customer_id = (SELECT id FROM customers WHERE name = '李四')"
        " WHERE receipt_id = (SELECT id FROM receipts WHERE receipt_no = 'R20260302-0001')"],
        {"receipt_audit"}, "收据 R20260302-0001：顾客、收款方式、账户、金额或业绩与操作日志第"),
    "an open day's tender moved between methods": (lambda c: [
        "UPDATE payments SET payment_method_id = (SELECT id FROM payment_methods WHERE name = '微信')"
        " WHERE id = (SELECT min(id) FROM payments WHERE business_date = '2026-03-03' AND account IS NULL)"],
        {"receipt_audit"}, "与操作日志第"),
    "an open day's deposit refund booked as prepaid": (lambda c: [
        "UPDATE account_entries SET account = 'prepaid' WHERE business_date = '2026-03-03' AND account = 'deposit'"],
        {"receipt_audit"}, "与操作日志第"),
    "a consultant's commission moved to a doctor": (lambda c: [
        "UPDATE performance_entries SET staff_id = (SELECT id FROM staff WHERE name = '李医生')"
        " WHERE role = 'consultant'"],
        {"receipt_audit"}, "与操作日志第"),
    # issue 15: the crash harness's checks of documents written whole, now in the library
    "an order line changed after the order was written": (lambda c: [
        f"UPDATE order_lines SET amount_fen = amount_fen + 100 WHERE id = {first_id('order_lines', '1')}"],
        {"order_lines"}, "明细合计"),
    "a top-up's entry posted to another account": (lambda c: [
        "UPDATE account_entries SET account = 'inpatient' WHERE receipt_id = "
        "(SELECT id FROM receipts WHERE receipt_no = 'R20260302-0001')"],
        {"receipt_entries"}, "收据 R20260302-0001（prepaid）"),
    "a voided order's reopened copy removed": (lambda c: [
        "DELETE FROM order_lines WHERE order_id IN (SELECT id FROM orders WHERE source_order_id IS NOT NULL)",
        "DELETE FROM orders WHERE source_order_id IS NOT NULL"],
        {"order_void"}, "重开 0 次"),
    "a course moved to a line that sells none": (lambda c: [
        "UPDATE packages SET order_line_id = (SELECT min(id) FROM order_lines WHERE package_sessions = 0)"],
        {"course_sale"}, "售出它的明细不是疗程"),
    "a payment pointing at a missing payment method": (lambda c: [
        f"UPDATE payments SET payment_method_id = 9999 WHERE id = {first_id('payments', '1')}"],
        {"foreign_key"}, "payments 第"),
}


@pytest.mark.parametrize("what", list(CORRUPTIONS))
def test_tampering_is_reported(books: Clinic, what: str) -> None:
    statements, codes, text = CORRUPTIONS[what]
    tamper(books, *statements(books))
    report = check.run_check(books)
    assert not report.ok
    assert codes <= report.codes(), report.render()
    rendered = report.render()
    assert text in rendered, rendered
    assert "发现" in rendered and "个问题" in rendered
    for code in codes:
        assert f"【{check.TITLES[code]}】" in rendered


def test_a_close_stored_before_ids_were_kept_compares_each_name_and_allows_renames(books: Clinic) -> None:
    """Closes written by an older version keep names only: a renamed method is not a finding, money moved
    between names still is."""
    tamper(books, "UPDATE day_closes SET summary = json_remove(summary, '$.by_id')",
           "UPDATE payment_methods SET name = '微信支付' WHERE name = '微信'")
    assert check.run_check(books).ok, check.run_check(books).render()
    tamper(books, "UPDATE payments SET payment_method_id = (SELECT id FROM payment_methods WHERE name = '银行卡')"
                  " WHERE business_date = '2026-03-02'"
                  " AND payment_method_id = (SELECT id FROM payment_methods WHERE name = '微信支付')")
    report = check.run_check(books)
    assert "day_close" in report.codes()
    assert "支付方式 银行卡 日结时 ￥4,760.00，现在 ￥5,360.00" in report.render()


def test_renaming_a_method_a_department_or_a_cashier_after_the_close_changes_no_closed_day(books: Clinic) -> None:
    """A closed day's report groups money by ids and shows the names kept with the close (issue 15)."""
    with books.read() as s:
        [(day, summary)] = s.execute(select(DayClose.business_date, DayClose.summary)).tuples().all()
        stored = dayclose.DayReport.from_json(summary)
        assert dayclose.report_in(s, day) == stored
    tamper(books, "UPDATE payment_methods SET name = '现金（人民币）' WHERE name = '现金'",
           "UPDATE payment_methods SET name = '现金' WHERE name = '微信'",  # another method takes the old name
           "UPDATE departments SET name = '医学美容科' WHERE name = '美容外科'",
           "UPDATE users SET display_name = '收银一号' WHERE username = 'sy'")
    with books.read() as s:
        again = dayclose.report_in(s, day)
    assert again == stored
    assert (again.by_method, again.by_department, again.by_cashier, again.by_id, again.names) == (
        stored.by_method, stored.by_department, stored.by_cashier, stored.by_id, stored.names)
    assert "现金" in again.by_method and "美容外科" in again.by_department and "sy" in again.by_cashier
    report = check.run_check(books)
    assert report.ok, report.render()
    # The open day shows today's names.
    with books.read() as s:
        today = dayclose.report_in(s, day + timedelta(days=1))
    assert "现金（人民币）" in today.by_method and "现金" not in today.by_method


def test_a_damaged_file_is_reported_by_the_integrity_check(books: Clinic) -> None:
    path = books.path
    assert path is not None
    tamper(books, "PRAGMA wal_checkpoint(TRUNCATE)")
    with sqlite3.connect(str(path)) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ix_receipts_customer_id'").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(path, "r+b") as f:  # scribble over the index's page header
        f.seek((root - 1) * size)
        f.write(b"\xff" * 16)
    report = check.run_check(books)
    assert report.codes() == {"integrity"}
    assert "SQLite 完整性检查：未通过" in report.render()


def test_many_problems_of_one_kind_are_counted_not_listed(books: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check.report, "MAX_DETAILS", 2)
    tamper(books, "UPDATE receipts SET amount_fen = amount_fen + 1")
    report = check.run_check(books)
    assert [f.code for f in report.findings].count("receipt_tenders") == 2
    assert report.omitted["receipt_tenders"] == 11
    assert "另有 11 处同类问题" in report.render()


def test_day_number_problems() -> None:
    day = date(2026, 3, 2)
    ok = [f"R20260302-{i:04d}" for i in range(1, 4)]
    assert check.day_number_problems(day, ok) == []
    assert check.day_number_problems(day, [*ok, "R20260302-0002"]) == ["2026-03-02：收据号重复 R20260302-0002"]
    assert check.day_number_problems(day, ["R20260302-0001", "R20260302-0004"]) == [
        "2026-03-02：缺号 R20260302-0002、R20260302-0003"]
    assert check.day_number_problems(day, [*ok, "R20260303-0004", "x"]) == [
        "2026-03-02：收据号 R20260303-0004 不是这一天的号码", "2026-03-02：收据号 'x' 格式错误"]
    # numbers skipped by a restore are accounted for; one of them issued again is a repeat
    assert check.day_number_problems(day, ["R20260302-0001", "R20260302-0004"], {2, 3}) == []
    assert check.day_number_problems(day, ["R20260302-0001", "R20260302-0002"], {2}) == [
        "2026-03-02：收据号重复 R20260302-0002"]


def test_a_fresh_database_passes(clinic: Clinic, tmp_path: Path) -> None:
    report = check.run_check(clinic)
    assert report.ok
    assert report.counts["收据"] == 0


def test_a_database_of_another_revision_is_not_read(tmp_path: Path) -> None:
    empty = Clinic.open(sqlite_url(tmp_path / "empty.sqlite3"))
    try:
        report = check.run_check(empty)
    finally:
        empty.dispose()
    assert report.codes() == {"revision"}
    assert "请先正常启动一次程序完成升级" in report.render()
