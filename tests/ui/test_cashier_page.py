"""收费中心: create an order through the dialog, pay it, see it move from 未付款 to 已付款."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from sqlalchemy import func, select

from meike import clock
from meike.db import Clinic
from meike.models import Order, Payment
from meike.permissions import Actor
from meike.services import accounts, customers, ledger
from tests.ui.cashier_support import ready
from tests.ui.waiting import settle
from ui.cashier.new_order import NewOrderDialog
from ui.cashier.page import CashierPage
from ui.cashier.payment import CancelOrderDialog, PaymentDialog

pytestmark = pytest.mark.gui


@pytest.fixture
def sy(demo_clinic: Clinic) -> Actor:
    """The demo cashier: cashier page, no supervisor rights."""
    return accounts.authenticate(demo_clinic, "sy", "123")


def _page(qtbot, clinic: Clinic, actor: Actor) -> CashierPage:  # type: ignore[no-untyped-def]
    widget = CashierPage(clinic, actor)
    qtbot.addWidget(widget)
    widget.resize(1100, 600)
    widget.show()
    ready(qtbot, widget)
    return widget


def _count(clinic: Clinic, model: type) -> int:
    with clinic.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _fill_order(qtbot, dialog: NewOrderDialog, customer: str, item_code: str, price: str | None,  # type: ignore[no-untyped-def]
                quantity: int = 1) -> None:
    dialog.customer_search.setText(customer)  # what typing does (QTest cannot type Hanzi)
    settle()
    qtbot.keyClick(dialog.customer_search, Qt.Key.Key_Return)
    settle()
    assert dialog.customer_id is not None
    qtbot.keyClicks(dialog.item_search, item_code)
    settle()
    qtbot.keyClick(dialog.item_search, Qt.Key.Key_Return)
    settle()
    dialog.quantity.setValue(quantity)
    settle()
    if price is not None:
        dialog.price.setText(price)
        settle()
    qtbot.mouseClick(dialog.add_line_button, Qt.MouseButton.LeftButton)
    settle()


def test_order_created_paid_and_moved_to_paid_tab(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    page = _page(qtbot, demo_clinic, gl)
    assert page.tabs.tabText(0) == "未付款（0）" and page.unpaid.model_.rowCount() == 0
    assert not page.settle_button.isEnabled()
    customer = customers.search_customers(demo_clinic, gl, limit=1)[0]

    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    settle()
    dialog = page.dialog
    assert isinstance(dialog, NewOrderDialog) and dialog.isVisible()
    _fill_order(qtbot, dialog, customer.card_no, "syp", None)
    assert dialog.line_table.item(0, 0).text() == "双眼皮"
    assert dialog.line_table.item(0, 2).text() == "￥8,800.00"  # the list price was filled in
    _fill_order(qtbot, dialog, customer.card_no, "sgz", "1000", quantity=2)
    assert dialog.total_label.text() == "合计：￥10,800.00"
    assert not dialog.supervisor_box.isEnabled()
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not dialog.isVisible()

    assert page.unpaid.model_.rowCount() == 1
    assert page.unpaid.model_.item(0, 0).text() == customer.name
    assert page.unpaid.model_.item(0, 3).text() == "双眼皮、水光针×2"
    assert page.unpaid.model_.item(0, 4).text() == "￥10,800.00"
    assert page.settle_button.isEnabled()

    qtbot.mouseClick(page.settle_button, Qt.MouseButton.LeftButton)
    settle()
    pay = page.dialog
    assert isinstance(pay, PaymentDialog) and pay.isVisible()
    assert pay.amount.text() == "10800.00"
    pay.method.setCurrentIndex(pay.method.findText("微信"))
    qtbot.mouseClick(pay.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not pay.isVisible()
    pay.submit()  # a second click that got through: same key, same receipt, no second payment
    settle()
    assert _count(demo_clinic, Payment) == 1

    receipt = f"R{clock.now():%Y%m%d}-0001"
    assert pay.receipt_no == receipt
    assert page.unpaid.model_.rowCount() == 0
    assert page.tabs.currentWidget() is page.paid
    ready(qtbot, page)
    assert page.tabs.tabText(1) == "已付款（1）"
    assert page.paid.model_.item(0, 0).text() == receipt
    assert page.paid.model_.item(0, 6).text() == "￥10,800.00"
    assert page.status.text() == f"收款成功，收据号 {receipt}"


def test_price_below_minimum_asks_for_a_supervisor_inline(qtbot, demo_clinic: Clinic, sy: Actor) -> None:  # type: ignore[no-untyped-def]
    page = _page(qtbot, demo_clinic, sy)
    customer = customers.search_customers(demo_clinic, sy, limit=1)[0]
    dialog = page.new_order()
    settle()
    _fill_order(qtbot, dialog, customer.card_no, "syp", "5000")
    assert dialog.supervisor_box.isEnabled()

    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.isVisible()
    assert dialog.form.error_text("supervisor") == "单价低于最低价，需要主管输入用户名和密码"
    qtbot.keyClicks(dialog.supervisor_user, "gl")
    settle()
    qtbot.keyClicks(dialog.supervisor_password, "wrong")
    settle()
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.form.error_text("supervisor") == "主管用户名或密码错误"
    dialog.supervisor_user.setText("sy")  # the cashier herself has no approval right
    dialog.supervisor_password.setText("123")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.form.error_text("supervisor") == "该账号没有此项审批权限"
    assert _count(demo_clinic, Order) == 0
    assert len(dialog.lines) == 1 and dialog.customer_id is not None  # nothing typed was lost

    dialog.supervisor_user.setText("gl")
    dialog.supervisor_password.setText("123")
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not dialog.isVisible()
    assert page.unpaid.model_.item(0, 4).text() == "￥5,000.00"


def test_order_needs_customer_and_lines(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    page = _page(qtbot, demo_clinic, gl)
    dialog = page.new_order()
    settle()
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.form.error_text("customer") == "请选择顾客"
    assert dialog.form.error_text("lines") == "请至少添加一个项目"
    qtbot.mouseClick(dialog.add_line_button, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.form.error_text("item") == "请先在列表中选择项目"
    dialog.item_search.setText("水光")  # keyClicks cannot type Hanzi
    settle()
    assert dialog.item_list.count() == 1
    qtbot.keyClick(dialog.item_search, Qt.Key.Key_Return)
    settle()
    dialog.price.setText("12.345")
    settle()
    qtbot.mouseClick(dialog.add_line_button, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.form.error_text("item") == "金额最多保留两位小数"
    assert _count(demo_clinic, Order) == 0


def test_wrong_amount_is_shown_beside_the_field_then_cancel_with_reason(qtbot, demo_clinic: Clinic,  # type: ignore[no-untyped-def]
                                                                        gl: Actor) -> None:
    page = _page(qtbot, demo_clinic, gl)
    customer = customers.search_customers(demo_clinic, gl, limit=1)[0]
    dialog = page.new_order()
    settle()
    _fill_order(qtbot, dialog, customer.name, "xy", None)  # 洗牙 ￥298
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    page.unpaid.selectRow(0)
    settle()

    pay = page.take_payment()
    settle()
    assert pay is not None
    pay.amount.setText("200")
    settle()
    assert pay.left.text() == "未收 ￥98.00"
    qtbot.mouseClick(pay.ok, Qt.MouseButton.LeftButton)
    settle()
    assert pay.isVisible()
    assert pay.rows.error.text() == "收款合计 ￥200.00 少于应收 ￥298.00；如需欠款请勾选“余额记欠款”"
    assert pay.amount.text() == "200"
    pay.reject()
    assert _count(demo_clinic, Payment) == 0

    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    settle()
    cancel = page.dialog
    assert isinstance(cancel, CancelOrderDialog)
    qtbot.mouseClick(cancel.ok, Qt.MouseButton.LeftButton)
    settle()
    assert cancel.form.error_text("reason") == "请填写消单原因"
    cancel.reason.setText("顾客改约下周")
    qtbot.mouseClick(cancel.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not cancel.isVisible()
    ready(qtbot, page)
    assert page.unpaid.model_.rowCount() == 0 and page.paid.model_.rowCount() == 0
    assert page.status.text() == "已消单"


def test_sell_a_course_then_deduct_a_session_on_a_later_order(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    page = _page(qtbot, demo_clinic, gl)
    customer = customers.search_customers(demo_clinic, gl, limit=1)[0]
    dialog = page.new_order()
    settle()
    dialog.customer_search.setText(customer.card_no)
    settle()
    qtbot.keyClick(dialog.customer_search, Qt.Key.Key_Return)
    settle()
    assert not dialog.use_package_button.isEnabled()  # no course held yet
    qtbot.keyClicks(dialog.item_search, "sgz")
    settle()
    qtbot.keyClick(dialog.item_search, Qt.Key.Key_Return)
    settle()
    dialog.sessions.setValue(10)
    settle()
    assert dialog.price.text() == "12800.00"  # ten sessions at the list price
    dialog.price.setText("10000")
    settle()
    qtbot.mouseClick(dialog.add_line_button, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.line_table.item(0, 0).text() == "水光针（疗程 10 次）"
    assert dialog.line_table.item(0, 4).text() == "￥8,800.00"  # the minimum is per session (￥880)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not dialog.isVisible(), dialog.message.text()
    pay = page.take_payment()
    settle()
    assert pay is not None
    qtbot.mouseClick(pay.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not pay.isVisible(), pay.message.text()

    later = page.new_order()
    settle()
    later.customer_search.setText(customer.card_no)
    settle()
    qtbot.keyClick(later.customer_search, Qt.Key.Key_Return)
    settle()
    assert later.package.currentText() == "水光针　剩 10/10 次"
    qtbot.mouseClick(later.use_package_button, Qt.MouseButton.LeftButton)
    settle()
    assert later.line_table.item(0, 0).text() == "水光针（疗程划扣）"
    assert later.total_label.text() == "合计：￥0.00"
    qtbot.mouseClick(later.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not later.isVisible(), later.message.text()
    deduct = page.take_payment()
    settle()
    assert deduct is not None and deduct.findChild(QWidget, "cashier_pay_due").text() == "￥0.00"
    qtbot.mouseClick(deduct.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not deduct.isVisible(), deduct.message.text()
    assert page.status.text().startswith("收款成功，收据号 R")
    [course] = ledger.customer_accounts(demo_clinic, gl, customer.id).packages
    assert (course.sessions, course.remaining) == (10, 9)
