"""A user whose account is disabled or changed while logged in is logged out by the window, with the
reason, at the next action that reaches a service or at the dashboard's periodic count (issue 14/10)."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from meike.db import Clinic
from meike.permissions import Actor, Page, page_code
from meike.services import accounts
from tests.ui.waiting import settle
from ui.cashier.accounts import CustomerAccountDialog
from ui.crash import CrashReporter
from ui.main_window import MainWindow

pytestmark = pytest.mark.gui


class BoxReader:
    """Reads and closes the window's "请重新登录" box as soon as it is up (it is modal)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(self.answer)
        self.timer.start()

    def answer(self) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == "account_changed":
            self.texts.append(box.text())
            box.grab().save("/tmp/account_changed_box.png")
            box.accept()


def window_of(qtbot, clinic: Clinic, actor: Actor) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(clinic, actor)
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.mark.qt_no_exception_capture  # as in the program: what a slot raises goes to the crash reporter
def test_a_disabled_cashier_is_logged_out_at_the_next_action(qtbot, demo_clinic: Clinic, sy: Actor,  # type: ignore[no-untyped-def]
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    reporter = CrashReporter(QApplication.instance())  # type: ignore[arg-type]
    shown: list[str] = []
    reporter.reported.disconnect()
    reporter.reported.connect(shown.append)
    monkeypatch.setattr(sys, "excepthook", reporter.excepthook)
    window = window_of(qtbot, demo_clinic, sy)
    page = window.open_page(Page.CASHIER)
    accounts_dialog = page.open_accounts()  # a dialog of the window is open meanwhile
    assert isinstance(accounts_dialog, CustomerAccountDialog) and accounts_dialog.isVisible()
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    accounts.set_active(demo_clinic, admin, sy.user_id, False)
    reader = BoxReader()
    with qtbot.waitSignal(window.closed, timeout=10_000) as closed:
        qtbot.mouseClick(page.refresh_button, Qt.MouseButton.LeftButton)  # the next action reaches a service
    assert closed.args == [True]  # logged out: the login comes back
    assert shown == []  # no crash dialog for the refusal the page did not catch
    assert reader.texts == ["账号已停用，请联系管理员"]
    assert window.account_notice == "账号已停用，请联系管理员"
    assert not window.isVisible() and not accounts_dialog.isVisible()


def test_the_dashboard_job_logs_out_a_user_whose_page_was_taken_away(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    kf = accounts.authenticate(demo_clinic, "kf", "123")
    window = window_of(qtbot, demo_clinic, kf)
    dashboard = window.pages[Page.DASHBOARD]
    qtbot.waitUntil(lambda: dashboard.last_counts is not None, timeout=10_000)
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    view = accounts.get_account(demo_clinic, admin, kf.user_id)
    accounts.update_account(demo_clinic, admin, kf.user_id, username=view.username, display_name=view.display_name,
                            department_id=view.department_id, staff_id=view.staff_id, data_scope=view.data_scope.value,
                            grants=set(view.grants) - {page_code(Page.PHONE)})
    reader = BoxReader()
    with qtbot.waitSignal(window.closed, timeout=10_000):
        dashboard.counter.refresh_now()  # the periodic count, on the scheduler's thread
    assert reader.texts == ["您的账号权限已变更，请重新登录"]


def test_an_unchanged_account_works_on(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    window = window_of(qtbot, demo_clinic, gl)
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    sy = accounts.authenticate(demo_clinic, "sy", "123")
    accounts.set_active(demo_clinic, admin, sy.user_id, False)  # someone else's account
    page: QWidget = window.open_page(Page.CASHIER)
    settle()  # the page reads its lists and the business day off the GUI thread
    assert page.business_date.text().startswith("营业日期")  # type: ignore[attr-defined]
    assert window.isVisible() and window.account_notice == ""
