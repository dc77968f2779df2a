"""The cashier page's right-click menus and the smaller order actions: 合并收费, 改价（多退少补）, 登记发票, 重印,
营业日期, 历史 and 营收统计."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QCalendarWidget,
    QComboBox,
    QLineEdit,
    QWidget,
)

from meike import clock
from meike.db import Clinic
from meike.permissions import Actor
from meike.services import audit, cashier, cashier_view, customers, dayclose
from meike.services.cashier import LineSpec
from meike.services.ledger import Tender
from tests.ui.cashier_support import click, methods, page_of, ready
from tests.ui.waiting import settle
from ui.cashier.day import BusinessDateDialog, ClosedDaysDialog, RevenueDialog
from ui.cashier.order_table import OrderTable
from ui.cashier.orders import InvoiceDialog, RepriceDialog, ReprintDialog
from ui.cashier.page import CashierPage
from ui.cashier.payment import PaymentDialog
from ui.widgets import messages

pytestmark = pytest.mark.gui


def open_order(clinic: Clinic, actor: Actor, code: str, customer_index: int = 0) -> int:
    customer = customers.search_customers(clinic, actor, limit=customer_index + 1)[customer_index]
    item = cashier.find_items(clinic, actor, code)[0].id
    return cashier.open_order(clinic, actor, customer_id=customer.id, lines=[LineSpec(item)])


def paid_order(clinic: Clinic, actor: Actor, code: str, amount_fen: int, key: str) -> int:
    order_id = open_order(clinic, actor, code)
    cashier.pay(clinic, actor, order_id, [Tender(methods(clinic, actor)["现金"], amount_fen)], idempotency_key=key)
    return order_id


def choose(qtbot, page: CashierPage, table: OrderTable, order_id: int) -> None:  # type: ignore[no-untyped-def]
    """Show the tab (a history tab loads when shown) and select the order."""
    page.tabs.setCurrentWidget(table)
    ready(qtbot, page)
    table.select_order(order_id)


def menu(page: CashierPage, table: OrderTable) -> dict[str, bool]:
    return {a.objectName(): a.isEnabled() for a in page.build_menu(table).actions() if a.objectName()}


def trigger(page: CashierPage, table: OrderTable, name: str):  # type: ignore[no-untyped-def]
    [action] = [a for a in page.build_menu(table).actions() if a.objectName() == name]
    assert action.isEnabled()
    action.trigger()
    settle()
    return page.dialog


def test_menus_offer_what_each_tab_allows(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    unpaid = open_order(demo_clinic, gl, "xy")
    paid = paid_order(demo_clinic, gl, "sgz", 128000, "m1")
    page = page_of(qtbot, demo_clinic, gl)
    page.unpaid.select_order(unpaid)
    assert menu(page, page.unpaid) == {"cashier_action_pay": True, "cashier_action_shares": True,
                                       "cashier_action_cancel": True,
                                       "cashier_action_merge": False, "cashier_action_account": True}
    choose(qtbot, page, page.paid, paid)
    assert menu(page, page.paid) == {
        "cashier_action_collect": False, "cashier_action_void": True, "cashier_action_refund": True,
        "cashier_action_reprice": True, "cashier_action_invoice": True, "cashier_action_reprint": True,
        "cashier_action_account": True}
    cashier.cancel(demo_clinic, gl, unpaid, reason="顾客改约")
    page.refresh()
    settle()
    page.tabs.setCurrentWidget(page.closed)
    ready(qtbot, page)
    page.closed.select_order(unpaid)
    assert page.closed.text(0, "状态") == "已消单" and page.closed.text(0, "原因") == "顾客改约"
    assert menu(page, page.closed) == {"cashier_action_reprint": False, "cashier_action_account": True}


def test_merge_two_unpaid_orders_of_one_customer_and_pay_once(qtbot, demo_clinic: Clinic, gl: Actor,  # type: ignore[no-untyped-def]
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first = open_order(demo_clinic, gl, "xy")  # ￥298
    second = open_order(demo_clinic, gl, "sgz")  # ￥1,280, same customer
    other = open_order(demo_clinic, gl, "xy", customer_index=1)
    page = page_of(qtbot, demo_clinic, gl)
    page.unpaid.select_order(first)
    page.unpaid.selectionModel().select(page.unpaid.model_.index(page.unpaid.row_of(other), 0),
                                        page.unpaid.selectionModel().SelectionFlag.Select
                                        | page.unpaid.selectionModel().SelectionFlag.Rows)
    assert menu(page, page.unpaid)["cashier_action_merge"] is False  # two customers
    page.unpaid.select_order(first)
    page.unpaid.selectionModel().select(page.unpaid.model_.index(page.unpaid.row_of(second), 0),
                                        page.unpaid.selectionModel().SelectionFlag.Select
                                        | page.unpaid.selectionModel().SelectionFlag.Rows)
    asked: list[str] = []
    monkeypatch.setattr(messages, "ask", lambda _p, _t, text: asked.append(text) or True)
    pay = trigger(page, page.unpaid, "cashier_action_merge")
    assert asked and "2 张收费单合并为一张（合计 ￥1,578.00）" in asked[0]
    assert isinstance(pay, PaymentDialog)
    assert pay.findChild(QWidget, "cashier_pay_due").text() == "￥1,578.00"
    click(qtbot, pay.ok)
    assert not pay.isVisible()
    ready(qtbot, page)
    assert page.tabs.tabText(0) == "未付款（1）"  # only the other customer's order is left
    page.tabs.setCurrentWidget(page.closed)
    ready(qtbot, page)
    assert page.tabs.tabText(2) == "已退单·已消单（2）"
    assert {page.closed.text(i, "原因") for i in range(2)} == {f"合并到 #{pay.order_id}"}


def test_reprice_up_collects_the_difference_and_down_needs_a_supervisor(qtbot, demo_clinic: Clinic,  # type: ignore[no-untyped-def]
                                                                       gl: Actor) -> None:
    order_id = paid_order(demo_clinic, gl, "syp", 880000, "r1")
    page = page_of(qtbot, demo_clinic, gl)
    choose(qtbot, page, page.paid, order_id)
    reprice = trigger(page, page.paid, "cashier_action_reprice")
    assert isinstance(reprice, RepriceDialog)
    assert reprice.price.text() == "8800.00" and reprice.diff.text() == "价格没有变化"
    reprice.price.setText("9000")
    settle()
    assert reprice.diff.text() == "补收 ￥200.00" and reprice.collect_amount.text() == "200.00"
    assert reprice.collect_amount.isVisibleTo(reprice) and not reprice.refund_method.isVisibleTo(reprice)
    reprice.collect_amount.setText("150")  # the rest stays owed
    settle()
    reprice.reason.setText("升级方案")
    click(qtbot, reprice.ok)
    assert not reprice.isVisible(), reprice.message.text()
    assert page.status.text().startswith("改价成功，收据号 R") and page.status.text().endswith("仍欠 ￥50.00")
    ready(qtbot, page)
    assert page.paid.text(page.paid.row_of(order_id), "欠款") == "￥50.00"

    page.paid.select_order(order_id)
    down = page.reprice_line()
    settle()
    assert down is not None
    down.price.setText("8500")
    settle()
    assert down.diff.text() == "退还 ￥500.00（其中 ￥50.00 冲减欠款）"
    assert down.refund_method.isVisibleTo(down)
    down.reason.setText("按活动价")
    click(qtbot, down.ok)
    assert down.form.error_text("supervisor") == "请主管输入用户名和密码"
    down.supervisor.user.setText("gl")
    down.supervisor.password.setText("123")
    click(qtbot, down.ok)
    assert not down.isVisible(), down.message.text()
    facts = cashier_view.order_facts(demo_clinic, gl, order_id)
    assert facts.lines[0].net_fen == 850000 and facts.arrears_fen == 0


def test_invoice_and_reprint(qtbot, demo_clinic: Clinic, gl: Actor, _no_pdf_viewer: list[Path]) -> None:  # type: ignore[no-untyped-def]
    order_id = paid_order(demo_clinic, gl, "xy", 29800, "i1")
    page = page_of(qtbot, demo_clinic, gl)
    choose(qtbot, page, page.paid, order_id)
    invoice = trigger(page, page.paid, "cashier_action_invoice")
    assert isinstance(invoice, InvoiceDialog)
    assert invoice.amount.text() == "298.00"
    click(qtbot, invoice.ok)
    assert invoice.form.error_text("invoice_no") == "请填写发票号"
    invoice.invoice_no.setText("FP0012345")
    invoice.amount.setText("300")
    settle()
    click(qtbot, invoice.ok)
    assert invoice.form.error_text("invoice_amount") == "发票金额应在 ￥0.01–￥298.00 之间"
    invoice.amount.setText("298")
    settle()
    click(qtbot, invoice.ok)
    assert not invoice.isVisible()
    assert page.status.text() == "已登记发票"
    assert cashier_view.order_facts(demo_clinic, gl, order_id).invoice_no == "FP0012345"

    page.paid.select_order(order_id)
    reprint = trigger(page, page.paid, "cashier_action_reprint")
    assert isinstance(reprint, ReprintDialog)
    assert reprint.receipt.currentText().startswith(f"R{clock.now():%Y%m%d}-0001　收费收据")
    reprint.supervisor.user.setText("sy")
    reprint.supervisor.password.setText("123")
    click(qtbot, reprint.ok)
    assert reprint.form.error_text("supervisor") == "该账号没有此项审批权限"
    reprint.supervisor.user.setText("gl")
    reprint.supervisor.password.setText("123")
    click(qtbot, reprint.ok)
    assert not reprint.isVisible(), reprint.message.text()
    assert page.status.text().startswith("已生成收据 PDF：") and _no_pdf_viewer[-1].exists()

    page.paid.select_order(order_id)  # printed once already: this one is a logged reprint
    again = page.reprint()
    settle()
    assert again is not None
    again.supervisor.user.setText("gl")
    again.supervisor.password.setText("123")
    click(qtbot, again.ok)
    assert not again.isVisible(), again.message.text()
    assert "重印" in _no_pdf_viewer[-1].name
    with demo_clinic.read() as s:
        assert audit.count(s, action="receipt.print") == 1 and audit.count(s, action="receipt.reprint") == 1


def test_business_date_history_and_revenue(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    today = clock.now().date()
    yesterday = today - timedelta(days=1)
    page = page_of(qtbot, demo_clinic, gl)
    click(qtbot, page.date_button)
    change = page.dialog
    assert isinstance(change, BusinessDateDialog)
    change.day.setDate(yesterday)
    settle()
    click(qtbot, change.ok)
    assert change.form.error_text("supervisor") == "请主管输入用户名和密码"
    change.supervisor.user.setText("sy")
    change.supervisor.password.setText("123")
    click(qtbot, change.ok)
    assert change.form.error_text("supervisor") == "该账号没有此项审批权限"
    change.supervisor.user.setText("gl")
    change.supervisor.password.setText("123")
    click(qtbot, change.ok)
    assert not change.isVisible(), change.message.text()
    assert page.status.text() == f"营业日期已改为 {yesterday:%Y-%m-%d}"
    assert page.business_date.text() == f"营业日期：{yesterday:%Y-%m-%d}（不是今天）"

    order_id = paid_order(demo_clinic, gl, "xy", 29800, "h1")  # posted on yesterday
    assert cashier.get_order(demo_clinic, gl, order_id).receipt_no == f"R{yesterday:%Y%m%d}-0001"
    dayclose.close_day(demo_clinic, gl, counted_cash_fen=29800)
    page.refresh()
    settle()
    assert page.business_date.text() == f"营业日期：{today:%Y-%m-%d}　上次日结：{yesterday:%Y-%m-%d}"

    click(qtbot, page.history_button)
    history = page.dialog
    assert isinstance(history, ClosedDaysDialog)
    assert history.table.rowCount() == 1
    assert [history.table.item(0, c).text() for c in (0, 3, 4, 7)] == [f"{yesterday:%Y-%m-%d}", "1", "￥298.00",
                                                                      "￥0.00"]
    history.table.selectRow(0)
    settle()
    assert history.view.header.text() == f"日结报表　{yesterday:%Y-%m-%d}"
    assert history.view.expected.text() == "￥298.00"
    history.reject()

    click(qtbot, page.revenue_button)
    revenue = page.dialog
    assert isinstance(revenue, RevenueDialog)
    revenue.start.setDate(yesterday)
    settle()
    qtbot.waitUntil(lambda: revenue.revenue is not None and revenue.run_button.isEnabled(), timeout=5000)
    click(qtbot, revenue.run_button)
    qtbot.waitUntil(lambda: revenue.revenue is not None and revenue.revenue.start == yesterday, timeout=5000)
    assert revenue.received.text() == "￥298.00"
    assert revenue.by_method.item(0, 0).text() == "现金"


INTERACTIVE = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QAbstractItemView)


def unnamed(root: QWidget) -> list[str]:
    """Interactive widgets without an objectName (a combo's or spin box's own inner parts excepted)."""
    found = []
    for w in root.findChildren(QWidget):
        if not isinstance(w, INTERACTIVE) or w.objectName():
            continue
        parent = w.parentWidget()
        while parent is not None and parent is not root and not isinstance(parent, (*INTERACTIVE, QCalendarWidget)):
            parent = parent.parentWidget()
        if parent is None or parent is root:
            found.append(f"{type(w).__name__} {getattr(w, 'text', lambda: '')()}")
    return found


def test_every_interactive_widget_has_an_object_name(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    unpaid = open_order(demo_clinic, gl, "xy")
    paid = paid_order(demo_clinic, gl, "sgz", 128000, "n1")
    page = page_of(qtbot, demo_clinic, gl)
    assert unnamed(page) == []
    page.unpaid.select_order(unpaid)
    dialogs: list[QWidget | None] = [page.take_payment(), page.new_order()]
    settle()
    choose(qtbot, page, page.paid, paid)
    dialogs += [page.void_order(), page.refund_line(), page.reprice_line(), page.register_invoice(), page.reprint()]
    settle()
    account = page.open_accounts()
    settle()
    assert account is not None
    dialogs += [account, account.top_up("deposit"), account.top_up("inpatient"), account.sell_coupon(),
                account.refund_balance(discharge=False)]
    settle()
    dialogs += [page.close_day(), page.change_business_date(), page.show_closed_days(), page.show_revenue()]
    settle()
    for dialog in dialogs:
        assert dialog is not None
        assert dialog.objectName() and unnamed(dialog) == [], dialog.objectName()
