"""收费中心 through the page: split tender with change, arrears and their collection, void and project refund
with a supervisor's password, and the daily close after which money posts on the next business day."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QWidget
from sqlalchemy import func, select

from meike import clock
from meike.db import Clinic
from meike.models import Order, Payment, PaymentMethod, PerformanceEntry, Receipt
from meike.permissions import Actor
from meike.services import cashier, cashier_view, customers, dayclose, dictionaries, ledger
from meike.services.cashier import LineSpec
from meike.services.dictionaries import Kind
from meike.services.ledger import Tender
from tests.ui.cashier_support import click, methods, page_of, ready
from tests.ui.waiting import settle
from ui.cashier.day import DayCloseDialog
from ui.cashier.order_table import OrderTable
from ui.cashier.orders import RefundLineDialog, VoidDialog
from ui.cashier.page import CashierPage
from ui.cashier.payment import PaymentDialog

pytestmark = pytest.mark.gui


def item_id(clinic: Clinic, actor: Actor, code: str) -> int:
    return cashier.find_items(clinic, actor, code)[0].id


def open_order(clinic: Clinic, actor: Actor, code: str, *, customer_index: int = 0,
               consultant_id: int | None = None) -> int:
    """An unpaid order made through the service (what the consultant's desk sends to the cashier)."""
    customer = customers.search_customers(clinic, actor, limit=customer_index + 1)[customer_index]
    return cashier.open_order(clinic, actor, customer_id=customer.id, lines=[LineSpec(item_id(clinic, actor, code))],
                              consultant_id=consultant_id)


def choose(qtbot, page: CashierPage, table: OrderTable, order_id: int) -> None:  # type: ignore[no-untyped-def]
    """Show the tab (a history tab loads when shown) and select the order."""
    page.tabs.setCurrentWidget(table)
    ready(qtbot, page)
    table.select_order(order_id)


def menu_action(page: CashierPage, table: OrderTable, name: str):  # type: ignore[no-untyped-def]
    """The right-click menu's action (built as the menu shows it), enabled and triggered."""
    actions = {a.objectName(): a for a in page.build_menu(table).actions()}
    settle()
    assert actions[name].isEnabled()
    actions[name].trigger()
    settle()
    return page.dialog


def receipt_payments(clinic: Clinic, receipt_no: str) -> list[tuple[str, int]]:
    with clinic.read() as s:
        return list(s.execute(select(PaymentMethod.name, Payment.amount_fen)
                              .join(Payment, Payment.payment_method_id == PaymentMethod.id)
                              .join(Receipt, Receipt.id == Payment.receipt_id)
                              .where(Receipt.receipt_no == receipt_no).order_by(Payment.id)).tuples())


def payment_count(clinic: Clinic) -> int:
    with clinic.read() as s:
        return s.scalar(select(func.count()).select_from(Payment)) or 0


def today_receipt(n: int, days: int = 0) -> str:
    return f"R{clock.now().date() + timedelta(days=days):%Y%m%d}-{n:04d}"


# --- (a) split tender with change --------------------------------------------------------------


def test_split_between_cash_and_wechat_shows_change_and_moves_to_paid(qtbot, demo_clinic: Clinic, gl: Actor,  # type: ignore[no-untyped-def]
                                                                    _no_pdf_viewer: list[Path]) -> None:
    order_id = open_order(demo_clinic, gl, "syp")  # 双眼皮 ￥8,800
    page = page_of(qtbot, demo_clinic, gl)
    assert page.tabs.tabText(0) == "未付款（1）"
    choose(qtbot, page, page.unpaid, order_id)
    pay = menu_action(page, page.unpaid, "cashier_action_pay")
    assert isinstance(pay, PaymentDialog) and pay.isVisible() and pay.windowTitle() == "收款"
    assert pay.findChild(QWidget, "cashier_pay_due").text() == "￥8,800.00"
    assert pay.findChild(QWidget, "cashier_pay_amount_0").text() == "8800.00"

    cash = pay.findChild(QWidget, "cashier_pay_method_0")
    cash.setCurrentIndex(cash.findText("现金"))
    settle()
    pay.findChild(QWidget, "cashier_pay_amount_0").setText("3100.00")
    settle()
    click(qtbot, pay.findChild(QWidget, "cashier_pay_add"))
    wechat = pay.findChild(QWidget, "cashier_pay_method_1")
    assert pay.findChild(QWidget, "cashier_pay_amount_1").text() == "5700.00"  # what is still due
    wechat.setCurrentIndex(wechat.findText("微信"))
    settle()
    pay.findChild(QWidget, "cashier_pay_amount_1").setText("5800.00")
    settle()
    assert pay.received.text() == "￥8,900.00"
    assert pay.change.text() == "找零 ￥100.00" and pay.change.isVisible()

    click(qtbot, pay.findChild(QWidget, "cashier_pay_ok"))
    assert not pay.isVisible()
    receipt = today_receipt(1)
    assert page.status.text() == f"收款成功，收据号 {receipt}，找零 ￥100.00"
    # The change is not recorded as money in: cash is capped at what was due.
    assert receipt_payments(demo_clinic, receipt) == [("现金", 300000), ("微信", 580000)]
    pay.submit()  # a second click that got through: same key, same receipt
    settle()
    assert payment_count(demo_clinic) == 2

    assert page.tabs.currentWidget() is page.paid
    assert page.paid.current() is not None and page.paid.current().id == order_id  # at once, before the reload
    ready(qtbot, page)
    assert page.tabs.tabText(0) == "未付款（0）" and page.tabs.tabText(1) == "已付款（1）"
    assert page.paid.current() is not None and page.paid.current().id == order_id
    row = page.paid.row_of(order_id)
    assert page.paid.text(row, "收据号") == receipt
    assert page.paid.text(row, "实收") == "￥8,800.00"
    assert page.paid.text(row, "欠款") == ""
    assert cashier.get_order(demo_clinic, gl, order_id).status == "settled"

    assert page.print_button.isVisible()
    click(qtbot, page.print_button)
    assert page.status.text().startswith("已生成收据 PDF：")
    assert _no_pdf_viewer and _no_pdf_viewer[0].exists() and _no_pdf_viewer[0].name == f"{receipt}.pdf"


def test_over_tender_without_cash_is_refused_beside_the_rows(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    order_id = open_order(demo_clinic, gl, "xy")  # 洗牙 ￥298
    page = page_of(qtbot, demo_clinic, gl)
    choose(qtbot, page, page.unpaid, order_id)
    pay = page.take_payment()
    settle()
    assert pay is not None
    pay.method.setCurrentIndex(pay.method.findText("微信"))
    pay.amount.setText("300")
    settle()
    assert pay.left.text() == "超出应收 ￥2.00（只有现金可以找零）"
    click(qtbot, pay.ok)
    assert pay.isVisible()
    assert pay.rows.error.text() == "收款合计 ￥300.00 超过应收 ￥298.00；只有现金可以找零"
    pay.amount.setText("2x")
    settle()
    click(qtbot, pay.ok)
    assert pay.findChild(QWidget, "cashier_pay_row_error_0").text() == "金额格式不正确：不认识「x」，例如 1280 或 1,280.50"
    assert pay.amount.text() == "2x"  # nothing typed is lost
    assert payment_count(demo_clinic) == 0


# --- (b) partial payment, arrears, later collection --------------------------------------------


def test_partial_payment_leaves_arrears_collected_later(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    order_id = open_order(demo_clinic, gl, "xy")  # 洗牙 ￥298
    page = page_of(qtbot, demo_clinic, gl)
    choose(qtbot, page, page.unpaid, order_id)
    click(qtbot, page.settle_button)
    pay = page.dialog
    assert isinstance(pay, PaymentDialog)
    pay.amount.setText("100.00")
    settle()
    assert pay.left.text() == "未收 ￥198.00"
    click(qtbot, pay.ok)
    assert pay.isVisible()
    assert pay.rows.error.text() == "收款合计 ￥100.00 少于应收 ￥298.00；如需欠款请勾选“余额记欠款”"
    assert payment_count(demo_clinic) == 0

    qtbot.mouseClick(pay.allow_arrears, Qt.MouseButton.LeftButton, pos=QPoint(8, pay.allow_arrears.height() // 2))
    settle()
    assert pay.allow_arrears.isChecked()
    click(qtbot, pay.ok)
    assert not pay.isVisible()
    assert page.status.text() == f"收款成功，收据号 {today_receipt(1)}，仍欠 ￥198.00"
    row = page.paid.row_of(order_id)
    assert page.paid.text(row, "实收") == "￥100.00"
    assert page.paid.text(row, "欠款") == "￥198.00"
    customer_id = page.paid.rows[row].customer_id
    assert ledger.customer_accounts(demo_clinic, gl, customer_id).balances["arrears"] == 19800

    # Later: the same order, 收欠款 from the paid tab (button and right-click).
    page.refresh()
    settle()
    ready(qtbot, page)
    choose(qtbot, page, page.paid, order_id)
    assert page.settle_button.text() == "收欠款" and page.settle_button.isEnabled()
    collect = menu_action(page, page.paid, "cashier_action_collect")
    assert isinstance(collect, PaymentDialog) and collect.windowTitle() == "收欠款"
    assert collect.findChild(QWidget, "cashier_pay_due").text() == "￥198.00"
    assert "欠款 ￥198.00" in collect.balances.text()
    assert collect.amount.text() == "198.00"
    collect.method.setCurrentIndex(collect.method.findText("微信"))
    click(qtbot, collect.ok)
    assert not collect.isVisible()
    assert page.status.text() == f"收欠款成功，收据号 {today_receipt(2)}"
    row = page.paid.row_of(order_id)
    assert page.paid.text(row, "实收") == "￥298.00" and page.paid.text(row, "欠款") == ""
    assert not page.settle_button.isEnabled()
    assert ledger.customer_accounts(demo_clinic, gl, customer_id).balances["arrears"] == 0
    assert receipt_payments(demo_clinic, today_receipt(2)) == [("微信", 19800)]


# --- (c) void with the supervisor's password ---------------------------------------------------


def test_void_needs_the_supervisor_password_and_reopens_the_order(qtbot, demo_clinic: Clinic, sy: Actor,  # type: ignore[no-untyped-def]
                                                                   gl: Actor) -> None:
    order_id = open_order(demo_clinic, sy, "sgz")  # 水光针 ￥1,280
    m = methods(demo_clinic, sy)
    cashier.pay(demo_clinic, sy, order_id, [Tender(m["现金"], 128000)], idempotency_key="k-void")
    page = page_of(qtbot, demo_clinic, sy)  # the cashier without supervisor rights
    choose(qtbot, page, page.paid, order_id)
    void = menu_action(page, page.paid, "cashier_action_void")
    assert isinstance(void, VoidDialog)

    void.findChild(QWidget, "cashier_void_reason").setText("收错项目")
    settle()
    void.findChild(QWidget, "cashier_void_supervisor_user").setText("gl")
    settle()
    void.findChild(QWidget, "cashier_void_supervisor_password").setText("wrong")
    settle()
    click(qtbot, void.findChild(QWidget, "cashier_void_ok"))
    assert void.isVisible()
    assert void.form.error_text("supervisor") == "主管用户名或密码错误"
    assert void.findChild(QWidget, "cashier_void_reason").text() == "收错项目"
    assert cashier.get_order(demo_clinic, sy, order_id).status == "settled"
    assert payment_count(demo_clinic) == 1

    void.supervisor.user.setText("sy")  # the cashier cannot approve her own void
    void.supervisor.password.setText("123")
    click(qtbot, void.ok)
    assert void.form.error_text("supervisor") == "该账号没有此项审批权限"
    assert cashier.get_order(demo_clinic, sy, order_id).status == "settled"

    void.supervisor.user.setText("gl")
    void.supervisor.password.setText("123")
    assert void.findChild(QWidget, "cashier_void_reverse").isChecked()
    click(qtbot, void.ok)
    assert not void.isVisible()
    assert void.result is not None
    reopened = void.result.reopened_order_id
    assert page.status.text() == (f"已退单，退单收据号 {today_receipt(2)}，退回 ￥1,280.00；"
                                  "原单已作废，已生成新的未付款单")
    assert cashier.get_order(demo_clinic, sy, order_id).status == "voided"
    assert cashier.get_order(demo_clinic, sy, reopened).status == "new"
    assert receipt_payments(demo_clinic, today_receipt(2)) == [("现金", -128000)]

    assert page.tabs.currentWidget() is page.unpaid
    assert page.unpaid.current() is not None and page.unpaid.current().id == reopened
    assert page.unpaid.text(page.unpaid.row_of(reopened), "项目") == "水光针"
    assert page.tabs.tabText(2) == "已退单·已消单"  # reloaded when shown
    page.tabs.setCurrentWidget(page.closed)
    ready(qtbot, page)
    row = page.closed.row_of(order_id)
    assert page.closed.text(row, "状态") == "已退单"
    assert page.closed.text(row, "原因") == "收错项目"
    assert page.tabs.tabText(2) == "已退单·已消单（1）"
    page.tabs.setCurrentWidget(page.paid)
    ready(qtbot, page)
    assert all(r.id != order_id for r in page.paid.rows)
    with demo_clinic.read() as s:  # the consultant's and doctor's performance went back to zero
        assert (s.scalar(select(func.coalesce(func.sum(PerformanceEntry.amount_fen), 0))
                         .where(PerformanceEntry.order_id == order_id)) or 0) == 0


# --- (d) project refund with the supervisor's password -----------------------------------------


def test_project_refund_with_supervisor_reverses_performance(qtbot, demo_clinic: Clinic, sy: Actor) -> None:  # type: ignore[no-untyped-def]
    consultant = next(e.id for e in dictionaries.list_entries(demo_clinic, sy, Kind.STAFF) if e.name == "李静")
    order_id = open_order(demo_clinic, sy, "syp", consultant_id=consultant)  # 双眼皮 ￥8,800
    m = methods(demo_clinic, sy)
    cashier.pay(demo_clinic, sy, order_id, [Tender(m["微信"], 880000)], idempotency_key="k-refund")
    page = page_of(qtbot, demo_clinic, sy)
    choose(qtbot, page, page.paid, order_id)
    refund = menu_action(page, page.paid, "cashier_action_refund")
    assert isinstance(refund, RefundLineDialog)
    assert refund.line.currentText() == "双眼皮　现值 ￥8,800.00"
    assert refund.amount.text() == "8800.00"

    refund.amount.setText("1000.00")
    settle()
    assert refund.split.text() == "实退 ￥1,000.00"
    refund.method.setCurrentIndex(refund.method.findText("微信"))
    click(qtbot, refund.ok)
    assert refund.form.error_text("reason") == "请填写退款原因"
    assert refund.form.error_text("supervisor") == "请主管输入用户名和密码"
    refund.reason.setText("顾客不满意，部分退款")
    refund.supervisor.user.setText("gl")
    refund.supervisor.password.setText("nope")
    click(qtbot, refund.ok)
    assert refund.form.error_text("supervisor") == "主管用户名或密码错误"
    assert refund.amount.text() == "1000.00" and refund.reason.text() == "顾客不满意，部分退款"
    assert payment_count(demo_clinic) == 1

    refund.supervisor.password.setText("123")
    assert refund.reverse.isChecked() and refund.reverse.text() == "冲减咨询、医生业绩"
    click(qtbot, refund.ok)
    assert not refund.isVisible()
    assert page.status.text() == f"退款成功，收据号 {today_receipt(2)}"
    assert receipt_payments(demo_clinic, today_receipt(2)) == [("微信", -100000)]
    facts = cashier_view.order_facts(demo_clinic, sy, order_id)
    assert facts.lines[0].net_fen == 780000
    ready(qtbot, page)
    row = page.paid.row_of(order_id)
    assert page.paid.text(row, "实收") == "￥7,800.00"
    with demo_clinic.read() as s:
        credited = dict(s.execute(select(PerformanceEntry.role, func.sum(PerformanceEntry.amount_fen))
                                  .where(PerformanceEntry.order_id == order_id)
                                  .group_by(PerformanceEntry.role)).tuples().all())
    assert credited["consultant"] == 780000 and credited["department"] == 780000


def test_refund_of_an_order_with_arrears_reduces_them_first(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    order_id = open_order(demo_clinic, gl, "sgz")  # ￥1,280, ￥1,000 paid, ￥280 owed
    m = methods(demo_clinic, gl)
    cashier.pay(demo_clinic, gl, order_id, [Tender(m["现金"], 100000)], idempotency_key="k-a", allow_arrears=True)
    page = page_of(qtbot, demo_clinic, gl)
    choose(qtbot, page, page.paid, order_id)
    refund = page.refund_line()
    settle()
    assert refund is not None
    refund.amount.setText("500")
    settle()
    assert refund.split.text() == "其中 ￥280.00 冲减欠款，实退 ￥220.00"
    refund.reason.setText("少做一次")
    refund.supervisor.user.setText("gl")
    refund.supervisor.password.setText("123")
    click(qtbot, refund.ok)
    assert not refund.isVisible(), refund.message.text()
    assert receipt_payments(demo_clinic, today_receipt(2)) == [("现金", -22000)]
    ready(qtbot, page)
    assert page.paid.text(page.paid.row_of(order_id), "欠款") == ""


# --- (e) daily close -------------------------------------------------------------------------


def test_daily_close_needs_a_note_for_a_difference_then_money_posts_next_day(qtbot, demo_clinic: Clinic,  # type: ignore[no-untyped-def]
                                                                             gl: Actor) -> None:
    m = methods(demo_clinic, gl)
    paid = open_order(demo_clinic, gl, "xy")
    cashier.pay(demo_clinic, gl, paid, [Tender(m["现金"], 29800)], idempotency_key="k-day")
    later = open_order(demo_clinic, gl, "sgz", customer_index=1)
    today = clock.now().date()
    tomorrow = today + timedelta(days=1)
    page = page_of(qtbot, demo_clinic, gl)
    assert page.business_date.text() == f"营业日期：{today:%Y-%m-%d}"

    click(qtbot, page.day_close_button)
    close = page.dialog
    assert isinstance(close, DayCloseDialog)
    qtbot.waitUntil(lambda: close.report is not None, timeout=5000)
    assert close.view.header.text() == f"日结　营业日期　{today:%Y-%m-%d}"
    assert close.view.expected.text() == "￥298.00"
    assert close.view.received.text() == "￥298.00"
    assert close.view.by_method.item(0, 0).text() == "现金"
    assert close.view.by_method.item(0, 1).text() == "298.00"
    assert close.view.by_cashier.item(0, 0).text() == "总台"
    counted = close.findChild(QWidget, "day_close_counted")
    counted.setText("293.00")
    settle()
    assert close.diff.text() == "少 ￥5.00"
    click(qtbot, close.findChild(QWidget, "day_close_ok"))
    assert close.isVisible()
    assert close.form.error_text("note") == "清点现金与应有现金 ￥298.00 相差 -￥5.00，请填写说明"
    assert counted.text() == "293.00"
    assert dayclose.closed_days(demo_clinic, gl, today, today) == []

    close.findChild(QWidget, "day_close_note").setText("找零差 5 元")
    settle()
    click(qtbot, close.ok)
    assert not close.isVisible()
    assert page.status.text() == f"{today:%Y-%m-%d} 已日结；之后的收款记入 {tomorrow:%Y-%m-%d}"
    assert page.business_date.text().startswith(f"营业日期：{tomorrow:%Y-%m-%d}（不是今天）")
    [day] = dayclose.closed_days(demo_clinic, gl, today, today)
    assert (day.counted_cash_fen, day.expected_cash_fen, day.note) == (29300, 29800, "找零差 5 元")

    choose(qtbot, page, page.unpaid, later)
    pay = page.take_payment()
    settle()
    assert pay is not None
    click(qtbot, pay.ok)
    assert not pay.isVisible()
    assert page.status.text() == f"收款成功，收据号 {today_receipt(1, days=1)}"
    with demo_clinic.read() as s:
        assert s.scalar(select(Order.business_date).where(Order.id == later)) == tomorrow
    assert dayclose.day_report(demo_clinic, gl, today).receipts == 1  # the closed day did not change
