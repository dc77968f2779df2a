"""顾客账户 from the cashier page: deposit, prepaid, coupons, inpatient deposit, paying with them, refunds from a
balance with a supervisor, discharge refund and course refund with its quote."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.services import cashier, customers, ledger
from meike.services.cashier import LineSpec
from meike.services.ledger import Tender
from tests.ui.cashier_support import click, methods, page_of, ready
from tests.ui.waiting import settle
from ui.cashier.accounts import (
    BalanceRefundDialog,
    CouponSaleDialog,
    CustomerAccountDialog,
    PackageRefundDialog,
    TopUpDialog,
)
from ui.cashier.order_table import OrderTable
from ui.cashier.page import CashierPage
from ui.cashier.payment import PaymentDialog

pytestmark = pytest.mark.gui


def first_customer(clinic: Clinic, actor: Actor) -> customers.CustomerRow:
    return customers.search_customers(clinic, actor, limit=1)[0]


def open_order(clinic: Clinic, actor: Actor, customer_id: int, code: str, **line: int) -> int:
    item = cashier.find_items(clinic, actor, code)[0].id
    return cashier.open_order(clinic, actor, customer_id=customer_id, lines=[LineSpec(item, **line)])


def choose(qtbot, page: CashierPage, table: OrderTable, order_id: int) -> None:  # type: ignore[no-untyped-def]
    """Show the tab (a history tab loads when shown) and select the order."""
    page.tabs.setCurrentWidget(table)
    ready(qtbot, page)
    table.select_order(order_id)


def account_dialog(qtbot, page: CashierPage, order_id: int) -> CustomerAccountDialog:  # type: ignore[no-untyped-def]
    page.tabs.setCurrentWidget(page.unpaid)
    page.unpaid.select_order(order_id)
    click(qtbot, page.account_button)
    dialog = page.dialog
    assert isinstance(dialog, CustomerAccountDialog) and dialog.isVisible()
    return dialog


def supervise(dialog: QWidget, user: str, password: str) -> None:
    supervisor = dialog.supervisor  # type: ignore[attr-defined]
    supervisor.user.setText(user)
    supervisor.password.setText(password)


def test_top_ups_and_coupons_then_paying_with_them(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    customer = first_customer(demo_clinic, gl)
    order_id = open_order(demo_clinic, gl, customer.id, "syp")  # 双眼皮 ￥8,800
    page = page_of(qtbot, demo_clinic, gl)
    acc = account_dialog(qtbot, page, order_id)
    assert acc.customer.text() == f"{customer.name}（卡号 {customer.card_no}）"
    assert acc.balance_labels["prepaid"].text() == "￥0.00"
    assert not acc.buttons["refund"].isEnabled() and not acc.buttons["package_refund"].isEnabled()

    # 交定金 with the referring staff: the department follows the staff member.
    click(qtbot, acc.buttons["deposit"])
    deposit = acc.dialog
    assert isinstance(deposit, TopUpDialog) and deposit.windowTitle() == "交定金"
    assert deposit.staff is not None and deposit.department is not None
    deposit.staff.setCurrentIndex(deposit.staff.findText("李静"))
    settle()
    assert deposit.department.currentText() != "（无）"
    deposit.findChild(QWidget, "cashier_deposit_pay_amount_0").setText("500")
    settle()
    click(qtbot, deposit.ok)
    assert not deposit.isVisible(), deposit.message.text()
    assert acc.status.text().startswith("交定金成功，收据号 R")
    assert acc.balance_labels["deposit"].text() == "￥500.00"

    # 预存 by WeChat; an account method is not offered for money coming in.
    click(qtbot, acc.buttons["prepaid"])
    prepaid = acc.dialog
    assert isinstance(prepaid, TopUpDialog)
    method = prepaid.findChild(QWidget, "cashier_prepaid_pay_method_0")
    assert method.findText("预存余额") == -1 and method.findText("代金券") == -1
    method.setCurrentIndex(method.findText("微信"))
    settle()
    prepaid.findChild(QWidget, "cashier_prepaid_pay_amount_0").setText("1000.00")
    settle()
    click(qtbot, prepaid.ok)
    assert acc.balance_labels["prepaid"].text() == "￥1,000.00"

    # 购券: a free coupon.
    click(qtbot, acc.buttons["coupon"])
    coupon = acc.dialog
    assert isinstance(coupon, CouponSaleDialog)
    click(qtbot, coupon.ok)
    assert coupon.form.error_text("name") == "请填写券名称"
    assert coupon.form.error_text("face_value") == "请输入金额"
    coupon.name.setText("水光针体验券")
    settle()
    coupon.face_value.setText("300")
    settle()
    click(qtbot, coupon.free)
    click(qtbot, coupon.ok)  # given away: a supervisor confirms (issue 14/11)
    assert coupon.form.error_text("supervisor") == "请主管输入用户名和密码"
    supervise(coupon, "gl", "123")
    click(qtbot, coupon.ok)
    assert not coupon.isVisible(), coupon.message.text()
    assert acc.coupons.rowCount() == 1 and acc.coupons.item(0, 0).text() == "水光针体验券"
    assert acc.coupons.item(0, 2).text() == "￥300.00"

    # 住院押金 needs the inpatient number, shown beside the field.
    click(qtbot, acc.buttons["inpatient"])
    inpatient = acc.dialog
    assert isinstance(inpatient, TopUpDialog)
    inpatient.findChild(QWidget, "cashier_inpatient_pay_amount_0").setText("2000")
    settle()
    click(qtbot, inpatient.ok)
    assert inpatient.form.error_text("inpatient_no") == "请填写住院编号"
    inpatient.inpatient_no.setText("ZY2026-018")
    settle()
    click(qtbot, inpatient.ok)
    assert not inpatient.isVisible()
    assert acc.balance_labels["inpatient"].text() == "￥2,000.00"
    assert acc.inpatient_no.text() == "住院号 ZY2026-018"
    acc.reject()

    # Pay the order: 预存 too much is refused under the rows; then 预存 + 券 + cash.
    page.unpaid.select_order(order_id)
    pay = page.take_payment()
    settle()
    assert isinstance(pay, PaymentDialog)
    assert pay.balances.text().startswith("预存 ￥1,000.00　定金 ￥500.00　券 ￥300.00（1 张）　住院押金 ￥2,000.00")
    m = methods(demo_clinic, gl)
    pay.method.setCurrentIndex(pay.method.findData(m["预存余额"]))
    pay.amount.setText("2000")
    settle()
    click(qtbot, pay.findChild(QWidget, "cashier_pay_add"))
    coupon_row = pay.row(1)
    coupon_row.method.setCurrentIndex(coupon_row.method.findText("代金券"))
    assert coupon_row.coupon.isVisible() and coupon_row.coupon.currentText().startswith("水光针体验券　余 ￥300.00")
    assert coupon_row.amount.text() == "300.00"
    click(qtbot, pay.findChild(QWidget, "cashier_pay_add"))
    cash_row = pay.row(2)
    cash_row.method.setCurrentIndex(cash_row.method.findText("现金"))
    cash_row.amount.setText("6500")
    settle()
    click(qtbot, pay.ok)
    assert pay.rows.error.text() == "预存余额不足：可用 ￥1,000.00，需要 ￥2,000.00"
    pay.amount.setText("1000")
    settle()
    cash_row.amount.setText("7500")
    settle()
    click(qtbot, pay.ok)
    assert not pay.isVisible(), pay.message.text()
    held = ledger.customer_accounts(demo_clinic, gl, customer.id)
    assert held.balances["prepaid"] == 0 and held.balances["coupon"] == 0
    assert held.coupons[0].remaining_fen == 0


def test_balance_refunds_need_a_supervisor(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    customer = first_customer(demo_clinic, gl)
    m = methods(demo_clinic, gl)
    ledger.top_up(demo_clinic, gl, customer.id, account="prepaid", tenders=[Tender(m["现金"], 80000)],
                  idempotency_key="p1")
    settle()
    ledger.top_up(demo_clinic, gl, customer.id, account="inpatient", tenders=[Tender(m["银行卡"], 300000)],
                  idempotency_key="p2", inpatient_no="ZY-7")
    settle()
    order_id = open_order(demo_clinic, gl, customer.id, "xy")
    page = page_of(qtbot, demo_clinic, gl)
    acc = account_dialog(qtbot, page, order_id)

    click(qtbot, acc.buttons["refund"])
    refund = acc.dialog
    assert isinstance(refund, BalanceRefundDialog)
    assert refund.account.currentText() == "预存　余额 ￥800.00"
    assert refund.amount.text() == "800.00"
    refund.amount.setText("900")
    settle()
    refund.reason.setText("顾客搬家")
    supervise(refund, "gl", "123")
    click(qtbot, refund.ok)
    assert refund.form.error_text("amount") == "预存余额只有 ￥800.00，不能退 ￥900.00"
    refund.amount.setText("300")
    settle()
    supervise(refund, "sy", "123")
    click(qtbot, refund.ok)
    assert refund.form.error_text("supervisor") == "该账号没有此项审批权限"
    supervise(refund, "gl", "123")
    click(qtbot, refund.ok)
    assert not refund.isVisible(), refund.message.text()
    assert acc.status.text().startswith("退款成功，收据号 R")
    assert acc.balance_labels["prepaid"].text() == "￥500.00"

    click(qtbot, acc.buttons["discharge"])
    discharge = acc.dialog
    assert isinstance(discharge, BalanceRefundDialog) and discharge.windowTitle() == "出院退款"
    assert discharge.account.currentText() == "住院押金（ZY-7）　余额 ￥3,000.00"
    discharge.amount.setText("1200")
    settle()
    discharge.reason.setText("出院结算")
    supervise(discharge, "gl", "123")
    click(qtbot, discharge.ok)
    assert not discharge.isVisible(), discharge.message.text()
    assert acc.balance_labels["inpatient"].text() == "￥1,800.00"
    assert ledger.customer_accounts(demo_clinic, gl, customer.id).balances["inpatient"] == 180000

    click(qtbot, acc.print_button)
    assert acc.status.text().startswith("已生成收据 PDF：")


def test_course_refund_shows_the_quote_and_pays_into_prepaid(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    customer = first_customer(demo_clinic, gl)
    m = methods(demo_clinic, gl)
    course = open_order(demo_clinic, gl, customer.id, "sgz", unit_price_fen=1000000, package_sessions=10)
    cashier.pay(demo_clinic, gl, course, [Tender(m["微信"], 1000000)], idempotency_key="c1")
    page = page_of(qtbot, demo_clinic, gl)
    page.search.setText(customer.card_no)
    settle()
    page.refresh()
    settle()
    ready(qtbot, page)
    choose(qtbot, page, page.paid, course)
    acc = page.open_accounts()
    settle()
    assert acc is not None
    assert acc.packages.rowCount() == 1
    assert [acc.packages.item(0, c).text() for c in range(4)] == ["水光针", "10", "10", "￥10,000.00"]
    acc.packages.selectRow(0)
    settle()
    click(qtbot, acc.buttons["package_refund"])
    refund = acc.dialog
    assert isinstance(refund, PackageRefundDialog)
    assert refund.sessions.value() == 10 and refund.quote.text() == "￥10,000.00"
    refund.sessions.setValue(4)
    settle()
    assert refund.quote.text() == "￥4,000.00"
    refund.method.setCurrentIndex(refund.method.findText("退入预存"))
    refund.reason.setText("顾客不再做了")
    click(qtbot, refund.ok)
    assert refund.form.error_text("supervisor") == "请主管输入用户名和密码"
    supervise(refund, "gl", "123")
    click(qtbot, refund.ok)
    assert not refund.isVisible(), refund.message.text()
    assert acc.packages.item(0, 2).text() == "6"
    assert acc.balance_labels["prepaid"].text() == "￥4,000.00"


def test_a_customer_can_be_picked_by_search(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    customer = first_customer(demo_clinic, gl)
    page = page_of(qtbot, demo_clinic, gl)
    acc = page.open_accounts()  # no order selected
    settle()
    assert acc is not None and acc.customer.text() == "未选择顾客"
    assert not any(b.isEnabled() for b in acc.buttons.values())
    acc.search.setText(customer.card_no)
    settle()
    assert acc.results.count() == 1
    qtbot.keyClick(acc.search, Qt.Key.Key_Return)
    settle()
    assert acc.customer_id == customer.id
    assert acc.buttons["prepaid"].isEnabled()


def test_a_sold_coupon_is_paid_at_most_its_face_value(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    customer = first_customer(demo_clinic, gl)
    page = page_of(qtbot, demo_clinic, gl)
    acc = page.open_accounts()
    settle()
    assert acc is not None
    acc.set_customer(customer.id)
    settle()
    coupon = acc.sell_coupon()
    settle()
    assert isinstance(coupon, CouponSaleDialog)
    coupon.name.setText("周年庆代金券")
    settle()
    coupon.face_value.setText("500")
    settle()
    amount = coupon.findChild(QWidget, "cashier_coupon_pay_amount_0")
    assert amount.text() == "500"  # the price follows the face value until typed
    amount.setText("600")
    settle()
    click(qtbot, coupon.ok)
    assert coupon.findChild(QWidget, "cashier_coupon_pay_error").text() == "售价不能高于券面值"
    amount.setText("400")
    settle()
    click(qtbot, coupon.ok)  # ￥100 of it given away: a supervisor confirms
    assert coupon.form.error_text("supervisor") == "请主管输入用户名和密码"
    supervise(coupon, "sy", "123")
    click(qtbot, coupon.ok)
    assert coupon.form.error_text("supervisor") == "该账号没有此项审批权限"
    supervise(coupon, "gl", "123")
    click(qtbot, coupon.ok)
    assert not coupon.isVisible(), coupon.message.text()
    held = ledger.customer_accounts(demo_clinic, gl, customer.id)
    assert [(c.name, c.face_value_fen, c.remaining_fen) for c in held.coupons] == [("周年庆代金券", 50000, 50000)]
    assert acc.balance_labels["coupon"].text() == "￥500.00"
