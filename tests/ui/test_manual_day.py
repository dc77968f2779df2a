"""The manual's day through the windows (seed 000 §1–7): log in as gl, register, find by pinyin,
right-click 分配到诊, consultation with a reminder, treatment with post-op follow-ups, the dashboard
counts move, pay at the cashier, and the customer is a deal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import QDate, QDateTime, Qt
from PySide6.QtWidgets import QApplication

from meike import clock
from meike.db import Clinic
from meike.permissions import Page
from tests.ui.waiting import settle
from ui.cashier.page import CashierPage
from ui.dialogs.login import LoginDialog
from ui.front_desk.customers import CustomersPage
from ui.front_desk.dashboard import DashboardPage
from ui.front_desk.detail import CustomerDetailDialog
from ui.front_desk.registration import RegistrationPage
from ui.front_desk.triage import TriageDialog
from ui.main_window import MainWindow

pytestmark = pytest.mark.gui


def click(qtbot, widget) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
    settle()  # the action it started has answered


def card(dashboard: DashboardPage, key: str) -> str:
    return dashboard.cards[key].value.text()


def test_the_manual_day_through_the_windows(qtbot, demo_clinic: Clinic, _no_pdf_viewer: list) -> None:  # type: ignore[no-untyped-def,type-arg]
    # 1. 登录 as the manual's ordinary account.
    login = LoginDialog(demo_clinic, "示范")
    settle()
    qtbot.addWidget(login)
    login.user.setText("gl")
    settle()
    qtbot.keyClicks(login.password, "123")
    settle()
    click(qtbot, login.submit)
    qtbot.waitUntil(lambda: login.actor is not None, timeout=10_000)  # the password is checked off the GUI thread
    assert login.actor is not None
    window = MainWindow(demo_clinic, login.actor)
    qtbot.addWidget(window)
    window.show()
    dashboard = window.pages[Page.DASHBOARD]
    assert isinstance(dashboard, DashboardPage)
    qtbot.waitUntil(lambda: card(dashboard, "chase_due").isdigit(), timeout=5000)
    chase_before = int(card(dashboard, "chase_due"))
    postop_before = int(card(dashboard, "postop_due"))
    unpaid_before = int(card(dashboard, "unpaid_charges"))

    # 2. 挂号: a new customer with an appointment in an hour.
    click(qtbot, window.nav_buttons[Page.REGISTRATION])
    reg = window.pages[Page.REGISTRATION]
    assert isinstance(reg, RegistrationPage)
    reg.name.setText("柳如烟")
    settle()
    qtbot.keyClicks(reg.mobile, "13766668888")
    settle()
    reg.channel.setCurrentIndex(reg.channel.findText("小红书"))
    settle()
    reg.appointment_at.setDateTime(QDateTime(clock.now() + timedelta(hours=1)))
    reg.appointment_items.setText("双眼皮")
    settle()
    click(qtbot, reg.submit_button)
    assert reg.status.text() == "挂号成功：柳如烟（已预约）"

    # 3. 分诊: 顾客管理 → 已预约, find by pinyin initials, right-click → 分配到诊.
    click(qtbot, window.nav_buttons[Page.CUSTOMERS])
    grid = window.pages[Page.CUSTOMERS]
    assert isinstance(grid, CustomersPage)
    grid.set_tab("booked")
    qtbot.keyClicks(grid.search, "lry")
    settle()
    grid.run_query()
    settle()
    row = grid.row_of("柳如烟")
    menu = grid.build_menu(row)
    assert [a.objectName() for a in menu.actions() if not a.isSeparator()] == [
        "customer_assign", "customer_open", "customer_add_reminder", "customer_send_sms"]
    grid.act_assign.trigger()
    settle()
    triage_dialog = grid.dialog
    assert isinstance(triage_dialog, TriageDialog)
    assert triage_dialog.visit_type.currentText() == "初诊"  # never bought: first visit
    triage_dialog.consultant.setCurrentIndex(triage_dialog.consultant.findText("王芳"))
    settle()
    assert triage_dialog.print_label.isChecked()  # seed 002: 确认完到店，需要打印条形码
    click(qtbot, triage_dialog.ok)
    assert grid.tab == "arrived"  # as in the manual: the customer moves under 到诊
    # No printer on this PC: the label is a PDF that opens (the barcode is the customer's card number).
    qtbot.waitUntil(lambda: grid.notice.text().startswith("本机没有设置打印机，已生成条码 PDF"), timeout=5000)
    assert len(_no_pdf_viewer) == 1 and _no_pdf_viewer[0].suffix == ".pdf"
    row = grid.row_of("柳如烟")
    assert grid.model.rows[row].consultant == "王芳" and grid.model.rows[row].visit_type == "初诊"

    # 4. 现场咨询: double-click → detail; consultation with a reminder due today.
    grid.open_customer_at(row)
    settle()
    detail = grid.dialog
    assert isinstance(detail, CustomerDetailDialog)
    consultation = detail.add_consultation()
    settle()
    consultation.items.setText("双眼皮")
    settle()
    consultation.content.setPlainText("想做全切双眼皮，担心恢复期，考虑本周内决定")
    consultation.remind.setChecked(True)
    settle()
    consultation.remind_date.setDate(QDate(clock.now().date()))
    settle()
    click(qtbot, consultation.ok)
    assert not consultation.isVisible()

    # 手术记录: 双眼皮 by its pinyin code, the doctor, post-op follow-ups 2/7/15.
    treatment = detail.add_treatment()
    settle()
    treatment.item.setEditText("syp")
    treatment.resolve_item()
    assert treatment.price.text() in ("8800.00", "8800")
    treatment.doctor.setCurrentIndex(treatment.doctor.findText("吴建国"))
    settle()
    assert treatment.followup.isChecked()
    click(qtbot, treatment.ok)
    assert not treatment.isVisible(), treatment.message.text()
    assert detail.treatments_table.rowCount() == 1

    # 5. The dashboard counts move (computed by the scheduler off the GUI thread).
    click(qtbot, window.nav_buttons[Page.DASHBOARD])
    dashboard.refresh()
    settle()
    qtbot.waitUntil(lambda: card(dashboard, "chase_due") == str(chase_before + 1), timeout=5000)
    qtbot.waitUntil(lambda: card(dashboard, "unpaid_charges") == str(unpaid_before + 1), timeout=5000)
    assert card(dashboard, "postop_due") == str(postop_before)  # day 2 is not due yet

    # 6. 收费中心: the treatment's charge is unpaid; pay it by WeChat.
    click(qtbot, window.nav_buttons[Page.CASHIER])
    desk = window.pages[Page.CASHIER]
    assert isinstance(desk, CashierPage)
    order = next(r for r in desk.unpaid.rows if r.customer_name == "柳如烟")
    assert order.total_fen == 880000
    desk.unpaid.selectRow(desk.unpaid.row_of(order.id))
    settle()
    payment = desk.take_payment()
    settle()
    assert payment is not None
    payment.method.setCurrentIndex(payment.method.findText("微信"))
    payment.submit()
    settle()
    assert desk.status.text().startswith("收款成功，收据号 R")
    assert any(r.id == order.id for r in desk.paid.rows)

    # 7. The customer is now a deal 成交 and a new customer 新客户.
    click(qtbot, window.nav_buttons[Page.CUSTOMERS])
    grid.set_tab("deal")
    grid.search.setText("lry")
    settle()
    grid.run_query()
    settle()
    rows = [r for r in grid.model.rows if r.name == "柳如烟"]
    assert len(rows) == 1 and rows[0].visit_status == "成交" and rows[0].customer_class == "新客户"
    QApplication.processEvents()
